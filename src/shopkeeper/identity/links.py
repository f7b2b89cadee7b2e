"""Candidate links between identifiers, each with its rule and evidence.

Every link says: these two identifiers are one person, because of *this* row
(``evidence_table``, ``evidence_id``) under *this* rule, seen at *this* time.
Links are only candidates; ``guards`` decides which the graph keeps.

Rules, in priority order (``RULES``; a lower index wins when a per-customer
limit forces a choice):

1. ``identify``: an identify call with both ``userId`` and ``anonymousId``,
   i.e. a login on a device;
2. ``alias``: ``previousId`` -> ``userId``. The previous id is read as
   ``user:`` if that value was ever sent as a ``userId`` in any event, else as
   ``anon:`` (Segment sends an anonymous id there unless the app aliased two
   accounts);
3. ``customer_record``: an imported customers row joins its ``customer_ref``
   to its e-mail and phone hashes and its loyalty card;
4. ``external_id``: ``context.externalIds`` ``[{id, type}]`` on any event
   (type email/phone hashed, loyalty/loyalty_card/loyaltyId -> ``loyalty:``,
   user_id -> ``user:``, anonymous_id -> ``anon:``, any other -> ``type:id``);
5. ``loyalty``: ``loyaltyId`` / ``loyalty_card`` in the event's traits;
6. ``email`` and 7. ``phone``: traits ``email`` / ``phone`` (from ``traits``
   or ``context.traits``), normalised and hashed in the engine, never stored;
8. ``co_occurrence``: any other event carrying a user id and an anonymous id;
9. ``household``: a customers row's ``household_ref``. Last on purpose: a
   household of two account holders is two customers (one ``user:`` id each),
   so when its link would join two people it is the link refused, and each
   keeps their own e-mail and card; the household goes to the one linked first.
10. ``probabilistic``: a Splink match between two customers records that share
   no identifier, only when switched on (``matching.py``); the weakest rule.

Event traits link to the event's subject: its ``user:`` id, or its ``anon:`` id
when the user id is missing or blocked. The ``orders`` table carries a single
identifier per basket, so it contributes identifiers, not links.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from shopkeeper.identity.normalize import (
    blocked_reason,
    email_identifier,
    json_text,
    phone_identifier,
    typed,
)
from shopkeeper.warehouse import Warehouse

__all__ = ["EVENTS_TMP", "RULES", "candidate_links", "event_sightings", "parse_events"]

RULES = (
    "identify",
    "alias",
    "customer_record",
    "external_id",
    "loyalty",
    "email",
    "phone",
    "co_occurrence",
    "household",
    "probabilistic",
)
"""Link rules, strongest first; the index is the rule's priority."""

EVENTS_TMP = "_tmp_identity_events"


def _priority(rule: ir.StringValue) -> ir.IntegerValue:
    return ibis.cases(*((rule == r, i) for i, r in enumerate(RULES)), else_=99)


def parse_events(wh: Warehouse) -> ir.Table | None:
    """One row per event with its typed ids and the raw values links need.

    Materialised once (JSON is parsed a single time) as ``EVENTS_TMP``.
    Returns None when the warehouse holds no events table.
    """
    if not wh.exists("events"):
        return None
    e = wh.table("events")
    user = typed("user", e.user_id)
    anon = typed("anon", e.anonymous_id)
    good_user = user.notnull() & blocked_reason(user).isnull()
    users = e.filter(e.user_id.notnull()).select(seen_user=e.user_id).distinct()
    e = e.left_join(users, e.previous_id == users.seen_user)

    def trait(*keys: str) -> ir.StringValue:
        found = [json_text(e.traits, k) for k in keys]
        found += [json_text(e.context, "traits", k) for k in keys]
        return ibis.coalesce(*found)

    prev_type = e.seen_user.isnull().ifelse("anon", "user")
    parsed = e.select(
        evidence_id=e.message_id,
        type=e.type,
        seen_at=e.timestamp.cast("timestamp"),
        user=user,
        anon=anon,
        subject=good_user.ifelse(user, anon),
        previous=e.previous_id.isnull().ifelse(
            ibis.null("string"), prev_type + ":" + e.previous_id
        ),
        email=email_identifier(trait("email")),
        phone=phone_identifier(trait("phone")),
        loyalty=typed("loyalty", trait("loyaltyId", "loyalty_card", "loyaltyCard")),
        external_ids=json_text(e.context, "externalIds"),
    )
    return wh.checkpoint(parsed, EVENTS_TMP)


def _external_ids(p: ir.Table) -> ir.Table:
    """``context.externalIds`` as (subject, identifier) rows.

    The array arrives as JSON text; it is split into its objects with regular
    expressions because engines disagree on JSON arrays (Spark's Ibis backend
    cannot unnest them), while ``re_split``/``re_extract`` mean the same on all.
    """
    rows = p.filter(p.external_ids.notnull() & p.subject.notnull())
    body = rows.external_ids.re_replace(r"^\s*\[|\]\s*$", "")
    pieces = rows.select(
        "subject", "evidence_id", "seen_at", piece=body.re_split(r"\}\s*,\s*\{")
    ).unnest("piece")
    raw_id = pieces.piece.re_extract(r'"id"\s*:\s*"?([^",}]*)', 1).strip()
    kind = pieces.piece.re_extract(r'"type"\s*:\s*"([^"]*)"', 1).strip().lower()
    kind = kind.re_replace(r"[^a-z0-9_]", "_")
    identifier = ibis.cases(
        (raw_id == "", ibis.null("string")),
        (kind == "email", email_identifier(raw_id)),
        (kind == "phone", phone_identifier(raw_id)),
        (kind.isin(("loyalty", "loyalty_card", "loyaltyid")), "loyalty:" + raw_id),
        (kind.isin(("user_id", "userid")), "user:" + raw_id),
        (kind.isin(("anonymous_id", "anonymousid")), "anon:" + raw_id),
        (kind == "", ibis.null("string")),
        else_=kind + ":" + raw_id,
    )
    return pieces.select(
        a=pieces.subject,
        b=identifier,
        rule=ibis.literal("external_id"),
        evidence_id=pieces.evidence_id,
        seen_at=pieces.seen_at,
    )


def _event_links(p: ir.Table) -> list[ir.Table]:
    both = p.user.notnull() & p.anon.notnull()
    out = []

    def add(rows: ir.Table, a: ir.Value, b: ir.Value, rule: str) -> None:
        out.append(
            rows.select(
                a=a,
                b=b,
                rule=ibis.literal(rule),
                evidence_id=rows.evidence_id,
                seen_at=rows.seen_at,
            )
        )

    ident = p.filter(both & (p.type == "identify"))
    add(ident, ident.user, ident.anon, "identify")
    alias = p.filter((p.type == "alias") & p.user.notnull() & p.previous.notnull())
    add(alias, alias.user, alias.previous, "alias")
    other = p.filter(both & ~p.type.isin(("identify", "alias")))
    add(other, other.user, other.anon, "co_occurrence")
    for rule in ("loyalty", "email", "phone"):  # the column is named as the rule
        rows = p.filter(p[rule].notnull() & p.subject.notnull())
        add(rows, rows.subject, rows[rule], rule)
    out.append(_external_ids(p))
    return [t.mutate(evidence_table=ibis.literal("events")) for t in out]


def _customer_links(wh: Warehouse) -> list[ir.Table]:
    if not wh.exists("customers"):
        return []
    c = wh.table("customers")
    targets = (
        (typed("email", c.email_sha256), "customer_record"),
        (typed("phone", c.phone_sha256), "customer_record"),
        (typed("loyalty", c.loyalty_card), "customer_record"),
        (c.household_ref, "household"),
    )
    return [
        c.select(
            a=c.customer_ref,
            b=b,
            rule=ibis.literal(rule),
            evidence_id=c.customer_ref,
            seen_at=c.signed_up_at.cast("timestamp"),
            evidence_table=ibis.literal("customers"),
        )
        for b, rule in targets
    ]


def candidate_links(
    wh: Warehouse, parsed: ir.Table | None, extra: ir.Table | None = None
) -> ir.Table | None:
    """Every candidate link with its evidence and rule priority, deduplicated.

    Columns: ``identifier_a``, ``identifier_b``, ``rule``, ``priority``,
    ``evidence_table``, ``evidence_id``, ``seen_at``, and the pair in a fixed
    order (``lo`` < ``hi``) so that a->b and b->a are one pair, and
    ``probability`` (null but for ``extra``'s probabilistic links). Self
    links are dropped; None when there is no evidence at all.
    """
    parts = (_event_links(parsed) if parsed is not None else []) + _customer_links(wh)
    parts = [t.mutate(probability=ibis.null("float64")) for t in parts]
    if extra is not None:
        parts.append(extra)
    if not parts:
        return None
    cols = ("a", "b", "rule", "evidence_table", "evidence_id", "seen_at", "probability")
    links = ibis.union(*(t.select(*cols) for t in parts), distinct=True)
    links = links.filter(links.a.notnull() & links.b.notnull() & (links.a != links.b))
    # One row per key of identity_links: the earliest sighting of that evidence.
    per_key = links.group_by(
        identifier_a=links.a,
        identifier_b=links.b,
        rule=links.rule,
        evidence_table=links.evidence_table,
        evidence_id=links.evidence_id,
    ).agg(seen_at=links.seen_at.min(), probability=links.probability.max())
    return per_key.mutate(
        priority=_priority(per_key.rule),
        lo=ibis.least(per_key.identifier_a, per_key.identifier_b),
        hi=ibis.greatest(per_key.identifier_a, per_key.identifier_b),
    )


def event_sightings(parsed: ir.Table | None) -> ir.Table | None:
    """(identifier, seen_at, seen_in) for the user and anonymous id of each event."""
    if parsed is None:
        return None
    parts = [
        parsed.select(identifier=parsed[c], seen_at=parsed.seen_at)
        for c in ("user", "anon")
    ]
    both = parts[0].union(parts[1])
    return both.filter(both.identifier.notnull()).mutate(seen_in=ibis.literal("events"))
