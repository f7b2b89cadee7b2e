"""Life-stage shift on real households, checked by hand in pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from shopkeeper.profiles import default_as_of
from shopkeeper.profiles.life_stage import TOP_RISING, WINDOW
from shopkeeper.warehouse import Warehouse

from ..conftest import busiest_households


def _mix(lines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    window = lines[(lines.ordered_at >= start) & (lines.ordered_at < end)]
    spend = window.groupby("category").sales_value.sum().round(2).clip(lower=0)
    return spend / spend.sum()


def test_shift_and_rising_categories_of_one_household(built: Warehouse) -> None:
    as_of = pd.Timestamp(default_as_of(built))
    household = busiest_households(built)[0]
    orders = built.execute(built.table("orders"))
    orders = orders[orders.identifier == household]
    products = built.execute(built.table("products"))[["product_id", "category"]]
    lines = (
        built.execute(built.table("order_lines"))
        .merge(orders, on="order_id")
        .merge(products, on="product_id", how="left")
    )
    lines["category"] = lines.category.fillna("UNKNOWN")
    now = _mix(lines, as_of - WINDOW, as_of)
    before = _mix(lines, as_of - 2 * WINDOW, as_of - WINDOW)
    both = pd.concat([now.rename("now"), before.rename("before")], axis=1).fillna(0.0)
    both["change"] = both.now - both.before
    shift = both.change.abs().sum() / 2
    rising = both[(both.change > 0) & (both.index != "UNKNOWN")].reset_index()
    rising = rising.sort_values(["change", "category"], ascending=[False, True])
    rising = rising.head(TOP_RISING)

    people = built.execute(built.table("identity_map")).set_index("identifier")
    customer = people.customer_id[household]
    got = built.execute(built.table("profiles_life_stage"))
    got = got[got.customer_id == customer].sort_values("rank")
    assert list(got["rank"]) == list(range(1, len(rising) + 1))
    assert list(got.category) == list(rising.category)
    assert got.share_now.to_numpy() == pytest.approx(rising.now.to_numpy(), abs=1e-5)
    assert got.share_before.to_numpy() == pytest.approx(
        rising.before.to_numpy(), abs=1e-5
    )
    assert got.change.to_numpy() == pytest.approx(rising.change.to_numpy(), abs=1e-5)
    assert list(got["shift"]) == pytest.approx([shift] * len(got), abs=1e-5)
    assert 0 < shift < 1


def test_every_customer_has_bought_in_both_windows(built: Warehouse) -> None:
    got = built.execute(built.table("profiles_life_stage"))
    rfm = built.execute(built.table("profiles_rfm")).set_index("customer_id")
    as_of = pd.Timestamp(default_as_of(built))
    first = rfm.first_purchase_at.reindex(got.customer_id)
    last = rfm.last_purchase_at.reindex(got.customer_id)
    assert (first < as_of - WINDOW).all() and (last >= as_of - WINDOW).all()
    assert got["shift"].between(0, 1).all() and (got.change > 0).all()
    assert got.groupby("customer_id")["shift"].nunique().max() == 1
