"""First identity map: every identifier seen, each its own customer.

Until the identity graph links identifiers (issue: Unify), a household
identifier is its own customer and household; other identifiers are their own
customer with no household. The map's shape is final, so later stages can
already read customers through it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from shopkeeper.warehouse import Warehouse

__all__ = ["identifier_sightings", "identity_map", "identifiers"]


def _typed(value: ir.StringValue) -> ir.StringValue:
    return value.split(":")[0]


def identifier_sightings(wh: Warehouse) -> ir.Table:
    """Every (identifier, time, table) sighting across the collected tables."""
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
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def identifiers(sightings: ir.Table) -> ir.Table:
    """One row per identifier: its type, first and last sighting, where seen."""
    seen_in = sightings.select("identifier", "seen_in").distinct()
    tables = seen_in.group_by("identifier").agg(
        seen_in=seen_in.seen_in.collect().sort().join(",")
    )
    times = sightings.group_by("identifier").agg(
        first_seen_at=sightings.seen_at.min(),
        last_seen_at=sightings.seen_at.max(),
    )
    joined = times.join(tables, "identifier")
    return joined.mutate(identifier_type=_typed(joined.identifier))


def identity_map(ids: ir.Table) -> ir.Table:
    """identifier -> customer_id (itself) and household_id (if a household)."""
    is_household = ids.identifier_type == "household"
    return ids.select(
        identifier=ids.identifier,
        customer_id=ids.identifier,
        household_id=is_household.ifelse(ids.identifier, ibis.null("string")),
    )
