"""Churn labels and the time split on a real Complete Journey slice."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from shopkeeper.profiles.churn import churn_frame, churn_time_split
from shopkeeper.warehouse import Warehouse


def test_label_is_no_order_in_the_horizon(built: Warehouse) -> None:
    as_of = dt.date(2017, 10, 1)
    frame = churn_frame(built, as_of, 28)
    orders = built.execute(built.table("orders"))
    people = built.execute(built.table("identity_map"))
    orders = orders.merge(people, on="identifier")
    when = pd.to_datetime(orders.ordered_at)
    before = set(orders[when < pd.Timestamp(as_of)].customer_id)
    window = (when >= pd.Timestamp(as_of)) & (
        when < pd.Timestamp(as_of) + pd.Timedelta(days=28)
    )
    came_back = set(orders[window].customer_id)
    assert set(frame.customer_id) == before
    expected = {c: int(c not in came_back) for c in before}
    assert dict(zip(frame.customer_id, frame.churned, strict=True)) == expected
    assert 0 < frame.churned.sum() < len(frame)


def test_time_split_trains_on_the_past_and_ranks_churners(built: Warehouse) -> None:
    split, scored = churn_time_split(built, horizon_weeks=8)
    assert split.train_as_of + dt.timedelta(weeks=8) == split.test_as_of
    assert split.test_customers == len(scored)
    assert scored.churn_risk.between(0, 1).all()
    # On real households the classifier ranks churners above stayers.
    assert split.auc_lightgbm > 0.6
    assert split.auc_p_alive > 0.5
