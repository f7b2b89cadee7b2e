"""Campaigns and measurement: the campaign list, one campaign's readout, the
all-channels report and the uplift models' scores.

The readout and channel pages call the same functions as ``shopkeeper
measure campaign`` and ``shopkeeper report channels`` and lay their results
out as rows of (measure, treated, comparison, difference, intervals), so the
numbers a person reads here are the command's numbers. The uplift page reads
the runs ``shopkeeper offers evaluate-uplift`` kept in the warehouse instead
of fitting models per page view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from shopkeeper.errors import InvalidInput
from shopkeeper.measure.campaigns import CampaignReadout, campaign_readout
from shopkeeper.measure.channels import channels_report
from shopkeeper.measure.readout import Difference
from shopkeeper.offers.plan_runs import latest_plan
from shopkeeper.offers.uplift_runs import latest_runs
from shopkeeper.warehouse import Warehouse

__all__ = [
    "PLAN_COMMAND",
    "UPLIFT_COMMAND",
    "campaign_list",
    "campaign_page",
    "channels_page",
    "parse_costs",
    "readout_rows",
    "uplift_page",
]


def campaign_list(wh: Warehouse) -> dict[str, Any]:
    """Every campaign with its reach, holdout, coupons and redemptions."""
    if not wh.exists("campaigns"):
        return {"campaigns": []}
    c = wh.table("campaigns")
    m = wh.table("campaign_members")
    members = m.group_by("campaign_id").agg(
        members=m.count(),
        treated=(m.member_group == "treatment").sum(),
        holdout=(m.member_group == "holdout").sum(),
    )
    k = wh.table("coupons")
    coupons = k.group_by("campaign_id").agg(coupons=k.coupon_upc.nunique())
    r = wh.table("coupon_redemptions")
    redemptions = r.group_by("campaign_id").agg(
        redemptions=r.count(), redeemers=r.identifier.nunique()
    )
    j = (
        c.left_join(members, "campaign_id")
        .left_join(coupons, "campaign_id")
        .left_join(redemptions, "campaign_id")
    )
    rows = wh.to_arrow(
        j.select(
            "campaign_id",
            "name",
            "campaign_type",
            "channel",
            "start_date",
            "end_date",
            members=j.members.fill_null(0),
            treated=j.treated.fill_null(0),
            holdout=j.holdout.fill_null(0),
            coupons=j.coupons.fill_null(0),
            redemptions=j.redemptions.fill_null(0),
            redeemers=j.redeemers.fill_null(0),
        ).order_by([ibis.desc("start_date"), "campaign_id"])
    ).to_pylist()
    return {"campaigns": rows}


def _interval(low: float, high: float) -> list[float]:
    return [low, high]


def _row(measure: str, short: str, d: Difference, unit: str) -> dict[str, Any]:
    return {
        "measure": measure,
        "short": short,
        "unit": unit,
        "treated": d.treated_mean,
        "comparison": d.holdout_mean,
        "difference": d.diff,
        "relative": d.relative,
        "interval": _interval(d.welch.low, d.welch.high),
        "interval_kind": "Welch",
        "bootstrap": _interval(d.bootstrap.low, d.bootstrap.high),
        "p_value": d.p_value,
    }


def readout_rows(r: CampaignReadout) -> list[dict[str, Any]]:
    """The readout as the rows ``shopkeeper measure campaign`` prints.

    ``unit`` is ``share`` for rates and ``$`` for money, so a chart never puts
    a conversion rate and dollars on one axis.
    """
    rows: list[dict[str, Any]] = []
    if r.randomized is not None:
        rd = r.randomized
        rows.append(_row("conversion rate", "conversion", rd.conversion, "share"))
        rows.append(_row("revenue per customer", "revenue", rd.revenue, "$"))
        if rd.cuped is not None:
            rows.append(
                {
                    "measure": "revenue per customer, CUPED",
                    "short": "revenue, CUPED",
                    "unit": "$",
                    "treated": None,
                    "comparison": None,
                    "difference": rd.cuped.diff,
                    "relative": None,
                    "interval": _interval(rd.cuped.welch.low, rd.cuped.welch.high),
                    "interval_kind": "Welch",
                    "bootstrap": None,
                    "p_value": None,
                }
            )
        if r.store is not None:
            rows.append(
                _row(
                    "store revenue per customer (online to offline)",
                    "store revenue",
                    r.store,
                    "$",
                )
            )
    if r.matched is not None:
        m = r.matched
        rows.append(
            {
                "measure": f"{m.outcome} per customer",
                "short": "matched difference",
                "unit": "$",
                "treated": m.treated_mean,
                "comparison": m.control_mean,
                "difference": m.diff,
                "relative": m.diff / m.control_mean if m.control_mean else None,
                "interval": _interval(m.interval.low, m.interval.high),
                "interval_kind": "stratified normal",
                "bootstrap": _interval(m.bootstrap.low, m.bootstrap.high),
                "p_value": None,
            }
        )
        rows.append(
            {
                "measure": "unmatched difference (for contrast)",
                "short": "unmatched difference",
                "unit": "$",
                "treated": None,
                "comparison": None,
                "difference": m.naive_diff,
                "relative": None,
                "interval": None,
                "interval_kind": None,
                "bootstrap": None,
                "p_value": None,
            }
        )
    return rows


def _forest(points: list[tuple[str, float, float, float]]) -> dict[str, list[Any]]:
    """(label, estimate, low, high) points as ``charts.intervals`` takes them."""
    return {
        "labels": [p[0] for p in points],
        "estimates": [p[1] for p in points],
        "lows": [p[2] for p in points],
        "highs": [p[3] for p in points],
    }


def _chart(rows: list[dict[str, Any]], unit: str) -> dict[str, list[Any]]:
    """Both intervals of every row in ``unit``, as the forest plot draws them."""
    return _forest(
        [
            (
                f"{row['short']}, {kind.split()[-1]}",
                row["difference"],
                interval[0],
                interval[1],
            )
            for row in rows
            if row["unit"] == unit and row["interval"] is not None
            for kind, interval in (
                (row["interval_kind"], row["interval"]),
                ("bootstrap", row["bootstrap"]),
            )
            if interval is not None
        ]
    )


def campaign_page(
    wh: Warehouse, campaign_id: str, *, seed: int = 0, resamples: int = 2000
) -> dict[str, Any]:
    """One campaign's readout, as ``shopkeeper measure campaign ID`` gives it."""
    r = campaign_readout(wh, campaign_id, seed=seed, resamples=resamples)
    c = r.campaign
    rows = readout_rows(r)
    srm = cuped = None
    if r.randomized is not None and r.randomized.srm is not None:
        s = r.randomized.srm
        srm = {
            "treated": s.treated,
            "holdout": s.holdout,
            "expected_holdout_share": s.expected_holdout_share,
            "chi2": s.chi2,
            "p_value": s.p_value,
            "mismatch": s.mismatch,
        }
    if r.randomized is not None and r.randomized.cuped is not None:
        x = r.randomized.cuped
        cuped = {"theta": x.theta, "variance_reduction": x.variance_reduction}
    gain = r.incremental_revenue
    return {
        "campaign": {
            "campaign_id": c.campaign_id,
            "name": c.name,
            "campaign_type": c.campaign_type,
            "channel": c.channel,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "pre_start": c.pre_start,
            "days": c.days,
        },
        "method": r.method,
        "comparison": "holdout" if r.method == "randomized" else "matched",
        "members": r.members,
        "treated": r.treated,
        "holdout": r.holdout,
        "matched": (
            {
                "treated_matched": r.matched.treated_matched,
                "treated_unmatched": r.matched.treated_unmatched,
                "controls": r.matched.controls,
                "strata": r.matched.strata,
            }
            if r.matched is not None
            else None
        ),
        "redemptions": (
            {
                "coupons": r.redemptions.coupons,
                "redemptions": r.redemptions.redemptions,
                "redeemers": r.redemptions.redeemers,
                "rate": r.redemptions.rate,
            }
            if r.redemptions is not None
            else None
        ),
        "rows": rows,
        "chart_money": _chart(rows, "$"),
        "chart_share": _chart(rows, "share"),
        "cuped": cuped,
        "srm": srm,
        "incremental_revenue": (
            {"value": gain[0], "low": gain[1], "high": gain[2]} if gain else None
        ),
        "caveat": r.caveat,
        "notes": list(r.notes),
        "seed": seed,
        "resamples": resamples,
    }


def parse_costs(text: str | None) -> dict[str, float]:
    """``"email=0.01, direct_mail=0.45"`` as costs per contact by channel."""
    costs: dict[str, float] = {}
    for item in (text or "").replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        channel, sep, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            sep = ""
        if not sep or not channel.strip():
            raise InvalidInput(
                f"costs are CHANNEL=AMOUNT separated by commas, got {item!r}"
            )
        costs[channel.strip()] = value
    return costs


def _estimate_chart(rows: list[dict[str, Any]], key: str) -> dict[str, list[Any]]:
    return _forest(
        [
            (str(row[key]), e["value"], e["low"], e["high"])
            for row in rows
            if (e := row["incremental_revenue"]) is not None
        ]
    )


def channels_page(
    wh: Warehouse, *, costs: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """``shopkeeper report channels`` as data, with the charts' series."""
    report = channels_report(wh, costs=costs).to_dict()
    campaign_rows = report["campaigns"]
    for row in campaign_rows:
        obs = " (obs.)" if row["method"] == "observational" else ""
        row["label"] = f"{row['name'] or row['campaign_id']}{obs}"
    return {
        **report,
        "costs": dict(costs or {}),
        "chart_channels": _estimate_chart(report["channels"], "channel"),
        "chart_campaigns": _estimate_chart(campaign_rows, "label"),
        "observational": any(
            r["method"] == "observational" for r in report["campaigns"]
        ),
    }


UPLIFT_COMMAND = "shopkeeper offers evaluate-uplift"
PLAN_COMMAND = "shopkeeper offers plan candidates.csv --budget 5000 --out plan.csv"
"""What fills the plan section: the exact allocator over the user's candidates."""
"""What fills the uplift page; each run takes minutes, so the quickstart skips it."""


def _qini_series(curves: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Each learner's Qini curve, averaged over the offers at each share targeted.

    The Qini coefficient in the table is the mean over offers, so the chart
    draws the mean curve too: one chart per outcome (rendering a chart takes
    a few tenths of a second, and six per outcome made the page slow). The
    per-offer Qini and uplift curves stay in ``offers_uplift_curves``.
    """
    points: dict[str, dict[int, list[float]]] = {}
    shares: dict[int, float] = {}
    for row in curves:
        if row["curve"] != "qini":
            continue
        points.setdefault(row["learner"], {}).setdefault(row["point"], []).append(
            row["y"]
        )
        shares[row["point"]] = row["x"]
    return {
        learner: [
            [shares[k] * 100 for k in sorted(by_point)],
            [sum(ys) / len(ys) for _, ys in sorted(by_point.items())],
        ]
        for learner, by_point in points.items()
    }


def uplift_page(wh: Warehouse) -> dict[str, Any]:
    """The latest kept uplift run per outcome: scores, curves and policy values.

    Fitting six learners takes minutes, so the page reads what
    ``shopkeeper offers evaluate-uplift`` kept in the warehouse.
    """
    outcomes = []
    for run in latest_runs(wh):
        learners = run["learners"]
        outcomes.append(
            {
                **{k: v for k, v in run.items() if k not in ("curves", "run_at")},
                "run_at": f"{run['run_at']:%Y-%m-%d %H:%M} UTC",
                "chosen": next((x["learner"] for x in learners if x["chosen"]), None),
                "chart": _forest(
                    [
                        (x["learner"], x["qini"], x["qini_low"], x["qini_high"])
                        for x in learners
                    ]
                ),
                "offers": sorted({c["offer"] for c in run["curves"]}),
                "qini_curves": _qini_series(run["curves"]),
            }
        )
    return {
        "command": UPLIFT_COMMAND,
        "outcomes": outcomes,
        "plan_command": PLAN_COMMAND,
        "plan": _plan(wh),
    }


def _plan(wh: Warehouse) -> dict[str, Any] | None:
    """The latest kept offer plan, with the bars of expected margin per offer.

    Solving a plan needs the user's candidate file, so the page shows what
    ``shopkeeper offers plan`` kept rather than solving anything itself.
    """
    plan = latest_plan(wh)
    if plan is None:
        return None
    offers = plan["offers"]
    return {
        **plan,
        "planned_at": f"{plan['planned_at']:%Y-%m-%d %H:%M} UTC",
        "chart": {
            "labels": [o["offer_id"] for o in offers],
            "margins": [o["expected_incremental_margin"] for o in offers],
        },
    }
