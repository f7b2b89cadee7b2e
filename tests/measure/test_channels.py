"""The all-channels report on the real slice, as loaded and with touches added.

The Complete Journey has no web, app, e-mail or push data, so the second half
adds generated exposures (before real orders of real customers) and a
generated e-mail campaign over real customers, then assigns it a holdout.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from shopkeeper.measure import assign_holdouts
from shopkeeper.measure.channels import CHANNELS, ChannelsReport, channels_report
from shopkeeper.measure.paths import touch_paths
from shopkeeper.model import CAMPAIGN_MEMBERS, CAMPAIGNS, EXPOSURES
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url

COST = 0.05


def test_report_on_the_data_as_loaded(built: Warehouse) -> None:
    report = channels_report(built, costs={"direct_mail": 0.5})
    by = {r.channel: r for r in report.channels}
    assert list(by)[: len(CHANNELS)] == list(CHANNELS) and "direct_mail" in by
    orders = built.execute(built.table("orders"))
    lines = built.execute(built.table("order_lines"))
    assert by["store"].orders == len(orders)
    assert by["store"].sales == pytest.approx(lines.sales_value.sum())
    members = built.execute(built.table("campaign_members"))
    assert by["direct_mail"].exposures == len(members)
    assert by["direct_mail"].cost == pytest.approx(0.5 * len(members))
    for row in report.channels:  # nothing randomized, nothing touched: blanks
        assert row.incremental_revenue is None and row.incremental_roi is None
        assert row.attributed_conversions is None
    assert by["web"].reach == by["web"].exposures == 0
    assert any("nothing to attribute" in n for n in report.notes)
    read = [c for c in report.campaigns if c.method == "observational"]
    assert read and all(c.incremental_roi is None for c in read)
    assert {c.method for c in report.campaigns} <= {"observational", "none"}
    json.dumps(report.to_dict(), default=str)


def _orders(wh: Warehouse) -> pd.DataFrame:
    o = wh.execute(wh.table("orders")).sort_values(["identifier", "ordered_at"])
    lines = wh.execute(wh.table("order_lines"))
    value = lines.groupby("order_id").sales_value.sum().rename("value")
    o = o.join(value, on="order_id")
    o["k"] = o.groupby("identifier").cumcount()
    o["gap"] = o.groupby("identifier").ordered_at.diff()
    return o


def _touch(rows: list[dict], who: str, channel: str, at: pd.Timestamp) -> None:
    n = len(rows)
    rows.append(
        {"exposure_id": f"x{n}", "decision_id": f"d{n}", "identifier": who,
         "channel": channel, "placement": "test", "item_type": "offer",
         "item_id": "i1", "rank": 1, "policy": "test", "propensity": 1.0,
         "reason": "generated for a test", "exposed_at": at.to_pydatetime(),
         "candidates": None, "base_rank": None}
    )  # fmt: skip


@pytest.fixture(scope="module")
def touched(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Warehouse, ChannelsReport, dict]]:
    path = tmp_path_factory.mktemp("channels") / "copy.duckdb"
    shutil.copy(built_path, path)
    wh = connect(duckdb_url(path))
    o = _orders(wh)
    hour = pd.Timedelta(hours=1)
    second = o[(o.k == 1) & (o.gap > hour)].head(10)
    third = o[(o.k == 2) & (o.gap > hour) & ~o.identifier.isin(second.identifier)]
    third = third.head(10)
    idle = o.groupby("identifier").tail(1)
    idle = idle[~idle.identifier.isin(set(second.identifier) | set(third.identifier))]
    idle = idle.head(5)
    rows: list[dict] = []
    for r in second.itertuples():
        _touch(rows, r.identifier, "email", r.ordered_at - pd.Timedelta(minutes=2))
        _touch(rows, r.identifier, "push", r.ordered_at - pd.Timedelta(minutes=1))
    for r in third.itertuples():
        _touch(rows, r.identifier, "email", r.ordered_at - pd.Timedelta(minutes=3))
    for r in idle.itertuples():
        _touch(rows, r.identifier, "web", r.ordered_at + hour)
    wh.append(EXPOSURES, wh.stage_arrow("_tmp_x", pa.Table.from_pylist(rows)))
    start = dt.date(2017, 6, 1)
    campaign = {"campaign_id": "test-email", "name": "generated", "campaign_type":
                "test", "channel": "email", "start_date": start,
                "end_date": start + dt.timedelta(days=29)}  # fmt: skip
    wh.append(CAMPAIGNS, wh.stage_arrow("_tmp_c", pa.Table.from_pylist([campaign])))
    people = sorted(o.identifier.unique())[:40]
    members = [
        {"campaign_id": "test-email", "identifier": p, "member_group": "treatment"}
        for p in people
    ]
    wh.append(CAMPAIGN_MEMBERS, wh.stage_arrow("_tmp_m", pa.Table.from_pylist(members)))
    assign_holdouts(wh, "test-email", 0.5)
    report = channels_report(
        wh, costs={"email": COST, "direct_mail": COST}, model="last_touch"
    )
    facts = {
        "email_touches": 20,
        "second": second,
        "third": third,
        "members": len(members),
    }
    yield wh, report, facts
    wh.close()


def test_paths_follow_the_generated_touches(touched: tuple) -> None:
    wh, _, _ = touched
    paths = touch_paths(wh).paths
    converting = [p for p in paths if p.converted]
    assert len(converting) == 20 and len(paths) == 25
    assert sorted({p.channels for p in converting}) == [("email",), ("email", "push")]
    two = next(p for p in converting if p.channels == ("email", "push"))
    assert two.hours_before == pytest.approx((2 / 60, 1 / 60))
    assert {p.channels for p in paths if not p.converted} == {("web",)}


def test_channel_rows_credit_exposures_and_holdouts(touched: tuple) -> None:
    _, report, facts = touched
    by = {r.channel: r for r in report.channels}
    assert by["push"].attributed_conversions == pytest.approx(10)
    assert by["email"].attributed_conversions == pytest.approx(10)
    assert by["web"].attributed_conversions == 0.0
    assert by["push"].attributed_revenue == pytest.approx(facts["second"].value.sum())
    assert by["email"].attributed_revenue == pytest.approx(facts["third"].value.sum())
    assert by["app"].reach == 0 and by["app"].attributed_conversions == 0.0
    row = next(c for c in report.campaigns if c.campaign_id == "test-email")
    assert row.method == "randomized" and row.holdout > 1
    assert row.reach + row.holdout == facts["members"]
    assert by["email"].exposures == facts["email_touches"] + row.reach
    gain, store = by["email"].incremental_revenue, by["email"].store_lift
    assert row.incremental_revenue is not None and row.store_lift is not None
    assert gain is not None and store is not None
    assert (gain.value, gain.low, gain.high) == pytest.approx(
        (row.incremental_revenue.value, row.incremental_revenue.low,
         row.incremental_revenue.high)
    )  # fmt: skip
    assert (store.value, store.low, store.high) == pytest.approx(
        (row.store_lift.value, row.store_lift.low, row.store_lift.high)
    )
    # Every order in the slice is a store order: store lift is the whole lift.
    assert store.value == pytest.approx(gain.value)
    cost = by["email"].exposures * COST
    assert by["email"].cost == pytest.approx(cost)
    assert by["email"].incremental_roi == pytest.approx((gain.value - cost) / cost)
    mail = [c for c in report.campaigns if c.channel == "direct_mail"]
    assert all(c.incremental_roi is None for c in mail)  # observational: no ROI
    assert by["direct_mail"].incremental_revenue is None
    data = json.loads(json.dumps(report.to_dict(), default=str))
    assert data["attribution_model"] == "last_touch"
    assert {r["channel"] for r in data["channels"]} >= set(CHANNELS)
