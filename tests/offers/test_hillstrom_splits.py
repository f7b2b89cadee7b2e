"""The Hillstrom protocol repeated on hashed splits, and its summaries."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import (
    ARMS,
    compare_learners,
    hillstrom_experiment,
    one_standard_error_choice,
    split,
)
from shopkeeper.offers.hillstrom_splits import (
    RepeatedSplits,
    Replicate,
    repeated_splits,
    replicate,
)


def test_replicate_repeats_the_protocol_on_another_split() -> None:
    sample = hillstrom_experiment().subset(slice(0, 9000))
    learners = ("t_learner", "s_learner")
    headline = replicate("visit", 0, learners, experiment=sample, folds=2)
    again = replicate("visit", 0, learners, experiment=sample, folds=2)
    other = replicate("visit", 3, learners, experiment=sample, folds=2)
    assert headline == again
    assert headline.chosen in learners and other.chosen in learners
    for rep in (headline, other):
        assert all(len(v) == 2 for v in rep.validation_folds.values())
        assert rep.chosen == one_standard_error_choice(
            rep.validation_folds, "t_learner"
        )
    assert set(headline.qini) == set(learners)
    assert headline.qini != other.qini
    # Split 0 is the headline split: the same scores as the full comparison.
    c = compare_learners("visit", learners, experiment=sample, folds=2, n_boot=0)
    assert headline.chosen == c.chosen
    for name in learners:
        assert headline.qini[name] == pytest.approx(c.evaluation.score(name).value)
    # Every arm's "everyone" policy is that arm's mean on the other split's test half.
    _, test = split(sample, salt=3)
    for code, arm in enumerate(ARMS):
        assert other.policy[f"everyone: {arm}"] == pytest.approx(
            test.y("visit")[test.treatment == code].mean()
        )
    assert (
        other.policy["uplift policy"] == other.policy[f"uplift policy: {other.chosen}"]
    )


def _rep(
    salt: int, chosen: str, qini: dict[str, float], policy: dict[str, float]
) -> Replicate:
    return Replicate(salt, "spend", chosen, {n: [0.0, 0.0] for n in qini}, qini, policy)


def test_summaries_on_a_known_case() -> None:
    # Hand-made figures (no model is fitted), so every summary is checkable.
    rs = RepeatedSplits(
        "spend",
        (
            _rep(
                0,
                "t_learner",
                {"t_learner": 0.10, "x_learner": 0.20},
                {"uplift policy": 1.5, "everyone: A": 1.4, "everyone: B": 1.0},
            ),
            _rep(
                1,
                "t_learner",
                {"t_learner": 0.30, "x_learner": 0.00},
                {"uplift policy": 1.2, "everyone: A": 1.3, "everyone: B": 1.1},
            ),
            _rep(
                2,
                "x_learner",
                {"t_learner": 0.20, "x_learner": 0.40},
                {"uplift policy": 1.6, "everyone: A": 1.2, "everyone: B": 1.7},
            ),
        ),
    )
    assert rs.top() == ["x_learner", "t_learner", "x_learner"]
    t, x = rs.learner_rows()
    assert t == {
        "learner": "t_learner",
        "qini_mean": pytest.approx(0.2),
        "qini_sd": pytest.approx(0.1),
        "qini_min": pytest.approx(0.1),
        "qini_max": pytest.approx(0.3),
        "chosen_in": 2,
        "top_in": 1,
    }
    assert (x["chosen_in"], x["top_in"]) == (1, 2)
    # The choice's Qini per split: 0.1, 0.3, 0.4; it topped splits 1 and 2.
    assert rs.choice() == {
        "qini_mean": pytest.approx(0.8 / 3),
        "qini_sd": pytest.approx(np.std([0.1, 0.3, 0.4], ddof=1)),
        "top_in": 2,
    }
    policy = {p["policy"]: p for p in rs.policy_rows()}
    # Beats the best send-everyone policy only in split 0 (1.5 > 1.4).
    assert policy["uplift policy"]["beats_every_everyone_in"] == 1
    assert policy["uplift policy"]["value_mean"] == pytest.approx(4.3 / 3)
    assert policy["everyone: A"]["beats_every_everyone_in"] is None
    assert rs.as_dict()["splits"] == 3


def test_repeated_splits_runs_each_split_once_and_refuses_none() -> None:
    sample = hillstrom_experiment().subset(slice(0, 6000))
    rs = repeated_splits(
        "visit", 2, ("t_learner", "x_learner"), experiment=sample, folds=2
    )
    assert [r.salt for r in rs.replicates] == [0, 1]
    assert rs.replicates[1] == replicate(
        "visit", 1, ("t_learner", "x_learner"), experiment=sample, folds=2
    )
    with pytest.raises(InvalidInput, match="splits must be at least 1"):
        repeated_splits("visit", 0)
    with pytest.raises(InvalidInput, match="at least one replicate"):
        RepeatedSplits("visit", ())
