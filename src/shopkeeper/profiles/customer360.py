"""The customer 360 view: one person, every channel, in one place.

Any identifier a caller holds (an anonymous id from the app, a user id, a raw
or hashed e-mail, a loyalty card, a household, a customer id) resolves through
``identity_map`` to the customer, and from there to everything held about
them. The timeline merges web and app events, store orders with their lines,
campaign contacts, coupon redemptions, decisions shown and consent changes
into one time-ordered list, paged with an opaque cursor so a long history
reads in pages without re-sorting it client-side.

Each part reads only the tables that exist, so the view works as soon as
anything is loaded and grows as later stages build their tables.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import BadRequest, NotFound
from shopkeeper.identity.normalize import hash_email, hash_phone
from shopkeeper.profiles.highlights import highlights
from shopkeeper.warehouse import Warehouse

__all__ = [
    "Customer",
    "candidates",
    "current_consents",
    "customer_view",
    "resolve",
    "timeline",
]

_TYPES = ("user", "anon", "email", "phone", "loyalty", "device", "household")


@dataclass(frozen=True)
class Customer:
    """A resolved customer: who, in which household, known by which identifiers."""

    customer_id: str
    household_id: str | None
    identifiers: list[str]

    def of_type(self, kind: str) -> list[str]:
        prefix = f"{kind}:"
        return [
            i.removeprefix(prefix) for i in self.identifiers if i.startswith(prefix)
        ]


def candidates(text: str) -> list[str]:
    """The typed identifiers a caller may mean by ``text``, most specific first."""
    text = text.strip()
    if not text:
        raise BadRequest("an identifier is required")
    kind, sep, rest = text.partition(":")
    if sep and kind == "email" and "@" in rest:
        return [f"email:{hash_email(rest)}"]
    if sep and kind == "phone" and not rest.isalnum():
        return [f"phone:{hash_phone(rest)}"]
    if sep and kind in _TYPES:
        return [text]
    if "@" in text:
        return [f"email:{hash_email(text)}"]
    return [
        text,
        f"user:{text}",
        f"anon:{text}",
        f"loyalty:{text}",
        f"household:{text}",
    ]


def resolve(wh: Warehouse, identifier: str) -> Customer:
    """The customer behind any identifier, or 404 saying what was tried."""
    if not wh.exists("identity_map"):
        raise NotFound(
            "no identity map yet", hint="run `shopkeeper build identity` first"
        )
    idmap = wh.table("identity_map")
    tried = candidates(identifier)
    found = wh.to_arrow(
        idmap.filter(idmap.identifier.isin(tried) | idmap.customer_id.isin(tried))
        .select("customer_id")
        .distinct()
    ).column("customer_id")
    ids = [c for c in found.to_pylist() if c]
    if not ids:
        raise NotFound(
            f"no customer is known by {identifier!r}",
            hint="identifiers are typed, e.g. household:1609, user:42, anon:...",
        )
    customer_id = sorted(ids)[0]
    rows = wh.to_arrow(
        idmap.filter(idmap.customer_id == customer_id).order_by("identifier")
    ).to_pylist()
    households = sorted({r["household_id"] for r in rows if r["household_id"]})
    return Customer(
        customer_id,
        households[0] if households else None,
        [r["identifier"] for r in rows],
    )


def _rows(wh: Warehouse, expr: ir.Table) -> list[dict[str, Any]]:
    return wh.to_arrow(expr).to_pylist()


def _events(wh: Warehouse, who: Customer) -> ir.Table | None:
    if not wh.exists("events"):
        return None
    t = wh.table("events")
    users, anons = who.of_type("user"), who.of_type("anon")
    if not users and not anons:
        return None
    return t.filter(t.user_id.isin(users or [""]) | t.anonymous_id.isin(anons or [""]))


def _traits(wh: Warehouse, who: Customer) -> dict[str, Any]:
    """Latest value of each trait: identify calls in time order, then imports."""
    traits: dict[str, Any] = {}
    events = _events(wh, who)
    if events is not None:
        identifies = events.filter(
            (events.type == "identify") & events.traits.notnull()
        ).order_by("timestamp")
        for row in _rows(wh, identifies.select("traits")):
            traits.update(json.loads(row["traits"]))
    if wh.exists("customers"):
        t = wh.table("customers")
        for row in _rows(wh, t.filter(t.customer_ref.isin(who.identifiers))):
            for key in ("first_name", "postal_code", "birth_year", "loyalty_card"):
                if row.get(key) is not None:
                    traits.setdefault(key, row[key])
    if who.household_id and wh.exists("households"):
        t = wh.table("households")
        for row in _rows(wh, t.filter(t.household_id == who.household_id)):
            traits["household"] = {
                k: v for k, v in row.items() if k != "household_id" and v is not None
            }
    # Raw e-mail and phone are never returned: the identity holds their hashes.
    traits.pop("email", None)
    traits.pop("phone", None)
    return traits


def current_consents(wh: Warehouse, who: Customer) -> list[dict[str, Any]]:
    """The latest ledger row per purpose across the customer's identifiers."""
    if not wh.exists("consents"):
        return []
    t = wh.table("consents").filter(ibis._.subject.isin(who.identifiers))
    latest = t.mutate(
        _n=ibis.row_number().over(
            group_by="purpose",
            order_by=[ibis.desc("recorded_at"), ibis.desc("consent_id")],
        )
    ).filter(ibis._._n == 0)
    return _rows(
        wh,
        latest.select("purpose", "status", "source", "recorded_at").order_by("purpose"),
    )


def _by_customer(
    wh: Warehouse, table: str, who: Customer, order: str
) -> list[dict[str, Any]]:
    if not wh.exists(table):
        return []
    t = wh.table(table)
    mine = t.filter(t.customer_id == who.customer_id)
    if order in t.columns:
        mine = mine.order_by(order)
    return _rows(wh, mine.drop("customer_id"))


def _segments(wh: Warehouse, who: Customer) -> list[dict[str, Any]]:
    """The segments the customer is in now (open memberships), by name."""
    if not wh.exists("segments_members"):
        return []
    t = wh.table("segments_members")
    mine = t.filter((t.customer_id == who.customer_id) & t.exited_at.isnull())
    return _rows(
        wh, mine.select("segment", "version", "entered_at").order_by("segment")
    )


def customer_view(wh: Warehouse, identifier: str) -> dict[str, Any]:
    """Identifiers, traits, computed profile and lifetime value, affinities,
    promotion response, life stage, demographics, churn risk, segments,
    recommendations, discoveries (never-bought products likely next) and
    current consents."""
    who = resolve(wh, identifier)
    profile = _by_customer(wh, "profiles_rfm", who, "as_of")
    value = _by_customer(wh, "profiles_clv", who, "as_of")
    return {
        "customer_id": who.customer_id,
        "household_id": who.household_id,
        "resolved_from": identifier,
        "identifiers": who.identifiers,
        "traits": _traits(wh, who),
        "profile": profile[-1] if profile else None,
        "lifetime_value": value[-1] if value else None,
        "departments": _by_customer(wh, "profiles_departments", who, "rank"),
        **highlights(wh, who.customer_id),
        "segments": _segments(wh, who),
        "recommendations": _by_customer(
            wh,
            "recommendations"
            if wh.exists("recommendations")
            else "recommend_personal_top",
            who,
            "rank",
        ),
        "discoveries": _by_customer(wh, "discoveries", who, "rank"),
        "consents": current_consents(wh, who),
    }


_ITEM_COLUMNS = {
    "at": "timestamp",
    "kind": "string",
    "item_id": "string",
    "channel": "string",
    "summary": "string",
}


def _items(wh: Warehouse, who: Customer) -> list[ir.Table]:
    """One (at, kind, item_id, channel, summary) table per kind of history."""
    parts: list[ir.Table] = []
    lit = ibis.literal

    def add(expr: ir.Table) -> None:
        parts.append(expr.cast(_ITEM_COLUMNS))

    events = _events(wh, who)
    if events is not None:
        label = events.event.coalesce(events.name).coalesce(lit(""))
        add(
            events.select(
                at=events.timestamp,
                kind=lit("event:") + events.type,
                item_id=events.source_id + lit("/") + events.message_id,
                channel=events.channel,
                summary=events.type + lit(" ") + label,
            )
        )
    if wh.exists("orders"):
        t = wh.table("orders").filter(ibis._.identifier.isin(who.identifiers))
        add(
            t.select(
                at=t.ordered_at,
                kind=lit("order"),
                item_id=t.order_id,
                channel=t.channel,
                summary=lit("order at store ") + t.store_id.coalesce(lit("?")),
            )
        )
    if wh.exists("campaign_members") and wh.exists("campaigns"):
        m = wh.table("campaign_members").filter(ibis._.identifier.isin(who.identifiers))
        c = wh.table("campaigns")
        j = m.join(c, "campaign_id")
        add(
            j.select(
                at=j.start_date.cast("timestamp"),
                kind=lit("campaign"),
                item_id=j.campaign_id,
                channel=j.channel,
                summary=lit("in campaign ") + j.name.coalesce(j.campaign_id),
            )
        )
    if wh.exists("coupon_redemptions"):
        r = wh.table("coupon_redemptions").filter(
            ibis._.identifier.isin(who.identifiers)
        )
        add(
            r.select(
                at=r.redeemed_on.cast("timestamp"),
                kind=lit("coupon_redemption"),
                item_id=r.coupon_upc + lit("/") + r.campaign_id,
                channel=lit("store"),
                summary=lit("redeemed coupon ") + r.coupon_upc,
            )
        )
    if wh.exists("exposures"):
        x = wh.table("exposures").filter(ibis._.identifier.isin(who.identifiers))
        add(
            x.select(
                at=x.exposed_at,
                kind=lit("decision"),
                item_id=x.exposure_id,
                channel=x.channel,
                summary=lit("shown ")
                + x.item_id
                + lit(": ")
                + x.reason.coalesce(lit("")),
            )
        )
    if wh.exists("consents"):
        k = wh.table("consents").filter(ibis._.subject.isin(who.identifiers))
        add(
            k.select(
                at=k.recorded_at,
                kind=lit("consent"),
                item_id=k.consent_id,
                channel=k.source,
                summary=k.purpose + lit(" ") + k.status,
            )
        )
    return parts


def _cursor(at: datetime, item_id: str, kind: str) -> str:
    raw = json.dumps([at.isoformat(), kind, item_id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _uncursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        at, kind, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), kind, item_id
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"cursor is not one this API issued: {exc}") from None


def timeline(
    wh: Warehouse, identifier: str, *, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Newest first; ``next_cursor`` fetches the page after this one."""
    if not 1 <= limit <= 500:
        raise BadRequest("limit must be between 1 and 500")
    who = resolve(wh, identifier)
    parts = _items(wh, who)
    if not parts:
        return {"customer_id": who.customer_id, "items": [], "next_cursor": None}
    items = ibis.union(*parts) if len(parts) > 1 else parts[0]
    items = items.filter(items.at.notnull())
    if cursor:
        at, kind, item_id = _uncursor(cursor)
        a = ibis.literal(at)
        items = items.filter(
            (items.at < a)
            | ((items.at == a) & (items.kind < kind))
            | ((items.at == a) & (items.kind == kind) & (items.item_id < item_id))
        )
    page = _rows(
        wh,
        items.order_by(
            [ibis.desc("at"), ibis.desc("kind"), ibis.desc("item_id")]
        ).limit(limit + 1),
    )
    more = len(page) > limit
    page = page[:limit]
    _attach_lines(wh, page)
    last = page[-1] if more else None
    return {
        "customer_id": who.customer_id,
        "items": page,
        "next_cursor": _cursor(last["at"], last["item_id"], last["kind"])
        if last
        else None,
    }


def _attach_lines(wh: Warehouse, page: list[dict[str, Any]]) -> None:
    """Give each order on the page its lines (with product names where known)."""
    order_ids = [i["item_id"] for i in page if i["kind"] == "order"]
    if not order_ids or not wh.exists("order_lines"):
        return
    lines = wh.table("order_lines").filter(ibis._.order_id.isin(order_ids))
    if wh.exists("products"):
        p = wh.table("products").select("product_id", "department", "product_type")
        lines = lines.left_join(p, "product_id").drop("product_id_right")
    by_order: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(wh, lines.order_by(["order_id", "product_id"])):
        by_order.setdefault(row.pop("order_id"), []).append(row)
    for item in page:
        if item["kind"] == "order":
            item["lines"] = by_order.get(item["item_id"], [])
