"""The Campaigns & measurement pages: campaign list, readouts, channels, uplift.

Every page is read from a real server on a copy of the real 1/25 Complete
Journey slice, and its numbers are checked against the measurement function
the page claims to show (``campaign_readout``, ``channels_report``) called
here on the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ibis import _
from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.measure import assign_holdouts, campaign_readout, channels_report
from shopkeeper.offers.uplift_runs import evaluate_hillstrom, record_comparison
from shopkeeper.settings import Settings
from shopkeeper.ui.campaigns import WarehouseResults
from shopkeeper.warehouse import Warehouse, connect
from tests.ui.conftest import Browser, Http

PAGES = ("/ui/campaigns", "/ui/campaigns/18", "/ui/channels", "/ui/uplift")
HOLDOUT_SHARE = 0.5


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _largest(built: Warehouse, n: int) -> list[str]:
    """The ``n`` campaigns with the most members on the slice, largest first."""
    m = built.table("campaign_members")
    top = m.group_by("campaign_id").agg(n=m.count())
    top = top.order_by([top.n.desc(), top.campaign_id]).limit(n)
    return [str(c) for c in built.execute(top).campaign_id]


def _page(client: Http, path: str) -> tuple[dict[str, Any], str]:
    base, _, query = path.partition("?")
    twin = client.get(f"{base}.json" + (f"?{query}" if query else ""))
    assert twin.status_code == 200, twin.text
    page = client.get(path)
    assert page.status_code == 200, page.text
    return twin.json(), html.unescape(page.text)


@pytest.mark.parametrize("path", PAGES)
def test_pages_refuse_the_unauthenticated(anonymous_client: Http, path: str) -> None:
    page = anonymous_client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    twin = anonymous_client.get(f"{path}.json")
    assert twin.status_code == 401
    assert twin.json()["code"] == "unauthorized"


def test_the_campaign_list_shows_every_campaign(
    ui_client: Http, ui_settings: Settings
) -> None:
    data, page = _page(ui_client, "/ui/campaigns")
    with connect(ui_settings.warehouse, read_only=True) as wh:
        m = wh.table("campaign_members")
        members = dict(
            wh.execute(m.group_by("campaign_id").agg(n=m.count())).to_numpy()
        )
        r = wh.table("coupon_redemptions")
        redeemed = dict(
            wh.execute(r.group_by("campaign_id").agg(n=r.count())).to_numpy()
        )
        assert len(data["campaigns"]) == wh.count("campaigns") > 10
    for c in data["campaigns"]:
        assert c["members"] == members.get(c["campaign_id"], 0)
        assert c["redemptions"] == redeemed.get(c["campaign_id"], 0)
        assert c["treated"] + c["holdout"] == c["members"]
        assert f'href="/ui/campaigns/{c["campaign_id"]}">{c["name"]}<' in page
    assert 'href="/ui/channels"' in page and 'href="/ui/uplift"' in page


def test_an_observational_readout_is_the_commands_with_its_caveat(
    ui_client: Http, ui_settings: Settings, built: Warehouse
) -> None:
    campaign_id = _largest(built, 1)[0]
    data, page = _page(ui_client, f"/ui/campaigns/{campaign_id}")
    with connect(ui_settings.warehouse, read_only=True) as wh:
        r = campaign_readout(wh, campaign_id)
    assert data["method"] == r.method == "observational"
    m = r.matched
    assert m is not None
    matched, naive = data["rows"]
    assert matched["treated"] == pytest.approx(m.treated_mean)
    assert matched["comparison"] == pytest.approx(m.control_mean)
    assert matched["difference"] == pytest.approx(m.diff)
    assert matched["interval"] == pytest.approx([m.interval.low, m.interval.high])
    assert matched["bootstrap"] == pytest.approx([m.bootstrap.low, m.bootstrap.high])
    assert naive["difference"] == pytest.approx(m.naive_diff)
    assert data["matched"]["controls"] == m.controls
    # the page shows the same numbers, the caveat in plain words, and the chart
    for value in (m.treated_mean, m.control_mean, m.diff, m.interval.low):
        assert _money(value) in page
    assert "not causal proof" in page and r.caveat is not None and r.caveat in page
    assert page.count('<figure class="chart"><svg') >= 1
    assert data["chart_money"]["estimates"] == pytest.approx([m.diff, m.diff])


def test_a_randomized_readout_shows_both_intervals_cuped_and_the_sample_ratio(
    ui_client: Http, ui_settings: Settings, built: Warehouse
) -> None:
    # The Complete Journey's campaigns kept no holdout; hashing one out of a
    # real campaign's members here (as `shopkeeper measure holdout` does)
    # gives a randomized readout over real spend.
    campaign_id = _largest(built, 2)[1]
    before = ui_client.get(f"/ui/campaigns/{campaign_id}.json").json()
    assert before["method"] == "observational"  # and now kept by the server
    with connect(ui_settings.warehouse) as wh:
        assign_holdouts(wh, campaign_id, HOLDOUT_SHARE)
    # the warehouse changed: the kept readout is not served again
    data, page = _page(ui_client, f"/ui/campaigns/{campaign_id}")
    with connect(ui_settings.warehouse, read_only=True) as wh:
        r = campaign_readout(wh, campaign_id)
    rd = r.randomized
    assert data["method"] == r.method == "randomized" and rd is not None
    rows = {row["measure"]: row for row in data["rows"]}
    for name, d in (
        ("conversion rate", rd.conversion),
        ("revenue per customer", rd.revenue),
    ):
        assert rows[name]["treated"] == pytest.approx(d.treated_mean)
        assert rows[name]["comparison"] == pytest.approx(d.holdout_mean)
        assert rows[name]["difference"] == pytest.approx(d.diff)
        assert rows[name]["interval"] == pytest.approx([d.welch.low, d.welch.high])
        assert rows[name]["bootstrap"] == pytest.approx(
            [d.bootstrap.low, d.bootstrap.high]
        )
    assert rd.cuped is not None and rd.srm is not None
    cuped = rows["revenue per customer, CUPED"]
    assert cuped["difference"] == pytest.approx(rd.cuped.diff)
    assert data["srm"]["p_value"] == pytest.approx(rd.srm.p_value)
    assert data["srm"]["expected_holdout_share"] == HOLDOUT_SHARE
    assert (data["treated"], data["holdout"]) == (r.treated, r.holdout)
    assert _money(rd.revenue.diff) in page and _money(rd.cuped.diff) in page
    assert f"{rd.conversion.diff * 100:.2f}%" in page
    assert "Sample ratio" in page and "variance reduced by" in page
    assert "Not an experiment" not in page
    assert page.count('<figure class="chart"><svg') == 2  # dollars and rates apart


def test_slow_results_are_kept_until_the_warehouse_changes(
    built_path: Path, built: Warehouse, tmp_path: Path
) -> None:
    shutil.copy(built_path, tmp_path / "wh.duckdb")
    settings = Settings(
        warehouse=f"duckdb:///{tmp_path / 'wh.duckdb'}", state_dir=str(tmp_path)
    )
    results = WarehouseResults()
    calls: list[int] = []

    def holdouts(wh: Warehouse) -> dict[str, Any]:
        calls.append(1)
        m = wh.table("campaign_members")
        return {"held_out": wh.count(m.filter(m.member_group == "holdout"))}

    first = results.get(settings, "holdouts", holdouts)
    assert results.get(settings, "holdouts", holdouts) == first
    assert len(calls) == 1 and first["held_out"] == 0
    with connect(settings.warehouse) as wh:
        done = assign_holdouts(wh, _largest(built, 1)[0], HOLDOUT_SHARE)
    again = results.get(settings, "holdouts", holdouts)
    assert len(calls) == 2 and again["held_out"] == done.holdout > 0


def test_the_channels_report_is_the_commands(
    ui_client: Http, ui_settings: Settings
) -> None:
    data, page = _page(ui_client, "/ui/channels")
    with connect(ui_settings.warehouse, read_only=True) as wh:
        report = channels_report(wh)
    assert [c["channel"] for c in data["channels"]] == [
        c.channel for c in report.channels
    ]
    for shown, row in zip(data["channels"], report.channels, strict=True):
        assert (shown["reach"], shown["exposures"], shown["orders"]) == (
            row.reach,
            row.exposures,
            row.orders,
        )
        assert shown["sales"] == pytest.approx(row.sales)
        assert f'<td>{row.channel}</td><td class="num">{row.reach:,}<' in page
    for shown, c in zip(data["campaigns"], report.campaigns, strict=True):
        assert (shown["campaign_id"], shown["method"]) == (c.campaign_id, c.method)
        if c.incremental_revenue is not None:
            assert shown["incremental_revenue"]["value"] == pytest.approx(
                c.incremental_revenue.value
            )
            assert _money(c.incremental_revenue.value) in page
    for note in report.notes:
        assert note in page
    assert "Cost</th>" not in page.split('id="channel-campaigns"')[1]
    charts = any(c.incremental_revenue for c in report.channels) + any(
        c.incremental_revenue for c in report.campaigns
    )
    assert page.count('<figure class="chart">') == charts >= 1


def test_channel_costs_give_cost_and_a_bad_cost_is_refused(ui_client: Http) -> None:
    data, page = _page(ui_client, "/ui/channels?costs=direct_mail%3D0.5")
    mail = next(c for c in data["channels"] if c["channel"] == "direct_mail")
    assert mail["exposures"] > 0
    assert mail["cost"] == pytest.approx(0.5 * mail["exposures"])
    assert _money(mail["cost"]) in page and 'value="direct_mail=0.5"' in page
    bad = ui_client.get("/ui/channels?costs=direct_mail")
    assert bad.status_code == 422
    assert "CHANNEL=AMOUNT" in html.unescape(bad.text)


def test_the_uplift_page_draws_the_latest_kept_runs_curves(
    ui_client: Http, ui_settings: Settings
) -> None:
    data, page = _page(ui_client, "/ui/uplift")
    # nothing kept yet on the copied slice: the page says how to fill it
    assert data["outcomes"] == []
    assert 'id="no-runs"' in page and f"run <code>{data['command']}</code>" in page
    c = evaluate_hillstrom(
        "visit", ("t_learner", "s_learner"), sample_share=0.1, folds=2, n_boot=20
    )
    kept = {"sample_share": 0.1, "n_boot": 20, "folds": 2, "seed": 0}
    with connect(ui_settings.warehouse) as wh:
        record_comparison(wh, c, run_at=dt.datetime(2020, 1, 1), **kept)
        run_id = record_comparison(wh, c, **kept)
        runs = wh.execute(wh.table("offers_uplift_runs").filter(_.run_id == run_id))
        curves = wh.execute(wh.table("offers_uplift_curves").filter(_.run_id == run_id))
        policies = wh.execute(
            wh.table("offers_policy_values").filter(_.run_id == run_id)
        )
    data, page = _page(ui_client, "/ui/uplift")
    (o,) = data["outcomes"]
    assert o["run_id"] == run_id and o["outcome"] == "visit"
    assert o["n_test"] == c.n_test and o["chosen"] == c.chosen
    # the twin's learners are the table's rows, and the page shows them
    rows = runs[[k for k in o["learners"][0]]].to_dict("records")
    assert sorted(o["learners"], key=str) == sorted(rows, key=str)
    for x in o["learners"]:
        assert f"{x['qini']:,.4f}" in page and f"{x['auuc_high']:,.4f}" in page
    assert len(o["policies"]) == len(policies)
    for p in o["policies"]:
        stored = policies[policies.policy == p["policy"]].iloc[0]
        assert (p["value"], p["low"], p["high"]) == tuple(
            stored[["value", "low", "high"]]
        )
        assert f"{p['value']:,.4f}" in page
    # one Qini chart: each learner's stored curves, averaged over the offers
    assert o["offers"] == sorted(c.evaluation.offers)
    assert set(o["qini_curves"]) == {"t_learner", "s_learner"}
    qini = curves[curves.curve == "qini"]
    for learner, (xs, ys) in o["qini_curves"].items():
        mine = qini[qini.learner == learner]
        mean = mine.groupby("point").agg(x=("x", "first"), y=("y", "mean"))
        assert len(mean) == 101
        assert xs == pytest.approx((mean.x * 100).tolist())
        assert ys == pytest.approx(mean.y.tolist())
    assert f"Qini curve, visit (mean over {', '.join(o['offers'])})" in page
    # two charts per outcome; a plan kept by another test draws its own below
    outcome_part = page.split('<section id="plan">')[0]
    assert outcome_part.count('<figure class="chart"><svg') == 2
    assert "random" in page and 'id="no-runs"' not in page


def test_the_uplift_page_shows_the_latest_kept_offer_plan(
    ui_client: Http, ui_settings: Settings, tmp_path: Path
) -> None:
    data, page = _page(ui_client, "/ui/uplift")
    assert data["plan"] is None
    assert 'id="no-plan"' in page and f"run <code>{data['plan_command']}</code>" in page
    # Real slice customers; the slice has no offer-level uplift estimates, so
    # each candidate's margin is an assumed share of the customer's real
    # average basket (2% for an e-mail, 6% for a mailer) at a fixed cost.
    with connect(ui_settings.warehouse, read_only=True) as wh:
        rfm = wh.execute(
            wh.table("profiles_rfm")
            .select("customer_id", "avg_basket_value")
            .order_by("customer_id")
            .limit(60)
        )
    rows = []
    for customer, basket in zip(rfm.customer_id, rfm.avg_basket_value, strict=True):
        rows.append(f"{customer},email-5,{0.02 * basket:.4f},0.10")
        rows.append(f"{customer},mailer-10,{0.06 * basket:.4f},1.50")
    (tmp_path / "candidates.csv").write_text(
        "customer_id,offer_id,incremental_margin,cost\n" + "\n".join(rows) + "\n"
    )
    # The slice keeps no consent records: everyone may get e-mail, the first
    # half of them post too.
    consent = [f"{c},email" for c in rfm.customer_id]
    consent += [f"{c},direct_mail" for c in rfm.customer_id[:30]]
    (tmp_path / "consent.csv").write_text(
        "customer_id,channel\n" + "\n".join(consent) + "\n"
    )
    (tmp_path / "channels.csv").write_text(
        "offer_id,channel\nemail-5,email\nmailer-10,direct_mail\n"
    )
    result = CliRunner().invoke(
        app,
        ["--warehouse", ui_settings.warehouse, "offers", "plan"]
        + [str(tmp_path / "candidates.csv"), "--budget", "30", "--k", "1"]
        + ["--cap", "mailer-10=15", "--channels", str(tmp_path / "channels.csv")]
        + ["--consent", str(tmp_path / "consent.csv"), "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    with connect(ui_settings.warehouse, read_only=True) as wh:
        offers = wh.to_arrow(
            wh.table("offers_plan_offers")
            .filter(_.plan_id == summary["plan_id"])
            .drop("plan_id")
        ).to_pylist()
    data, page = _page(ui_client, "/ui/uplift")
    p = data["plan"]
    assert p["plan_id"] == summary["plan_id"] and p["budget"] == 30
    assert p["spent"] == pytest.approx(summary["total_cost"]) and p["spent"] <= 30
    assert p["customers"] == summary["customers"]
    assert p["expected_incremental_margin"] == pytest.approx(
        summary["expected_incremental_margin"]
    )
    # the twin's offers are the kept rows, best first, and the page shows them
    assert sorted(p["offers"], key=str) == sorted(offers, key=str)
    assert [o["expected_incremental_margin"] for o in p["offers"]] == sorted(
        (o["expected_incremental_margin"] for o in p["offers"]), reverse=True
    )
    by_offer = {o["offer_id"]: o for o in p["offers"]}
    assert set(by_offer) == {"email-5", "mailer-10"}
    assert by_offer["mailer-10"]["cap"] == 15 and by_offer["email-5"]["cap"] is None
    assert by_offer["mailer-10"]["assigned"] <= 15
    assert sum(o["assigned"] for o in p["offers"]) == summary["offers_sent"]
    assert summary["excluded_no_consent"] == 30
    assert p["chart"]["labels"] == [o["offer_id"] for o in p["offers"]]
    plan_part = html.unescape(page.split('<section id="plan">')[1])
    assert f"Plan <code>{p['plan_id']}</code>" in plan_part
    for figure in ("spent", "expected_incremental_margin"):
        assert _money(p[figure]) in plan_part
    for o in p["offers"]:
        assert f"<td>{o['offer_id']}</td><td>{o['channel']}</td>" in plan_part
        assert _money(o["expected_incremental_margin"]) in plan_part
    assert "Expected incremental margin per offer" in plan_part
    assert plan_part.count('<figure class="chart"><svg') == 1
    assert 'id="no-plan"' not in page


def test_an_unknown_campaign_is_a_page_not_a_crash(ui_client: Http) -> None:
    page = ui_client.get("/ui/campaigns/no-such-campaign")
    assert page.status_code == 404
    assert "'no-such-campaign' is not in the warehouse" in html.unescape(page.text)
    twin = ui_client.get("/ui/campaigns/no-such-campaign.json")
    assert twin.json()["code"] == "not_found"


def test_a_person_opens_a_campaign_readout_and_the_channels(
    browser: Browser, built: Warehouse
) -> None:
    page = browser.page
    browser.open("/ui/campaigns")
    campaign_id = _largest(built, 1)[0]
    page.click(f"#campaigns a[href='/ui/campaigns/{campaign_id}']")
    page.wait_for_selector("#readout")
    assert page.locator("figure.chart svg").count() >= 1
    assert "not causal proof" in page.inner_text("main")
    browser.screenshot("campaign-readout")
    page.click("text=all campaigns")
    page.click("text=All channels")
    page.wait_for_selector("#channel-campaigns")
    assert page.locator("#channels tbody tr").count() >= 6
    browser.screenshot("channels")
    browser.open("/ui/uplift")
    assert page.inner_text("h1") == "Uplift models"
    browser.screenshot("uplift")
