"""Build the segments stage: materialise membership with entry and exit dates.

Each build evaluates the latest version of every segment as of the build date
and reconciles it with the open memberships: a customer who left gets
``exited_at``, a new one gets a row with ``entered_at``, everyone else is left
alone. Rows are never rewritten otherwise, so ``segments_members`` is the
audit trail of who was in which segment, under which version, when.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from shopkeeper.model.segments import SEGMENTS_DEFINITIONS, SEGMENTS_MEMBERS
from shopkeeper.segments.compile import members
from shopkeeper.segments.definitions import list_segments
from shopkeeper.segments.sources import as_of_timestamp, profile_as_of
from shopkeeper.warehouse import BuildContext, Stage, Warehouse

__all__ = ["STAGE", "build", "reconcile"]

_KEY = ["segment", "version", "customer_id"]


def _current(wh: Warehouse, as_of: dt.date, ctx: BuildContext | None) -> ir.Table:
    """(segment, version, customer_id) for every segment's latest version."""
    parts = []
    defs = list_segments(wh)
    for index, d in enumerate(defs):
        if ctx is not None:
            ctx.step(f"segments: {d.name}", index, len(defs))
        m = members(wh, d.definition, as_of)
        parts.append(
            m.select(
                segment=ibis.literal(d.name),
                version=ibis.literal(d.version).cast("int32"),
                customer_id=m.customer_id,
            )
        )
    if not parts:
        empty = wh.table(SEGMENTS_MEMBERS.name)
        return empty.filter(ibis.literal(False)).select(*_KEY)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def reconcile(stored: ir.Table, current: ir.Table, as_of: dt.datetime) -> ir.Table:
    """The new membership table: ``stored`` with leavers closed and joiners opened.

    A new version of a definition closes the old version's rows and opens the
    new one's, so each row names the rule that admitted the customer.
    """
    when = ibis.literal(as_of).cast("timestamp")
    open_rows = stored.filter(stored.exited_at.isnull())
    closed_before = stored.filter(stored.exited_at.notnull())
    staying = open_rows.semi_join(current, _KEY)
    leaving = open_rows.anti_join(current, _KEY).mutate(exited_at=when)
    joining = current.anti_join(open_rows, _KEY).mutate(
        entered_at=when, exited_at=ibis.null("timestamp")
    )
    columns = list(SEGMENTS_MEMBERS.columns)
    return ibis.union(
        *(
            t.select(columns).cast(SEGMENTS_MEMBERS.schema)
            for t in (closed_before, staying, leaving, joining)
        )
    )


def build(ctx: BuildContext) -> None:
    """Rewrite ``segments_members`` from the definitions, as of the build date."""
    wh = ctx.wh
    as_of = ctx.as_of or profile_as_of(wh)
    wh.create_tables([SEGMENTS_DEFINITIONS, SEGMENTS_MEMBERS])
    current = wh.checkpoint(_current(wh, as_of, ctx), "_tmp_segments_current")
    try:
        merged = wh.checkpoint(
            reconcile(wh.table(SEGMENTS_MEMBERS.name), current, as_of_timestamp(as_of)),
            "_tmp_segments_members",
        )
        wh.write(SEGMENTS_MEMBERS, merged)
    finally:
        wh.drop_temp("_tmp_segments_current")
        wh.drop_temp("_tmp_segments_members")


STAGE = Stage(
    name="segments",
    inputs=(
        "identity_map",
        "profiles_rfm",
        "profiles_clv",
        "profiles_features",
        "profiles_promotions",
        "profiles_churn",
    ),
    outputs=(SEGMENTS_MEMBERS,),
    run=build,
    doc=(
        "Segment membership: the latest version of every definition evaluated as "
        "of the build date; leavers get an exit date, joiners an entry date."
    ),
)
