"""Campaign readouts on the real slice: observational as loaded, randomized
once a holdout is assigned (the assignment is ours; the spend is real)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shopkeeper.errors import NotFound
from shopkeeper.measure import CAVEAT, assign_holdouts, campaign_readout
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url


def _frame(wh: Warehouse, name: str) -> pd.DataFrame:
    return wh.execute(wh.table(name))


def _spend(wh: Warehouse, start: dt.date, end: dt.date, products=None) -> pd.Series:
    """Per-customer spend on days [start, end], recomputed in pandas."""
    orders = _frame(wh, "orders").merge(_frame(wh, "identity_map"), on="identifier")
    orders = orders[
        (orders.ordered_at >= pd.Timestamp(start))
        & (orders.ordered_at < pd.Timestamp(end + dt.timedelta(days=1)))
    ]
    lines = _frame(wh, "order_lines")
    if products is not None:
        lines = lines[lines.product_id.isin(products)]
    return orders.merge(lines, on="order_id").groupby("customer_id").sales_value.sum()


def _busiest(wh: Warehouse) -> str:
    members = _frame(wh, "campaign_members")
    counts = members.campaign_id.value_counts()
    return str(counts.index[0])


def test_observational_readout_matches_a_recomputation(built: Warehouse) -> None:
    cid = _busiest(built)
    r = campaign_readout(built, cid, resamples=200)
    assert r.method == "observational" and r.caveat == CAVEAT
    assert "not causal proof" in r.caveat
    c = r.campaign
    members = _frame(built, "campaign_members").query("campaign_id == @cid")
    assert r.members == r.treated == len(members) and r.holdout == 0
    m = r.matched
    assert m is not None
    assert m.treated_matched + m.treated_unmatched == r.treated
    assert m.interval.low < m.diff < m.interval.high
    # The unmatched difference, recomputed from the raw tables.
    coupons = _frame(built, "coupons").query("campaign_id == @cid")
    spend = _spend(built, c.start_date, c.end_date, set(coupons.product_id))
    people = _frame(built, "identity_map")[["identifier", "customer_id"]]
    everyone = people.customer_id.drop_duplicates()
    targeted = set(members.merge(people, on="identifier").customer_id)
    per = spend.reindex(everyone, fill_value=0.0)
    is_t = per.index.isin(targeted)
    naive = per[is_t].mean() - per[~is_t].mean()
    assert m.naive_diff == pytest.approx(naive)
    redeemed = _frame(built, "coupon_redemptions").query("campaign_id == @cid")
    assert r.redemptions is not None
    assert r.redemptions.redemptions == len(redeemed)
    assert r.redemptions.redeemers == redeemed.identifier.nunique()


def test_unknown_campaign_is_not_found(built: Warehouse) -> None:
    with pytest.raises(NotFound, match="campaign 'nope'"):
        campaign_readout(built, "nope")


@pytest.fixture
def copy(built_path: Path, tmp_path: Path) -> Iterator[Warehouse]:
    path = tmp_path / "copy.duckdb"
    shutil.copy(built_path, path)
    warehouse = connect(duckdb_url(path))
    yield warehouse
    warehouse.close()


def test_randomized_readout_once_a_holdout_is_assigned(copy: Warehouse) -> None:
    cid = _busiest(copy)
    assign_holdouts(copy, cid, 0.5)
    r = campaign_readout(copy, cid, resamples=200)
    assert r.method == "randomized" and r.caveat is None
    assert r.treated + r.holdout == r.members and r.holdout > 1
    rd = r.randomized
    assert rd is not None and rd.srm is not None and rd.cuped is not None
    assert rd.srm.expected_holdout_share == 0.5
    c = r.campaign
    spend = _spend(copy, c.start_date, c.end_date)
    groups = (
        _frame(copy, "campaign_members")
        .query("campaign_id == @cid")
        .merge(_frame(copy, "identity_map"), on="identifier")
    )
    per = spend.reindex(groups.customer_id, fill_value=0.0).to_numpy()
    treated = per[(groups.member_group == "treatment").to_numpy()]
    assert rd.revenue.treated_mean == pytest.approx(treated.mean())
    assert rd.conversion.treated_mean == pytest.approx((treated > 0).mean())
    assert r.store is None  # direct mail is not an online channel
