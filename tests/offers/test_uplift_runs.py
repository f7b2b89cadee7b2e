"""Uplift runs kept in the warehouse: curve points, hashed samples, latest run."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import Comparison, hashed_sample, hillstrom_experiment
from shopkeeper.offers.metrics import Curve, qini_curve
from shopkeeper.offers.uplift_runs import (
    curve_points,
    evaluate_hillstrom,
    latest_runs,
    record_comparison,
)
from shopkeeper.warehouse import Warehouse


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    """Two learners on a 5% hashed sample of the real Hillstrom rows."""
    return evaluate_hillstrom(
        "visit", ("t_learner", "s_learner"), sample_share=0.05, folds=2, n_boot=5
    )


def test_curve_points_interpolate_at_even_shares_and_keep_both_ends() -> None:
    # A hand-made curve: up 2 over the first customer, flat, down over the last.
    curve = Curve(np.array([0.0, 1.0, 3.0, 4.0]), np.array([0.0, 2.0, 2.0, 0.0]))
    x, y = curve_points(curve, points=4)
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y.tolist() == [0.0, 2.0, 2.0, 2.0, 0.0]
    flat = Curve(np.array([0.0]), np.array([0.0]))
    assert curve_points(flat, points=2)[1].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(InvalidInput, match="at least 1"):
        curve_points(curve, points=0)


def test_a_hundred_points_keep_a_real_qini_curves_shape() -> None:
    data = hashed_sample(hillstrom_experiment(), 0.2)
    rows = data.treatment != 2
    y, treated = data.y("visit")[rows], data.treatment[rows] == 1
    curve = qini_curve(y, data.X[rows, 1], treated)  # ranked by past spend
    x, gain = curve_points(curve)
    assert len(x) == 101 and gain[0] == 0.0 and gain[-1] == curve.gain[-1]
    full_area = curve.area() / curve.x[-1]
    kept_area = float(np.sum(np.diff(x) * (gain[1:] + gain[:-1]) / 2))
    assert kept_area == pytest.approx(full_area, rel=0.02)


def test_a_sample_is_the_same_hashed_rows_every_time() -> None:
    data = hillstrom_experiment()
    a, b = hashed_sample(data, 0.1), hashed_sample(data, 0.1)
    assert np.array_equal(a.row, b.row)
    assert 6_000 < len(a) < 6_800
    assert hashed_sample(data, 1.0) is data
    with pytest.raises(InvalidInput, match="sample must lie"):
        hashed_sample(data, 0.0)


def test_latest_runs_give_each_outcomes_newest_run_whole(
    wh: Warehouse, comparison: Comparison
) -> None:
    assert latest_runs(wh) == []
    kept = {
        "sample_share": 0.05,
        "n_boot": 5,
        "folds": 2,
        "seed": 0,
    }
    old = record_comparison(wh, comparison, run_at=dt.datetime(2020, 1, 1), **kept)
    new = record_comparison(wh, comparison, run_at=dt.datetime(2021, 1, 1), **kept)
    assert old != new
    (run,) = latest_runs(wh)
    assert run["run_id"] == new and run["outcome"] == "visit"
    assert run["n_test"] == comparison.n_test and run["sample"] == 0.05
    ev = comparison.evaluation
    for learner in run["learners"]:
        q = ev.score(learner["learner"], "qini")
        assert (learner["qini"], learner["qini_low"]) == (q.value, q.ci_low)
        assert learner["chosen"] == (learner["learner"] == comparison.chosen)
    assert [x["qini"] for x in run["learners"]] == sorted(
        (x["qini"] for x in run["learners"]), reverse=True
    )
    # every learner, both offers, both kinds of curve, 101 points each
    assert len(run["curves"]) == 2 * 2 * 2 * 101
    test = comparison.test
    assert test is not None
    mens = (test.treatment == 0) | (test.treatment == 1)
    full = qini_curve(
        test.y("visit")[mens],
        comparison.predictions["t_learner"][mens, 0],
        test.treatment[mens] == 1,
    )
    wanted = ("t_learner", "Mens E-Mail", "qini")
    last = [
        c for c in run["curves"] if (c["learner"], c["offer"], c["curve"]) == wanted
    ][-1]
    assert (last["x"], last["y"]) == (1.0, full.gain[-1])
    values = {p["policy"]: p["value"] for p in run["policies"]}
    for name in comparison.policies.names:
        assert values[name] == comparison.policies.value(name).value
    # both runs are kept, only the newest is shown
    assert wh.count("offers_uplift_runs") == 2 * len(run["learners"])
