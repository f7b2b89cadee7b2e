"""Materialised membership: entries and exits are kept, never rewritten."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from shopkeeper.errors import BadRequest
from shopkeeper.segments import create_segment, get_segment, list_segments, versions
from shopkeeper.segments.build import STAGE
from shopkeeper.segments.membership import member_counts, member_history
from shopkeeper.segments.sources import profile_as_of
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, run_build

from .conftest import customer_of

ACTIVE = "bought at least 1 times in 30 days"


def _rows(wh: Warehouse) -> list[dict[str, Any]]:
    t = wh.table("segments_members")
    return wh.to_arrow(t.order_by(["segment", "version", "customer_id"])).to_pylist()


def _build(wh: Warehouse, as_of: dt.date) -> None:
    run_build(wh, [STAGE], settings=Settings(), as_of=as_of)


def test_definitions_are_versioned_and_validated(writable: Warehouse) -> None:
    first = create_segment(writable, "active", ACTIVE, "shopped this month")
    assert first.version == 1
    assert create_segment(writable, "active", ACTIVE, "shopped this month") == first
    second = create_segment(writable, "active", ACTIVE.replace("30", "45"))
    assert second.version == 2
    assert [d.version for d in versions(writable, "active")] == [1, 2]
    assert get_segment(writable, "active", 1).definition == ACTIVE
    assert [d.name for d in list_segments(writable)] == ["active"]
    with pytest.raises(BadRequest, match="at 1:8"):
        create_segment(writable, "broken", "bought categroy = 'x'")
    assert [d.name for d in list_segments(writable)] == ["active"]


def test_rebuilds_close_leavers_and_open_joiners(writable: Warehouse) -> None:
    as_of = profile_as_of(writable)
    create_segment(writable, "active", ACTIVE)
    create_segment(writable, "ads_ok", "consent.ads")
    _build(writable, as_of)
    first = _rows(writable)
    active = {r["customer_id"] for r in first if r["segment"] == "active"}
    assert active and all(r["exited_at"] is None for r in first)
    assert {r["customer_id"] for r in first if r["segment"] == "ads_ok"} == {
        customer_of(writable, "user:ann"),
        customer_of(writable, "user:dan"),
    }
    _build(writable, as_of)  # the same date again changes nothing
    assert _rows(writable) == first
    # Forty days on there are no new orders: every active member leaves,
    # and the rows say when they entered and when they left.
    later = as_of + dt.timedelta(days=40)
    _build(writable, later)
    rows = [r for r in _rows(writable) if r["segment"] == "active"]
    assert {r["customer_id"] for r in rows} == active
    start, end = (dt.datetime.combine(d, dt.time()) for d in (as_of, later))
    assert all(r["entered_at"] == start and r["exited_at"] == end for r in rows)
    assert member_counts(writable)[("active", 1)] == 0
    assert member_history(writable, "active") == [
        {
            "date": as_of.isoformat(),
            "version": 1,
            "entered": len(active),
            "exited": 0,
            "members": len(active),
        },
        {
            "date": later.isoformat(),
            "version": 1,
            "entered": 0,
            "exited": len(active),
            "members": 0,
        },
    ]


def test_a_new_version_closes_the_old_rows(writable: Warehouse) -> None:
    as_of = profile_as_of(writable)
    create_segment(writable, "ads_ok", "consent.ads")
    _build(writable, as_of)
    create_segment(writable, "ads_ok", "consent.ads and consent.email")
    _build(writable, as_of)
    rows = _rows(writable)
    ann = customer_of(writable, "user:ann")
    assert [
        (r["version"], r["exited_at"] is None) for r in rows if r["customer_id"] == ann
    ] == [
        (1, False),
        (2, True),
    ]
    assert member_counts(writable) == {("ads_ok", 1): 0, ("ads_ok", 2): 1}
