"""IPS policy values on the randomized Hillstrom test."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import hillstrom_experiment
from shopkeeper.offers.policy import best_offer_policy, ips_terms, policy_values


def test_ips_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    treatment = np.array([0, 1, 0, 1])
    policy = np.array([0, 0, 1, 1])
    # Agreeing rows 0 and 3 stand for 1/0.5 customers each: (2 + 8) / 4.
    terms = ips_terms(y, treatment, policy, np.array([0.5, 0.5]))
    assert terms.tolist() == [2.0, 0.0, 0.0, 8.0]


def test_constant_policies_reproduce_the_arm_means() -> None:
    data = hillstrom_experiment()
    y, t = data.y("spend"), data.treatment
    n = len(y)
    policies = {arm: np.full(n, code) for code, arm in enumerate(data.arms)}
    values = policy_values(y, t, policies, data.arm_shares(), n_boot=50, seed=0)
    # The README's arm rates: spend 0.653 / 1.423 / 1.077.
    for code, arm in enumerate(data.arms):
        assert values.value(arm).value == pytest.approx(y[t == code].mean())
    assert values.value("No E-Mail").value == pytest.approx(0.6528, abs=1e-4)
    mens = values.value("Mens E-Mail")
    assert mens.ci_low < 1.4226 < mens.ci_high
    diff = values.difference("Mens E-Mail", "No E-Mail")
    assert 0 < diff.ci_low < diff.value < diff.ci_high


def test_normal_and_bootstrap_intervals_agree() -> None:
    data = hillstrom_experiment()
    policy = {"mens": np.ones(len(data), dtype=np.int64)}
    args = (data.y("visit"), data.treatment, policy, data.arm_shares())
    boot = policy_values(*args, n_boot=200, seed=1).value("mens")
    normal = policy_values(*args, ci="normal").value("mens")
    assert normal.value == boot.value
    assert normal.stderr == pytest.approx(boot.stderr, rel=0.25)


def test_best_offer_policy_picks_the_top_net_uplift_or_none() -> None:
    uplift = np.array([[0.1, 0.3], [-0.1, -0.2], [0.2, 0.1]])
    assert best_offer_policy(uplift).tolist() == [2, 0, 1]
    assert best_offer_policy(uplift, cost=0.25).tolist() == [2, 0, 0]


def test_bad_arms_are_refused() -> None:
    with pytest.raises(InvalidInput, match="arm codes 0..1"):
        ips_terms(np.ones(2), np.array([0, 2]), np.array([0, 1]), np.array([0.5, 0.5]))
    with pytest.raises(InvalidInput, match="probability"):
        ips_terms(np.ones(2), np.array([0, 1]), np.array([0, 1]), np.array([0.0, 1.0]))
