"""Customer ids that survive rebuilds, and the merge log when they cannot.

Downstream tables, the API and activated audiences all key on ``customer_id``,
so a rebuild must not rename customers. The rules, all deterministic:

- A component whose identifiers all mapped to one previous customer keeps it.
- A component joining several previous customers keeps the oldest (earliest
  first sighting of any of its identifiers, then smallest id); each other id
  is written to ``identity_merges`` (old -> new) so followers can re-key.
- A new component gets ``cus_`` + the first 16 hex digits of SHA-256 of its
  representative: its identifier seen first (ties: smallest identifier).
- If a previous customer split (a link it relied on was later refused), the
  component holding most of its identifiers keeps the id (ties: earliest
  representative); the others get fresh ids, derived from ``split:`` +
  representative when the plain fresh id is already taken. A split is not a
  merge, so it is not logged as one.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

__all__ = ["LATE", "assign_customers", "fresh_id"]

LATE = ibis.timestamp("9999-12-31 00:00:00")
"""Identifiers with no known sighting time sort last, identically on engines."""


def fresh_id(seed: ir.StringValue) -> ir.StringValue:
    """``cus_`` + 16 hex digits of SHA-256(seed)."""
    return "cus_" + seed.hexdigest("sha256").substr(0, 16)


def _first(t: ir.Table, group: str, order: list[ir.Value]) -> ir.Table:
    n = ibis.row_number().over(group_by=t[group], order_by=order)
    return t.mutate(_n=n).filter(ibis._._n == 0).drop("_n")


def assign_customers(
    nodes: ir.Table, previous: ir.Table | None, merged_at: datetime
) -> tuple[ir.Table, ir.Table]:
    """Customer and household per identifier, and the merges this build made.

    Args:
        nodes: ``identifier``, ``first_seen_at``, ``label`` (its component).
        previous: the identity_map before this build (``identifier``,
            ``customer_id``), or None on a first build.
        merged_at: stamped on the merges (the build's time).

    Returns:
        ``(identity_map, merges)`` expressions: identity_map with
        ``identifier, customer_id, household_id``; merges with
        ``old_customer_id, new_customer_id, merged_at``.
    """
    n = nodes.mutate(at=nodes.first_seen_at.coalesce(LATE))
    reps = _first(n, "label", [n.at, n.identifier]).select(
        "label", rep="identifier", rep_at="at"
    )
    is_house = n.identifier.startswith("household:")
    houses = (
        n.filter(is_house)
        .group_by("label")
        .agg(houses=n.identifier.count(), house=n.identifier.min())
    )
    comps = reps.left_join(houses, "label").select(
        "label",
        "rep",
        "rep_at",
        household_id=(ibis._.houses == 1).ifelse(ibis._.house, ibis.null("string")),
    )
    comps = comps.mutate(fresh=fresh_id(comps.rep))
    if previous is None:
        final = comps.mutate(customer_id=comps.fresh)
        merges = final.select(
            old_customer_id=final.customer_id,
            new_customer_id=final.customer_id,
            merged_at=ibis.literal(merged_at, "timestamp"),
        ).limit(0)
    else:
        final, merges = _keep_previous(n, comps, previous, merged_at)
    out = n.join(final, "label")
    return out.select("identifier", "customer_id", "household_id"), merges


def _keep_previous(
    n: ir.Table, comps: ir.Table, previous: ir.Table, merged_at: datetime
) -> tuple[ir.Table, ir.Table]:
    prev = previous.select("identifier", old="customer_id")
    seen = n.join(prev, "identifier")
    old_at = seen.group_by("old").agg(old_at=seen.at.min())
    claims = seen.group_by("label", "old").agg(k=seen.identifier.count())
    claims = claims.join(old_at, "old").join(comps, "label")
    # Each component proposes its oldest previous customer ...
    proposal = _first(claims, "label", [claims.old_at, claims.old])
    # ... and each previous id goes to the proposer holding most of it.
    winner = _first(
        proposal,
        "old",
        [ibis.desc(proposal.k), proposal.rep_at, proposal.rep],
    ).select("label", kept="old")
    taken = prev.select("old").distinct()
    c = comps.left_join(winner, "label").left_join(taken, ibis._.fresh == taken.old)
    split = fresh_id("split:" + c.rep)
    final = c.select(
        "label",
        "household_id",
        customer_id=c.kept.coalesce(c.old.isnull().ifelse(c.fresh, split)),
    )
    survivors = final.select(survivor="customer_id")
    gone = claims.join(final, "label").select("old", "customer_id")
    gone = gone.filter(gone.old != gone.customer_id)
    gone = gone.anti_join(survivors, gone.old == survivors.survivor)
    merges = gone.select(
        old_customer_id=gone.old,
        new_customer_id=gone.customer_id,
        merged_at=ibis.literal(merged_at, "timestamp"),
    ).distinct()
    return final, merges
