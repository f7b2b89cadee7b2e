"""Uplift learners: known effects on generated data, average effects on Hillstrom."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from shopkeeper.errors import ConfigError, InvalidInput
from shopkeeper.offers.hillstrom import hillstrom_experiment, split
from shopkeeper.offers.metrics import evaluate_uplift
from shopkeeper.offers.uplift import LEARNERS, make_learner

ALL = sorted(LEARNERS)


@pytest.fixture(scope="module")
def known_effects() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generated three-arm RCT with known per-customer effects.

    Real data has no ground truth for individual effects, so this case is
    simulated: offer 1 lifts the buy rate by 0.3 when x0 > 0.5, offer 2 by
    0.3 when x1 > 0.5, and the arms are assigned at random.
    """
    rng = np.random.default_rng(0)
    n = 6000
    X = rng.random((n, 3))
    treatment = rng.integers(0, 3, n)
    tau = np.column_stack([0.3 * (X[:, 0] > 0.5), 0.3 * (X[:, 1] > 0.5)])
    base = 0.1 + 0.2 * X[:, 2]
    p = base + np.where(treatment == 0, 0.0, tau[np.arange(n), treatment - 1])
    y = (rng.random(n) < p).astype(np.float64)
    return X, treatment, y, tau


@pytest.mark.parametrize("name", ALL)
def test_learners_recover_who_each_offer_helps(
    name: str, known_effects: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X, treatment, y, tau = known_effects
    fit, held = slice(0, 4000), slice(4000, None)
    uplift = make_learner(name).fit(X[fit], treatment[fit], y[fit]).predict(X[held])
    assert uplift.shape == (2000, 2)
    for k in range(2):
        # Each offer's prediction follows its own effect, not the other's.
        assert np.corrcoef(uplift[:, k], tau[held, k])[0, 1] > 0.6
        assert np.corrcoef(uplift[:, k], tau[held, 1 - k])[0, 1] < 0.3
    ev = evaluate_uplift(y[held], treatment[held], {name: uplift}, n_boot=0)
    assert ev.score(name).value > 0.1


def test_continuous_outcome(
    known_effects: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, treatment, y, tau = known_effects
    spend = y * 20.0  # generated: every buyer spends 20, so uplift is 20 * tau
    for name in ("t_learner", "dr_learner", "class_transformation"):
        uplift = make_learner(name).fit(X, treatment, spend).predict(X)
        assert np.corrcoef(uplift[:, 0], tau[:, 0])[0, 1] > 0.6, name
        assert uplift[X[:, 0] > 0.5, 0].mean() == pytest.approx(6.0, abs=2.0)


def test_hillstrom_average_uplift_matches_the_arm_means() -> None:
    train, test = split(hillstrom_experiment().subset(slice(0, 20000)), 0.5)
    y = train.y("visit")
    ate = [
        y[train.treatment == k].mean() - y[train.treatment == 0].mean() for k in (1, 2)
    ]
    for name in ("t_learner", "x_learner", "dr_learner", "ensemble"):
        uplift = make_learner(name).fit(train.X, train.treatment, y).predict(test.X)
        assert uplift.mean(axis=0) == pytest.approx(ate, abs=0.02), name
        # Mens e-mail lifts visits more than Womens on average (0.077 vs 0.045).
        assert uplift[:, 0].mean() > uplift[:, 1].mean()


def test_sklearn_base_model_works_too(
    known_effects: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from shopkeeper.offers.uplift import BaseModel

    X, treatment, y, tau = known_effects
    learner = make_learner("t_learner", base=BaseModel(base="sklearn", n_estimators=30))
    # One OpenMP thread: the suite shares two cores, and threads oversubscribe.
    with threadpool_limits(limits=1):
        uplift = learner.fit(X, treatment, y).predict(X)
    assert np.corrcoef(uplift[:, 1], tau[:, 1])[0, 1] > 0.6


def test_registry_and_contract_errors() -> None:
    with pytest.raises(ConfigError, match="unknown uplift learner 'u_learner'"):
        make_learner("u_learner")
    with pytest.raises(ConfigError, match="bad config for t_learner"):
        make_learner("t_learner", depth=3)
    with pytest.raises(InvalidInput, match="call fit before predict"):
        make_learner("t_learner").predict(np.zeros((1, 2)))
    X = np.zeros((4, 2))
    with pytest.raises(InvalidInput, match="arm codes 0"):
        make_learner("t_learner").fit(X, np.array([1, 1, 2, 2]), np.zeros(4))
    with pytest.raises(InvalidInput, match="one treatment and one outcome"):
        make_learner("t_learner").fit(X, np.array([0, 1]), np.zeros(4))
