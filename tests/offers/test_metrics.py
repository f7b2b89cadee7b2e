"""Qini and uplift curves against hand computation, perfect and random rankings."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import hillstrom_experiment
from shopkeeper.offers.metrics import (
    auuc,
    evaluate_uplift,
    perfect_score,
    qini_coefficient,
    qini_curve,
    uplift_curve,
)

# Four customers: a treated buyer, a treated non-buyer, a control buyer and a
# control non-buyer, ranked in that order. Worked by hand in the comments.
Y = np.array([1.0, 0.0, 1.0, 0.0])
T = np.array([1, 1, 0, 0])
SCORE = np.array([4.0, 3.0, 2.0, 1.0])


@pytest.fixture(scope="module")
def mens_vs_none() -> tuple[np.ndarray, np.ndarray]:
    """Real Hillstrom rows of the Mens and No E-Mail arms (visit outcome)."""
    data = hillstrom_experiment()
    rows = data.treatment != 2
    return data.y("visit")[rows], (data.treatment[rows] == 1)


def test_qini_curve_by_hand() -> None:
    curve = qini_curve(Y, SCORE, T)
    # y_t - y_c * n_t / n_c after 1..4 rows: 1, 1, 1 - 1*2/1, 1 - 1*2/2.
    assert curve.x.tolist() == [0, 1, 2, 3, 4]
    assert curve.gain.tolist() == [0, 1, 1, -1, 0]
    assert curve.area() == pytest.approx(1.0)
    # Perfect order: treated buyer, the two non-buyers (one tie), control buyer:
    # points (1, 1), (3, 1), (4, 0), area 0.5 + 2 + 0.5 = 3; random area is 0.
    assert qini_coefficient(Y, SCORE, T) == pytest.approx(1 / 3)
    assert qini_coefficient(Y, SCORE, T, normalize=False) == pytest.approx(1.0)


def test_uplift_curve_by_hand() -> None:
    curve = uplift_curve(Y, SCORE, T)
    # (y_t/n_t - y_c/n_c) * x: 1*1, 0.5*2, (0.5 - 1)*3, (0.5 - 0.5)*4.
    assert curve.gain.tolist() == [0, 1, 1, -1.5, 0]
    assert curve.area() == pytest.approx(0.5)
    # Perfect: (1, 1), (3, 0.5*3), (4, 0) -> area 0.5 + 2.5 + 0.75 = 3.75.
    assert auuc(Y, SCORE, T) == pytest.approx(0.5 / 3.75)


def test_ties_are_one_step_so_a_constant_score_is_random(
    mens_vs_none: tuple[np.ndarray, np.ndarray],
) -> None:
    y, t = mens_vs_none
    assert qini_coefficient(y, np.zeros(len(y)), t) == pytest.approx(0.0, abs=1e-12)
    assert auuc(y, np.zeros(len(y)), t) == pytest.approx(0.0, abs=1e-12)


def test_perfect_ranking_scores_one_and_reversed_scores_negative(
    mens_vs_none: tuple[np.ndarray, np.ndarray],
) -> None:
    y, t = mens_vs_none
    perfect = perfect_score(y, t)
    assert qini_coefficient(y, perfect, t) == pytest.approx(1.0)
    assert auuc(y, perfect, t) == pytest.approx(1.0)
    assert qini_coefficient(y, -perfect, t) < -0.5


def test_random_rankings_average_zero(
    mens_vs_none: tuple[np.ndarray, np.ndarray],
) -> None:
    y, t = mens_vs_none
    rng = np.random.default_rng(0)
    scores = [qini_coefficient(y, rng.random(len(y)), t) for _ in range(40)]
    # Each random ranking is noise around zero; the perfect one is 1.
    assert abs(np.mean(scores)) < 0.01
    assert max(abs(s) for s in scores) < 0.05


def test_continuous_outcome_uses_the_same_definitions() -> None:
    y = Y * np.array([10.0, 0.0, 4.0, 0.0])
    assert qini_curve(y, SCORE, T).gain.tolist() == [0, 10, 10, 10 - 4 * 2, 10 - 4]
    assert qini_coefficient(y, perfect_score(y, T), T) == pytest.approx(1.0)


def test_bootstrap_is_paired_and_reproducible(
    mens_vs_none: tuple[np.ndarray, np.ndarray],
) -> None:
    y, t = mens_vs_none
    treatment = t.astype(np.int64)
    history = hillstrom_experiment().X[hillstrom_experiment().treatment != 2, 1]
    predictions = {"history": history[:, None], "random": np.zeros((len(y), 1))}
    a = evaluate_uplift(y, treatment, predictions, n_boot=30, seed=3)
    b = evaluate_uplift(y, treatment, predictions, n_boot=30, seed=3)
    assert np.array_equal(a.replicates["qini"], b.replicates["qini"])
    score = a.score("history")
    assert score.ci_low <= score.value <= score.ci_high
    assert a.score("random").value == pytest.approx(0.0, abs=1e-12)
    same = a.difference("history", "history")
    assert same.value == 0 and same.ci_low == 0 and same.ci_high == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="same length"):
        qini_curve(Y, SCORE[:3], T)
    with pytest.raises(InvalidInput, match="finite"):
        qini_curve(np.array([1.0, np.nan, 0, 0]), SCORE, T)
    with pytest.raises(InvalidInput, match="arm 1 has no rows"):
        evaluate_uplift(Y, np.zeros(4, dtype=int), {"m": np.zeros((4, 1))}, n_boot=0)
