"""The bundled Hillstrom copy, its encoding, the hashed split and the comparison."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import (
    ARMS,
    GUARDED,
    Selection,
    compare_learners,
    hillstrom_experiment,
    load_hillstrom,
    one_standard_error_choice,
    split,
)


def test_bundled_copy_has_the_published_arms_and_rates() -> None:
    frame = load_hillstrom()
    assert len(frame) == 64_000
    data = hillstrom_experiment(frame)
    assert np.bincount(data.treatment).tolist() == [21306, 21307, 21387]
    rates = {
        o: [data.y(o)[data.treatment == a].mean() for a in range(3)]
        for o in ("visit", "conversion", "spend")
    }
    # data/hillstrom/README.md, in arm order No / Mens / Womens.
    assert rates["visit"] == pytest.approx([0.1062, 0.1828, 0.1514], abs=1e-4)
    assert rates["conversion"] == pytest.approx([0.00573, 0.01253, 0.00884], abs=1e-5)
    assert rates["spend"] == pytest.approx([0.653, 1.423, 1.077], abs=1e-3)
    assert data.X.shape == (64_000, len(data.feature_names))
    assert data.arms == ARMS


def test_split_is_deterministic_disjoint_and_stratified() -> None:
    data = hillstrom_experiment()
    train, test = split(data, 0.3)
    again_train, _ = split(data, 0.3)
    assert np.array_equal(train.row, again_train.row)
    assert not set(train.row) & set(test.row)
    assert len(train) + len(test) == len(data)
    assert np.allclose(test.arm_shares(), data.arm_shares(), atol=1e-4)
    assert len(test) == pytest.approx(0.3 * len(data), abs=2)
    other_train, _ = split(data, 0.3, salt=5)
    assert not np.array_equal(train.row, other_train.row)


def test_unknown_outcome_and_bad_share_are_refused() -> None:
    data = hillstrom_experiment()
    with pytest.raises(InvalidInput, match="unknown outcome 'revenue'"):
        data.y("revenue")
    with pytest.raises(InvalidInput, match="test_share"):
        split(data, 1.0)


def test_comparison_on_a_subsample() -> None:
    sample = hillstrom_experiment().subset(slice(0, 9000))
    c = compare_learners(
        "visit", ("t_learner", "s_learner"), experiment=sample, folds=2, n_boot=20
    )
    assert c.chosen in ("t_learner", "s_learner")
    assert c.chosen == one_standard_error_choice(c.validation_folds, "t_learner")
    assert c.validation == {
        n: pytest.approx(np.mean(v)) for n, v in c.validation_folds.items()
    }
    assert c.evaluation.offers == ARMS[1:]
    assert set(c.validation_policy) == {
        "t_learner",
        "s_learner",
        *(f"everyone: {arm}" for arm in ARMS),
        GUARDED,
    }
    # The guarded policy is one of the two it chooses between, on the test
    # split too.
    guarded = c.policies.value(GUARDED).value
    everyone = max(
        (n for n in c.validation_policy if n.startswith("everyone: ")),
        key=lambda n: c.validation_policy[n],
    )
    assert guarded in (
        c.policies.value("uplift policy").value,
        c.policies.value(everyone).value,
    )
    assert c.validation_policy[GUARDED] in (
        c.validation_policy[c.chosen],
        c.validation_policy[everyone],
    )
    # Sending everyone arm a is valued at arm a's test mean, exactly.
    y = sample.y("visit")
    _, test = split(sample)
    for code, arm in enumerate(ARMS):
        value = c.policies.value(f"everyone: {arm}").value
        assert value == pytest.approx(test.y("visit")[test.treatment == code].mean())
    assert 0 < c.policies.value("uplift policy").value < y.max()


def test_the_guarded_policy_targets_only_on_a_clear_lead() -> None:
    everyone = {"everyone: A": [1.0, 1.2, 1.1], "everyone: B": [0.9, 0.8, 1.0]}
    # Leads of +0.1 on every fold over the best arm A: no doubt, target.
    steady = Selection("t", {"t": [0.0] * 3}, {"t": [1.1, 1.3, 1.2], **everyone})
    assert steady.best_everyone == "everyone: A"
    assert steady.targets
    assert steady.policy["t"] == pytest.approx(1.2)
    # Leads of +0.3, -0.1, 0.0: mean 0.067 < one standard error 0.12.
    noisy = Selection("t", {"t": [0.0] * 3}, {"t": [1.3, 1.1, 1.1], **everyone})
    assert not noisy.targets


def test_the_default_learner_stays_unless_another_clearly_leads_it() -> None:
    # A steady lead of 0.1 on every fold: the standard error is 0, so it wins.
    steady = {"t_learner": [0.1, 0.1, 0.1], "x_learner": [0.2, 0.2, 0.2]}
    assert one_standard_error_choice(steady, "t_learner") == "x_learner"
    # Leads of +0.2, -0.1, +0.05: mean 0.05 < one standard error 0.15 / sqrt(3).
    lucky = {"t_learner": [0.1, 0.2, 0.3], "x_learner": [0.3, 0.1, 0.35]}
    assert one_standard_error_choice(lucky, "t_learner") == "t_learner"
    # Without the default among the candidates: the best mean.
    assert one_standard_error_choice(lucky, "s_learner") == "x_learner"
    # The default leading needs no test at all.
    assert one_standard_error_choice(lucky, "x_learner") == "x_learner"
