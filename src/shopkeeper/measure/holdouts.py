"""Holdouts drawn by hashing stable ids, identical in Python, DuckDB and Spark.

The rule (SHA-256 of ``"<campaign_id>:<customer_id>"`` against the share) is
in :mod:`shopkeeper.offers.holdout_hash`, where real-time offers read it too;
this module assigns and records holdouts in ``measure_holdouts`` so that each
readout knows who was held out and at what share. The same rule serves
decision placements: hash with ``"placement:<name>"`` in place of the
campaign id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from shopkeeper.errors import Conflict, NotFound
from shopkeeper.model import CAMPAIGN_MEMBERS
from shopkeeper.model.measure import MEASURE_HOLDOUTS
from shopkeeper.offers.holdout_hash import (
    HASH_DIGITS,
    RULE,
    holdout_expr,
    holdout_threshold,
    holdout_unit,
    in_holdout,
)
from shopkeeper.warehouse import Warehouse

__all__ = [
    "HASH_DIGITS",
    "RULE",
    "HoldoutAssignment",
    "assign_holdouts",
    "holdout_expr",
    "holdout_share",
    "holdout_unit",
    "in_holdout",
]


@dataclass(frozen=True)
class HoldoutAssignment:
    """What one assignment wrote: members, how many were held out, the share."""

    campaign_id: str
    share: float
    members: int
    holdout: int
    rule: str = RULE


def holdout_share(wh: Warehouse, campaign_id: str) -> float | None:
    """The share recorded for a campaign, or None when none was assigned here."""
    if not wh.exists(MEASURE_HOLDOUTS.name):
        return None
    t = wh.table(MEASURE_HOLDOUTS.name)
    rows = wh.to_arrow(t.filter(t.campaign_id == campaign_id).select("share"))
    return float(rows["share"][0].as_py()) if rows.num_rows else None


def assign_holdouts(
    wh: Warehouse,
    campaign_id: str,
    share: float,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> HoldoutAssignment:
    """Mark each member of a campaign 'treatment' or 'holdout', and record it.

    Members are hashed by their ``customer_id`` (so every identifier of one
    person lands on the same side); an identifier the identity graph has not
    resolved is hashed as itself. The result is upserted into
    ``campaign_members`` and the share into ``measure_holdouts``; running it
    again changes nothing. A different share for a campaign that already has
    one is refused unless ``force``: moving people between groups after the
    campaign ran would make its readout meaningless.
    """
    holdout_threshold(share)  # refuse a bad share before touching any table
    previous = holdout_share(wh, campaign_id)
    if previous is not None and previous != share and not force:
        raise Conflict(
            f"campaign {campaign_id!r} already has a {previous:g} holdout; "
            f"refusing to redraw it at {share:g}",
            hint="pass force=True (--force) only if the campaign has not run yet",
        )
    members = wh.table(CAMPAIGN_MEMBERS.name)
    members = members.filter(members.campaign_id == campaign_id)
    if wh.count(members) == 0:
        raise NotFound(
            f"campaign {campaign_id!r} has no members to hold out",
            hint="load campaign_members first, e.g. `shopkeeper import ...`",
        )
    people = wh.table("identity_map").select("identifier", "customer_id")
    joined = members.left_join(people, members.identifier == people.identifier)
    unit = joined.customer_id.fill_null(joined.identifier)
    held = holdout_expr(unit, campaign_id, share)
    staged = joined.select(
        campaign_id=joined.campaign_id,
        identifier=members.identifier,
        member_group=held.ifelse("holdout", "treatment"),
    )
    staged = wh.checkpoint(staged, "_tmp_measure_holdouts")
    try:
        total = wh.count(staged)
        n_holdout = wh.count(staged.filter(staged.member_group == "holdout"))
        wh.upsert(CAMPAIGN_MEMBERS, staged)
    finally:
        wh.drop_temp("_tmp_measure_holdouts")
    stamp = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    record = pa.table(
        {
            "campaign_id": [campaign_id],
            "share": [float(share)],
            "rule": [RULE],
            "members": [total],
            "holdout": [n_holdout],
            "assigned_at": pa.array([stamp], pa.timestamp("us")),
        }
    )
    wh.upsert(MEASURE_HOLDOUTS, wh.stage_arrow("_tmp_measure_record", record))
    wh.drop_temp("_tmp_measure_record")
    return HoldoutAssignment(campaign_id, float(share), total, n_holdout)
