"""Holdouts drawn by hashing stable ids, identical in Python, DuckDB and Spark.

A customer is held out of campaign ``c`` when the first eight hex digits of
SHA-256(``"c:customer_id"``), read as a number ``h`` in ``[0, 16**8)``, fall
below ``round(share * 16**8)``. Three properties follow:

- reproducible: no random state, so a rebuild (or an auditor) gets the same
  assignment from the ids alone;
- independent across campaigns: the campaign id is part of the hashed text, so
  being held out of one campaign says nothing about another;
- engine-identical: both engines render SHA-256 as lowercase hex, and for
  fixed-width lowercase hex the string order *is* the numeric order, so the
  comparison ``digest8 < threshold_hex`` needs no hex-to-integer function
  (Ibis has none that compiles on both engines).

The same rule serves decision placements: hash with ``"placement:<name>"`` in
place of the campaign id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from shopkeeper.errors import Conflict, InvalidInput, NotFound
from shopkeeper.model import CAMPAIGN_MEMBERS
from shopkeeper.model.measure import MEASURE_HOLDOUTS
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

HASH_DIGITS = 8
"""Hex digits of the digest used: 2**32 buckets, finer than any share we use."""
_BUCKETS = 16**HASH_DIGITS
RULE = f"sha256('<campaign_id>:<customer_id>')[:{HASH_DIGITS}] < share"
"""The rule as recorded beside each assignment, for auditors."""


def _threshold(share: float) -> int:
    if not 0.0 <= share < 1.0:
        raise InvalidInput(f"holdout share must be in [0, 1), got {share}")
    return round(share * _BUCKETS)


def _digest(campaign_id: str, customer_id: str) -> str:
    text = f"{campaign_id}:{customer_id}".encode()
    return hashlib.sha256(text).hexdigest()[:HASH_DIGITS]


def holdout_unit(customer_id: str, campaign_id: str) -> float:
    """The customer's uniform draw in [0, 1) for this campaign."""
    return int(_digest(campaign_id, customer_id), 16) / _BUCKETS


def in_holdout(customer_id: str, campaign_id: str, share: float) -> bool:
    """Whether the customer is held out of the campaign at this share."""
    return int(_digest(campaign_id, customer_id), 16) < _threshold(share)


def holdout_expr(
    customer_id: ir.StringValue, campaign_id: ir.StringValue | str, share: float
) -> ir.BooleanValue:
    """:func:`in_holdout` as an Ibis expression, for any engine."""
    campaign = (
        ibis.literal(campaign_id) if isinstance(campaign_id, str) else campaign_id
    )
    digest = (campaign + ":" + customer_id).hexdigest("sha256").substr(0, HASH_DIGITS)
    return digest < ibis.literal(format(_threshold(share), f"0{HASH_DIGITS}x"))


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
    _threshold(share)  # refuse a bad share before touching any table
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
