"""Uplift evaluation runs kept in the warehouse: scores, curve points, policy values.

Fitting and bootstrapping six learners takes minutes, so a run is computed
once (``shopkeeper offers evaluate-uplift``) and its results are appended
under a fresh ``run_id``; the dashboard reads the latest run per outcome.
Curves are kept as about a hundred points each: the full curves would need
every held-out customer's score, while a hundred evenly spaced shares of the
customers targeted draw the same picture.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from shopkeeper import model
from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import (
    Comparison,
    Progress,
    compare_learners,
    hashed_sample,
    hillstrom_experiment,
)
from shopkeeper.offers.metrics import Curve, qini_curve, uplift_curve
from shopkeeper.offers.uplift import LEARNERS
from shopkeeper.warehouse import Warehouse

__all__ = [
    "CURVE_POINTS",
    "curve_points",
    "evaluate_hillstrom",
    "latest_runs",
    "record_comparison",
    "run_tables",
]

CURVE_POINTS = 100
"""Intervals per stored curve: 101 points from 0% to 100% targeted."""


def curve_points(
    curve: Curve, points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """The curve at evenly spaced shares of the customers targeted.

    A gain curve is piecewise linear between its points (that is how its
    area is taken), so interpolating it loses nothing but detail finer than
    one share step; both ends are kept exactly.
    """
    if points < 1:
        raise InvalidInput(f"points must be at least 1, not {points}")
    share = np.linspace(0.0, 1.0, points + 1)
    total = float(curve.x[-1])
    if total <= 0:
        return share, np.zeros_like(share)
    return share, np.interp(share * total, curve.x, curve.gain)


def _curve_rows(c: Comparison, run_id: str, points: int) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        k: [] for k in ("run_id", "outcome", "learner", "offer", "curve", "point")
    }
    rows |= {"x": [], "y": []}
    test = c.test
    if test is None:
        raise InvalidInput("the comparison kept no test split, so it has no curves")
    y = test.y(c.outcome)
    for name, uplift in c.predictions.items():
        for j, offer in enumerate(test.arms[1:], start=1):
            keep = (test.treatment == 0) | (test.treatment == j)
            treated = test.treatment[keep] == j
            score = uplift[keep, j - 1]
            for kind, draw in (("qini", qini_curve), ("uplift", uplift_curve)):
                xs, ys = curve_points(draw(y[keep], score, treated), points)
                n = len(xs)
                rows["run_id"] += [run_id] * n
                rows["outcome"] += [c.outcome] * n
                rows["learner"] += [name] * n
                rows["offer"] += [offer] * n
                rows["curve"] += [kind] * n
                rows["point"] += list(range(n))
                rows["x"] += xs.tolist()
                rows["y"] += ys.tolist()
    return rows


def run_tables(
    c: Comparison,
    *,
    run_id: str,
    run_at: dt.datetime,
    dataset: str,
    sample_share: float,
    n_boot: int,
    folds: int,
    seed: int,
    points: int = CURVE_POINTS,
) -> dict[str, pa.Table]:
    """The run's rows for each of the three tables, as Arrow, keyed by table name."""
    ev, pv = c.evaluation, c.policies
    learners = []
    for name in ev.names:
        q, a = ev.score(name, "qini"), ev.score(name, "auuc")
        learners.append(
            {
                "run_id": run_id,
                "run_at": run_at,
                "dataset": dataset,
                "sample": sample_share,
                "outcome": c.outcome,
                "learner": name,
                "chosen": name == c.chosen,
                "cv_qini": c.validation.get(name),
                "qini": q.value,
                "qini_low": q.ci_low,
                "qini_high": q.ci_high,
                "auuc": a.value,
                "auuc_low": a.ci_low,
                "auuc_high": a.ci_high,
                "n_train": c.n_train,
                "n_test": c.n_test,
                "n_boot": n_boot,
                "folds": folds,
                "seed": seed,
            }
        )
    policies = []
    for name in pv.names:
        v = pv.value(name)
        policies.append(
            {
                "run_id": run_id,
                "outcome": c.outcome,
                "policy": name,
                "value": v.value,
                "low": v.ci_low,
                "high": v.ci_high,
            }
        )

    def arrow(spec: model.TableSpec, data: Any) -> pa.Table:
        schema = spec.schema.to_pyarrow()
        if isinstance(data, dict):
            return pa.table(data, schema=schema)
        return pa.Table.from_pylist(data, schema=schema)

    return {
        model.OFFERS_UPLIFT_RUNS.name: arrow(model.OFFERS_UPLIFT_RUNS, learners),
        model.OFFERS_UPLIFT_CURVES.name: arrow(
            model.OFFERS_UPLIFT_CURVES, _curve_rows(c, run_id, points)
        ),
        model.OFFERS_POLICY_VALUES.name: arrow(model.OFFERS_POLICY_VALUES, policies),
    }


def record_comparison(
    wh: Warehouse,
    c: Comparison,
    *,
    dataset: str = "hillstrom",
    sample_share: float = 1.0,
    n_boot: int,
    folds: int,
    seed: int,
    run_at: dt.datetime | None = None,
) -> str:
    """Append the comparison as a new run (all three tables or none); its id."""
    run_id = uuid.uuid4().hex[:12]
    at = run_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    tables = run_tables(
        c,
        run_id=run_id,
        run_at=at,
        dataset=dataset,
        sample_share=sample_share,
        n_boot=n_boot,
        folds=folds,
        seed=seed,
    )
    specs = (
        model.OFFERS_UPLIFT_RUNS,
        model.OFFERS_UPLIFT_CURVES,
        model.OFFERS_POLICY_VALUES,
    )
    wh.create_tables(list(specs))
    with wh.transaction():
        for spec in specs:
            staged = wh.stage_arrow(f"_tmp_{spec.name}", tables[spec.name])
            wh.append(spec, staged)
    for spec in specs:
        wh.drop_temp(f"_tmp_{spec.name}")
    return run_id


def evaluate_hillstrom(
    outcome: str = "spend",
    learners: Sequence[str] = tuple(LEARNERS),
    *,
    sample_share: float = 1.0,
    folds: int = 3,
    n_boot: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
) -> Comparison:
    """Compare the learners on (a hashed share of) Hillstrom's rows.

    Kept apart from :func:`record_comparison` so the minutes of fitting run
    without holding the warehouse open (DuckDB lets one writer lock a file).
    """
    return compare_learners(
        outcome,
        learners,
        experiment=hashed_sample(hillstrom_experiment(), sample_share),
        folds=folds,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
    )


_RUN_COLUMNS = (
    "run_id",
    "run_at",
    "dataset",
    "sample",
    "outcome",
    "n_train",
    "n_test",
    "n_boot",
    "folds",
    "seed",
)
_LEARNER_COLUMNS = (
    "learner",
    "chosen",
    "cv_qini",
    "qini",
    "qini_low",
    "qini_high",
    "auuc",
    "auuc_low",
    "auuc_high",
)


def latest_runs(wh: Warehouse) -> list[dict[str, Any]]:
    """The latest kept run of each outcome, with its learners, curves and policies.

    One entry per outcome (visit, conversion, spend order), each the run's
    own columns plus ``learners`` (best Qini first),
    ``curves`` (rows ordered by learner, offer, curve, point) and
    ``policies``, best first. Empty when no run was kept.
    """
    if not wh.exists(model.OFFERS_UPLIFT_RUNS.name):
        return []
    r = wh.table(model.OFFERS_UPLIFT_RUNS.name)
    runs = wh.to_arrow(r.select(*_RUN_COLUMNS).distinct()).to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda x: (x["run_at"], x["run_id"])):
        latest[run["outcome"]] = run
    if not latest:
        return []
    ids = [run["run_id"] for run in latest.values()]
    learners = wh.to_arrow(
        r.filter(r.run_id.isin(ids))
        .select("run_id", *_LEARNER_COLUMNS)
        .order_by([ibis.desc("qini"), "learner"])
    ).to_pylist()
    c = wh.table(model.OFFERS_UPLIFT_CURVES.name)
    curves = wh.to_arrow(
        c.filter(c.run_id.isin(ids)).order_by(
            ["run_id", "learner", "offer", "curve", "point"]
        )
    ).to_pylist()
    p = wh.table(model.OFFERS_POLICY_VALUES.name)
    policies = wh.to_arrow(
        p.filter(p.run_id.isin(ids)).order_by([ibis.desc("value"), "policy"])
    ).to_pylist()
    order = {name: i for i, name in enumerate(("visit", "conversion", "spend"))}
    out = []
    for outcome in sorted(latest, key=lambda o: (order.get(o, len(order)), o)):
        run = latest[outcome]

        def mine(
            rows: list[dict[str, Any]], run_id: str = run["run_id"]
        ) -> list[dict[str, Any]]:
            return [
                {k: v for k, v in row.items() if k not in ("run_id", "outcome")}
                for row in rows
                if row["run_id"] == run_id
            ]

        out.append(
            {
                **run,
                "learners": mine(learners),
                "curves": mine(curves),
                "policies": mine(policies),
            }
        )
    return out
