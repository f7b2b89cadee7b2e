"""Batch membership on the real slice, checked against pandas by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from shopkeeper.segments import members
from shopkeeper.segments.sources import profile_as_of
from shopkeeper.warehouse import Warehouse

from .conftest import customer_of


def _ids(wh: Warehouse, definition: str, as_of: dt.date | None = None) -> set[str]:
    found = members(wh, definition, as_of or profile_as_of(wh))
    return set(wh.to_arrow(found).column("customer_id").to_pylist())


def _frame(wh: Warehouse, table: str) -> pd.DataFrame:
    return wh.execute(wh.table(table))


def test_profile_fields_match_pandas(segmented: Warehouse) -> None:
    rfm = _frame(segmented, "profiles_rfm")
    clv = _frame(segmented, "profiles_clv")
    joined = rfm.merge(clv[["customer_id", "clv_52w"]], on="customer_id")
    wanted = joined[
        (joined.clv_52w > 300)
        & joined.rfm_segment.isin(["Champions", "Loyal"])
        & ~(joined.recency_days >= 30)
    ]
    got = _ids(
        segmented,
        'clv_52w > 300 and rfm_segment in ["Champions", "Loyal"] '
        "and not recency_days >= 30",
    )
    assert got == set(wanted.customer_id) and got


def test_household_fields_reach_through_the_household(segmented: Warehouse) -> None:
    homes = _frame(segmented, "households")
    rfm = _frame(segmented, "profiles_rfm")
    owners = set(homes[homes.home_ownership == "Homeowner"].household_id)
    wanted = set(rfm[rfm.household_id.isin(owners)].customer_id)
    assert _ids(segmented, 'home_ownership = "Homeowner"') == wanted and wanted


def test_department_affinity_matches_pandas(segmented: Warehouse) -> None:
    as_of = profile_as_of(segmented)
    lines = _frame(segmented, "order_lines").merge(
        _frame(segmented, "orders"), on="order_id"
    )
    lines = lines[lines.ordered_at < pd.Timestamp(as_of)]
    lines = lines.merge(_frame(segmented, "identity_map"), on="identifier")
    lines = lines.merge(
        _frame(segmented, "products")[["product_id", "department"]],
        on="product_id",
        how="left",
    )
    produce = lines.department == "PRODUCE"
    pop_share = lines[produce].sales_value.sum() / lines.sales_value.sum()
    by = lines.assign(p=lines.sales_value.where(produce, 0.0)).groupby("customer_id")
    index = (by.p.sum() / by.sales_value.sum() / pop_share).round(4)
    wanted = set(index[index > 1.3].index)
    got = _ids(segmented, 'affinity.department["produce"] > 1.3')
    assert got == wanted and 0 < len(got) < len(index)


def test_bought_counts_orders_in_the_window(segmented: Warehouse) -> None:
    as_of = profile_as_of(segmented)
    lines = _frame(segmented, "order_lines").merge(
        _frame(segmented, "orders"), on="order_id"
    )
    lines = lines.merge(_frame(segmented, "identity_map"), on="identifier")
    lines = lines.merge(_frame(segmented, "products"), on="product_id")
    end = pd.Timestamp(as_of)
    recent = lines[
        (lines.ordered_at < end)
        & (lines.ordered_at >= end - pd.Timedelta(days=60))
        & (lines.department == "PRODUCE")
    ]
    orders = recent.groupby("customer_id").order_id.nunique()
    wanted = set(orders[orders >= 3].index)
    got = _ids(segmented, 'bought department = "PRODUCE" at least 3 times in 60 days')
    assert got == wanted and got
    everyone = _ids(segmented, "frequency >= 0")
    lapsed = _ids(segmented, "bought at most 0 times in 30 days")
    active = set(lines[lines.ordered_at >= end - pd.Timedelta(days=30)].customer_id)
    assert lapsed == everyone - active and lapsed


def test_did_reads_tracked_events_with_properties(segmented: Warehouse) -> None:
    ann, bob, dan = (customer_of(segmented, f"user:{w}") for w in ("ann", "bob", "dan"))
    baby = 'did "Product Viewed" where category = "Baby"'
    assert _ids(segmented, f"{baby} at least 2 times in 14 days") == {ann}
    assert _ids(segmented, f"{baby} in 14 days") == {ann, bob}
    assert _ids(segmented, f"{baby} at least 2 times") == {ann, bob}
    assert _ids(segmented, 'did "Product Viewed" where price > 50') == {dan}
    assert _ids(segmented, 'did "Product Viewed" where price >= 3 and price < 13') == {
        ann
    }
    assert _ids(segmented, 'did "Order Completed"') == set()
    # dan's Baby view is after the as-of date: not seen until a later build.
    later = profile_as_of(segmented) + dt.timedelta(days=2)
    assert dan in _ids(segmented, baby, later)


def test_consent_is_the_latest_decision(segmented: Warehouse) -> None:
    ann, dan = customer_of(segmented, "user:ann"), customer_of(segmented, "user:dan")
    assert _ids(segmented, "consent.ads") == {ann, dan}
    everyone = _ids(segmented, "frequency >= 0")
    assert _ids(segmented, "not consent.ads") == everyone - {ann, dan}
    assert _ids(segmented, "consent.ads and not consent.email") == {dan}
