"""Every identifier seen anywhere, when first and last, and in which tables.

The identifiers table is the node list of the identity graph: an identifier
with no link is still a customer of its own (a household that only shops in
store, an anonymous visitor who never logs in). Blocked placeholders ("null",
test e-mails) are left out: they identify nobody.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from shopkeeper.identity.guards import identifier_type
from shopkeeper.identity.normalize import blocked_reason
from shopkeeper.warehouse import Warehouse

__all__ = ["identifier_sightings", "identifiers", "link_sightings"]


def identifier_sightings(wh: Warehouse) -> list[ir.Table]:
    """(identifier, seen_at, seen_in) from every imported table that has one."""
    parts: list[ir.Table] = []

    def add(table: str, column: str, when: str | None) -> None:
        if not wh.exists(table):
            return
        t = wh.table(table)
        seen_at = t[when].cast("timestamp") if when else ibis.null("timestamp")
        parts.append(
            t.select(
                identifier=t[column], seen_at=seen_at, seen_in=ibis.literal(table)
            ).filter(ibis._.identifier.notnull())
        )

    add("orders", "identifier", "ordered_at")
    add("households", "household_id", None)
    add("campaign_members", "identifier", None)
    add("coupon_redemptions", "identifier", "redeemed_on")
    add("customers", "customer_ref", "signed_up_at")
    add("consents", "subject", "recorded_at")
    return parts


def link_sightings(links: ir.Table) -> ir.Table:
    """Both ends of every candidate link, seen where its evidence is."""
    return ibis.union(
        *(
            links.select(
                identifier=links[c], seen_at="seen_at", seen_in="evidence_table"
            )
            for c in ("identifier_a", "identifier_b")
        )
    )


def identifiers(parts: list[ir.Table]) -> ir.Table:
    """One row per non-blocked identifier: type, first and last sighting, tables."""
    sightings = ibis.union(*parts) if len(parts) > 1 else parts[0]
    sightings = sightings.filter(blocked_reason(sightings.identifier).isnull())
    seen_in = sightings.select("identifier", "seen_in").distinct()
    tables = seen_in.group_by("identifier").agg(
        seen_in=seen_in.seen_in.collect().sort().join(",")
    )
    times = sightings.group_by("identifier").agg(
        first_seen_at=sightings.seen_at.min(),
        last_seen_at=sightings.seen_at.max(),
    )
    joined = times.join(tables, "identifier")
    return joined.mutate(identifier_type=identifier_type(joined.identifier))
