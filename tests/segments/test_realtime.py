"""Real-time evaluation from online profile rows equals batch membership."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from shopkeeper.segments import RealtimeSegment, members, online_profiles
from shopkeeper.segments.sources import as_of_timestamp, customers, profile_as_of
from shopkeeper.warehouse import Warehouse, connect

from .conftest import customer_of

Sample = tuple[list[str], dict[str, dict[str, Any]], dt.date]

DEFINITIONS = [
    'clv_52w > 300 and affinity.department["PRODUCE"] > 1.3',
    'rfm_segment in ["Champions", "Loyal"] or top_department_index > 3',
    "not (favourite_day in [5, 6]) and p_alive >= 0.9",
    'bought department = "PRODUCE" at least 3 times in 60 days',
    'bought category = "FLUID MILK PRODUCTS" and brand_type = "private"',
    "bought at most 0 times in 30 days",
    "bought product_id = 1082185 at least 2 times in 90 days",
    'home_ownership = "Homeowner" and income_band != "50-74K"',
    "consent.ads or consent.personalization",
    'did "Product Viewed" where category = "Baby" at least 2 times in 14 days',
    'did "Product Viewed" where price > 20 or not did "Product Viewed" in 7 days',
    'affinity.department["NOSUCH"] > 0 or avg_basket_value <= 20',
]


@pytest.fixture(scope="module")
def sample(segmented_path: Path) -> Sample:
    """Every 3rd customer by id (ids are hashes), plus the four contacts."""
    with connect(f"duckdb:///{segmented_path}", read_only=True) as wh:
        ids = sorted(wh.to_arrow(customers(wh)).column("customer_id").to_pylist())
        picked = set(ids[::3]) | {
            customer_of(wh, f"user:{w}") for w in ("ann", "bob", "cat", "dan")
        }
        as_of = profile_as_of(wh)
        return sorted(picked), online_profiles(wh, sorted(picked), as_of), as_of


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_realtime_equals_batch(
    segmented: Warehouse, sample: Sample, definition: str
) -> None:
    ids, profiles, as_of = sample
    batch = set(
        segmented.to_arrow(members(segmented, definition, as_of))
        .column("customer_id")
        .to_pylist()
    ) & set(ids)
    segment = RealtimeSegment("s", definition)
    now = as_of_timestamp(as_of)
    live = {c for c in ids if segment.matches(profiles[c], now)}
    assert live == batch


def test_the_sample_exercises_every_definition(
    segmented: Warehouse, sample: Sample
) -> None:
    """Each definition splits the sample: the equality above is not vacuous."""
    ids, _, as_of = sample
    for definition in DEFINITIONS:
        found = members(segmented, definition, as_of)
        n = len(
            set(segmented.to_arrow(found).column("customer_id").to_pylist()) & set(ids)
        )
        assert 0 < n < len(ids), definition


def test_a_new_event_changes_membership_at_once(
    sample: Sample, segmented: Warehouse
) -> None:
    _, profiles, as_of = sample
    bob = profiles[customer_of(segmented, "user:bob")]
    segment = RealtimeSegment(
        "baby",
        'did "Product Viewed" where category = "Baby" at least 2 times in 14 days',
    )
    now = as_of_timestamp(as_of)
    assert not segment.matches(bob, now)
    arrived = {
        "event": "Product Viewed",
        "timestamp": now,
        "properties": {"category": "Baby"},
    }
    later = now + dt.timedelta(seconds=1)
    assert segment.matches(bob | {"events": [*bob["events"], arrived]}, later)
    # Two weeks on, both views have left the window.
    assert not segment.matches(
        bob | {"events": [*bob["events"], arrived]}, later + dt.timedelta(days=15)
    )
