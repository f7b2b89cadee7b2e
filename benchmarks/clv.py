"""CLV models: CDNOW parameters vs the paper, holdout forecasts, and Complete Journey.

Usage: python benchmarks/clv.py [--calibration-weeks 39]

1. CDNOW sample (data/cdnow): BG/NBD and Gamma-Gamma parameters against Fader,
   Hardie and Lee (2005); the weekly cumulative repeat-purchase forecast against
   the actual over the 39-week calibration and 39-week holdout.
2. The Complete Journey (all 2,469 households, imported into a temporary DuckDB
   file): fit on the first ``--calibration-weeks`` weeks of 2017, forecast the
   rest of the 52 weeks, compare with the purchases that happened; then the fit
   on the whole year that the profiles stage writes, with timings.

Prints the figures and writes benchmarks/results/clv.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shopkeeper.collect import import_completejourney
from shopkeeper.pipeline import STAGES
from shopkeeper.profiles import baskets, clv, default_as_of, purchase_lines
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

ROOT = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results" / "clv.json"
CDNOW = ROOT / "data" / "cdnow" / "cdnow_sample.parquet"
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "log_likelihood": -9582.4,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}
CJ_START = dt.date(2017, 1, 1)


def _sig(value: float, figures: int = 3) -> str:
    return f"{float(f'{value:.{figures - 1}e}'):g}"


def _fits(rows: pd.DataFrame) -> tuple[clv.BGNBD, clv.GammaGamma, float]:
    started = time.perf_counter()
    bg = clv.fit_bgnbd(rows.frequency, rows.recency_weeks, rows.age_weeks)
    gg = clv.fit_gamma_gamma(rows.frequency, rows.avg_repeat_spend)
    return bg, gg, time.perf_counter() - started


def cdnow(folder: Path) -> dict[str, object]:
    start, calibration_end = dt.date(1997, 1, 1), dt.date(1997, 10, 1)
    wh = connect(f"duckdb:///{folder / 'cdnow.duckdb'}")
    data = pq.read_table(CDNOW)
    raw = wh.stage_arrow("cdnow", data)
    purchases = raw.select(
        customer_id=raw.customer_id,
        ordered_at=raw.date.cast("timestamp"),
        value=raw.dollar_value,
    )
    started = time.perf_counter()
    rows = wh.to_arrow(clv.summary(purchases, calibration_end)).to_pandas()
    summary_s = time.perf_counter() - started
    wh.close()
    bg, gg, fit_s = _fits(rows)
    ours = {
        "r": bg.r,
        "alpha": bg.alpha,
        "a": bg.a,
        "b": bg.b,
        "log_likelihood": bg.log_likelihood,
        "p": gg.p,
        "q": gg.q,
        "gamma": gg.gamma,
    }
    print(
        f"CDNOW sample: {len(rows):,} customers, {(rows.frequency > 0).sum()} "
        f"repeat buyers; summary {summary_s:.2f} s, both fits {fit_s:.2f} s"
    )
    print(f"  {'param':<15}{'ours':>12}{'3 s.f.':>9}{'published':>11}")
    for name, value in ours.items():
        figures = _sig(value) if name != "log_likelihood" else f"{value:.1f}"
        print(f"  {name:<15}{value:>12.4f}{figures:>9}{PUBLISHED[name]:>11}")

    # Weekly cumulative repeat purchases (purchase days after each first one).
    days = data.to_pandas().drop_duplicates(["customer_id", "date"])
    first = days.groupby("customer_id").date.transform("min")
    repeat_week = np.array(
        [(d - start).days // 7 for d in days.date[days.date > first]]
    )
    actual = np.cumsum(np.bincount(repeat_week, minlength=78)[:78])
    t0 = np.array([(d - start).days / 7 for d in rows.first_purchase_day])
    model = np.array(
        [bg.expected_purchases(np.clip(w - t0, 0, None)).sum() for w in range(1, 79)]
    )
    holdout_actual = int(actual[77] - actual[38])
    holdout_model = float(model[77] - model[38])
    conditional = float(
        bg.expected_purchases(
            39, rows.frequency, rows.recency_weeks, rows.age_weeks
        ).sum()
    )
    print("  week  actual  forecast  (cumulative repeat purchases, holdout weeks)")
    for week in range(39, 78):
        print(f"  {week + 1:>4}  {actual[week]:>6}  {model[week]:>8.1f}")
    print(
        f"  holdout (weeks 40-78): actual {holdout_actual}, forecast "
        f"{holdout_model:.1f} ({holdout_model / holdout_actual - 1:+.1%}); "
        f"sum of conditional expectations {conditional:.1f} "
        f"({conditional / holdout_actual - 1:+.1%})"
    )
    print(
        f"  cumulative at week 78: actual {actual[77]}, forecast {model[77]:.1f} "
        f"({model[77] / actual[77] - 1:+.1%}; the paper: about -4%)"
    )
    return {
        "customers": len(rows),
        "repeat_buyers": int((rows.frequency > 0).sum()),
        "parameters": {"ours": ours, "published": PUBLISHED},
        "bgnbd_converged": bg.converged,
        "gamma_gamma_converged": gg.converged,
        "summary_seconds": round(summary_s, 3),
        "fit_seconds": round(fit_s, 3),
        "weekly_cumulative": {
            "actual": actual.tolist(),
            "forecast": [round(float(v), 2) for v in model],
        },
        "holdout_actual": holdout_actual,
        "holdout_forecast": round(holdout_model, 1),
        "holdout_conditional_forecast": round(conditional, 1),
        "week78_actual": int(actual[77]),
        "week78_forecast": round(float(model[77]), 1),
    }


def _purchases(wh: Warehouse, before: dt.date) -> ir.Table:
    return baskets(purchase_lines(wh, before))


def completejourney(folder: Path, calibration_weeks: int) -> dict[str, object]:
    settings = Settings(warehouse=f"duckdb:///{folder / 'cj.duckdb'}")
    wh = connect(settings=settings)
    started = time.perf_counter()
    import_completejourney(wh)
    run_build(wh, STAGES, ["identity"], settings=settings)
    load_s = time.perf_counter() - started
    cut = CJ_START + dt.timedelta(weeks=calibration_weeks)
    end = CJ_START + dt.timedelta(weeks=52)
    horizon = 52 - calibration_weeks

    started = time.perf_counter()
    purchases = _purchases(wh, end)
    rows = wh.to_arrow(clv.summary(purchases, cut)).to_pandas()
    later = purchases.filter(
        purchases.ordered_at >= ibis.literal(cut).cast("timestamp")
    )
    later = later.mutate(day=later.ordered_at.cast("date"))
    actual = (
        wh.to_arrow(
            later.group_by("customer_id").agg(
                days=later.day.nunique(), spend=later.value.sum()
            )
        )
        .to_pandas()
        .set_index("customer_id")
    )
    summary_s = time.perf_counter() - started
    bg, gg, fit_s = _fits(rows)
    x, t_x, T = rows.frequency, rows.recency_weeks, rows.age_weeks
    expected = bg.expected_purchases(horizon, x, t_x, T)
    spend = gg.expected_spend(x, rows.avg_repeat_spend)
    alive = bg.p_alive(x, t_x, T)
    got = actual.reindex(rows.customer_id).fillna(0)
    bought = got.days.to_numpy() > 0
    holdout = {
        "calibration_weeks": calibration_weeks,
        "holdout_weeks": horizon,
        "calibration_end": str(cut),
        "customers": len(rows),
        "actual_purchase_days": int(got.days.sum()),
        "forecast_purchase_days": round(float(expected.sum()), 1),
        "actual_spend": round(float(got.spend.sum()), 2),
        "forecast_spend": round(float((expected * spend).sum()), 2),
        "per_customer_mae_purchases": round(
            float(np.abs(expected - got.days.to_numpy()).mean()), 3
        ),
        "correlation_purchases": round(
            float(np.corrcoef(expected, got.days.to_numpy())[0, 1]), 4
        ),
        "mean_p_alive_buyers": round(float(alive[bought].mean()), 4),
        "mean_p_alive_non_buyers": round(float(alive[~bought].mean()), 4)
        if (~bought).any()
        else None,
        "bgnbd": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: getattr(gg, k) for k in ("p", "q", "gamma")},
        "summary_seconds": round(summary_s, 3),
        "fit_seconds": round(fit_s, 3),
    }
    print(
        f"\nThe Complete Journey: import + identity {load_s:.1f} s; "
        f"{len(rows):,} customers, calibration weeks 1-{calibration_weeks} "
        f"(before {cut}), holdout weeks {calibration_weeks + 1}-52"
    )
    print(
        f"  BG/NBD r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}; "
        f"Gamma-Gamma p={gg.p:.4g} q={gg.q:.4g} gamma={gg.gamma:.4g}"
    )
    print(
        f"  holdout purchase days: actual {holdout['actual_purchase_days']:,}, "
        f"forecast {holdout['forecast_purchase_days']:,.1f} "
        f"({expected.sum() / max(got.days.sum(), 1) - 1:+.1%}); per-customer MAE "
        f"{holdout['per_customer_mae_purchases']}, r={holdout['correlation_purchases']}"
    )
    print(
        f"  holdout spend: actual ${holdout['actual_spend']:,.0f}, forecast "
        f"${holdout['forecast_spend']:,.0f}"
    )
    print(
        f"  mean P(alive): {holdout['mean_p_alive_buyers']} for customers who "
        f"bought in the holdout, {holdout['mean_p_alive_non_buyers']} for those "
        "who did not"
    )
    print(f"  summary {summary_s:.2f} s, fits {fit_s:.2f} s")

    # The production path: the profiles stage on the whole year.
    started = time.perf_counter()
    run_build(wh, STAGES, ["profiles"], settings=settings)
    stage_s = time.perf_counter() - started
    as_of = default_as_of(wh)
    year = wh.to_arrow(clv.summary(_purchases(wh, as_of), as_of)).to_pandas()
    bg_y, gg_y, fit_y = _fits(year)
    profile = wh.execute(wh.table("profiles_clv"))
    wh.close()
    full = {
        "as_of": str(as_of),
        "customers": len(profile),
        "profiles_stage_seconds": round(stage_s, 2),
        "fit_seconds": round(fit_y, 3),
        "bgnbd": {k: getattr(bg_y, k) for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: getattr(gg_y, k) for k in ("p", "q", "gamma")},
        "expected_purchases_52w_total": round(
            float(profile.expected_purchases_52w.sum()), 1
        ),
        "clv_52w_total": round(float(profile.clv_52w.sum()), 2),
        "clv_52w_median": round(float(profile.clv_52w.median()), 2),
        "p_alive_below_half": int((profile.p_alive < 0.5).sum()),
    }
    print(
        f"  whole year as of {as_of}: profiles stage {stage_s:.1f} s "
        f"(fits {fit_y:.2f} s); BG/NBD r={bg_y.r:.4g} alpha={bg_y.alpha:.4g} "
        f"a={bg_y.a:.4g} b={bg_y.b:.4g}; Gamma-Gamma p={gg_y.p:.4g} "
        f"q={gg_y.q:.4g} gamma={gg_y.gamma:.4g}"
    )
    print(
        f"  52-week CLV: total ${full['clv_52w_total']:,.0f}, median "
        f"${full['clv_52w_median']:,.0f}; {full['p_alive_below_half']} customers "
        "with P(alive) < 0.5"
    )
    return {"load_seconds": round(load_s, 2), "holdout": holdout, "full_year": full}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calibration-weeks", type=int, default=39)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cd = cdnow(Path(folder))
        cj = completejourney(Path(folder), args.calibration_weeks)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "clv",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "cdnow": cd,
                "completejourney": cj,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
