"""The recommend stage writes recommendations with reasons, and complements."""

from __future__ import annotations

import pandas as pd

from shopkeeper.recommend.build import reason
from shopkeeper.warehouse import Warehouse


def test_every_buyer_gets_ranked_recommendations_with_reasons(built: Warehouse) -> None:
    recs = built.execute(built.table("recommendations"))
    customers = built.execute(built.table("identity_map").customer_id.nunique())
    products = set(built.execute(built.table("order_lines").product_id))
    assert recs.customer_id.nunique() >= 0.95 * customers
    assert set(recs.product_id) <= products
    ranks = recs.groupby("customer_id")["rank"].agg(["min", "max", "size"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["size"]).all()
    assert not recs.duplicated(["customer_id", "product_id"]).any()
    ordered = recs.sort_values(["customer_id", "rank"])
    assert (ordered.groupby("customer_id").score.diff().dropna() <= 0).all()
    assert recs.reason.str.len().gt(10).all()
    assert recs.reason.str.startswith("you buy this about every").mean() > 0.3


def test_complements_rank_by_lift(built: Warehouse) -> None:
    pairs = built.execute(built.table("complements"))
    assert len(pairs) > 100
    assert (pairs.product_id != pairs.complement_id).all()
    assert (pairs.baskets_together >= 2).all()
    ordered = pairs.sort_values(["product_id", "rank"])
    assert (ordered.groupby("product_id").lift.diff().dropna() <= 0).all()


def test_reasons_read_like_a_person_wrote_them() -> None:
    base = dict.fromkeys(
        ["coupon_in_hand", "on_promotion", "copurchase", "baskets_with_item"], 0.0
    )
    habit = {
        **base,
        "baskets_with_item": 5,
        "item_cycle_days": 14.2,
        "days_since_item": 15,
    }
    assert (
        reason(habit, None)
        == "you buy this about every 2 weeks; last bought 15 days ago"
    )
    new = {**base, "days_since_item": float("nan"), "item_cycle_days": float("nan")}
    assert reason({**new, "copurchase": 2.0}, "pasta") == "often bought with pasta"
    assert reason({**new, "on_promotion": 1.0}, None).startswith(
        "on promotion this week"
    )
    assert reason({**new, "coupon_in_hand": 1.0}, None) == "you have a coupon for this"
    assert pd.isna(new["item_cycle_days"])


def test_discoveries_are_new_to_each_customer(built: Warehouse) -> None:
    found = built.execute(built.table("discoveries"))
    recs = built.execute(built.table("recommendations"))
    assert found.customer_id.nunique() == recs.customer_id.nunique()
    orders = built.table("orders")
    lines = built.table("order_lines")
    people = built.table("identity_map")
    bought = built.execute(
        orders.join(lines, "order_id")
        .join(people, orders.identifier == people.identifier)
        .select("customer_id", "product_id")
        .distinct()
    )
    seen = found.merge(bought, on=["customer_id", "product_id"])
    assert seen.empty, seen.head()
    ranks = found.groupby("customer_id")["rank"].agg(["min", "max", "size"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["size"]).all()
    ordered = found.sort_values(["customer_id", "rank"])
    assert (ordered.groupby("customer_id").score.diff().dropna() <= 0).all()
    assert found.score.between(0, 1).all()
    assert found.reason.str.len().gt(10).all()
    assert not found.reason.str.startswith("you buy this").any()
