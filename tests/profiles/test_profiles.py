"""Profiles on real data, checked against an independent pandas computation."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from shopkeeper.profiles import SEGMENTS, default_as_of
from shopkeeper.warehouse import Warehouse


def _lines(wh: Warehouse) -> pd.DataFrame:
    orders = wh.execute(wh.table("orders"))
    lines = wh.execute(wh.table("order_lines"))
    people = wh.execute(wh.table("identity_map"))[["identifier", "customer_id"]]
    return lines.merge(orders, on="order_id").merge(people, on="identifier")


def test_rfm_matches_pandas(built: Warehouse) -> None:
    as_of = default_as_of(built)
    lines = _lines(built)
    per_order = lines.groupby(["customer_id", "order_id"]).agg(
        value=("sales_value", "sum"), at=("ordered_at", "min")
    )
    expected = per_order.groupby("customer_id").agg(
        frequency=("value", "size"), monetary=("value", "sum"), last=("at", "max")
    )
    got = built.execute(built.table("profiles_rfm")).set_index("customer_id")
    assert len(got) == len(expected)
    joined = got.join(expected, rsuffix="_pd")
    assert (joined.frequency == joined.frequency_pd).all()
    assert ((joined.monetary - joined.monetary_pd.round(2)).abs() < 0.006).all()
    days = (pd.Timestamp(as_of) - joined["last"].dt.normalize()).dt.days
    assert (joined.recency_days == days).all()
    assert set(joined.rfm_segment) <= {name for name, _ in SEGMENTS}
    for score in ("r_score", "f_score", "m_score"):
        assert joined[score].between(1, 5).all()
    # higher F score never means fewer baskets
    by_f = joined.groupby("f_score").frequency.agg(["min", "max"])
    assert (by_f["max"].shift(1).dropna() <= by_f["min"].iloc[1:]).all()


def test_as_of_is_the_day_after_the_last_order(built: Warehouse) -> None:
    last = built.execute(built.table("orders").ordered_at.max())
    assert default_as_of(built) == last.date() + dt.timedelta(days=1)


def test_departments_shares(built: Warehouse) -> None:
    deps = built.execute(built.table("profiles_departments"))
    assert deps.groupby("customer_id")["rank"].max().le(3).all()
    assert deps.share.between(0, 1).all()
    assert (deps.groupby("customer_id").share.sum() <= 1.0001).all()


def test_personal_top_counts_baskets(built: Warehouse) -> None:
    lines = _lines(built)
    recs = built.execute(built.table("recommend_personal_top"))
    first = recs[recs["rank"] == 1].iloc[0]
    mine = lines[lines.customer_id == first.customer_id]
    counts = mine.groupby("product_id").order_id.nunique()
    assert counts.max() == first.baskets_with_product
    assert counts[first.product_id] == first.baskets_with_product
    assert first.baskets == mine.order_id.nunique()
    assert f"bought in {first.baskets_with_product} of your" in first.reason
    assert recs.groupby("customer_id")["rank"].max().le(10).all()
