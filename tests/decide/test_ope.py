"""Off-policy estimators and bandit propensities, on known answers and real logs.

The small cases use generated logs on purpose: only there is the true value of
the evaluation policy known exactly. The Open Bandit test then checks the same
estimators against a real, independently observed click rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopkeeper.decide.bandits import LinUCB, Placements, ThompsonSampling
from shopkeeper.decide.decisions import Decider
from shopkeeper.decide.feedback import ArmStats
from shopkeeper.decide.online_store import open_store
from shopkeeper.decide.ope import (
    LoggedBandit,
    dm,
    dr,
    empirical_action_distribution,
    fit_reward_model,
    ips,
    load_open_bandit,
    open_bandit_policies,
    snips,
    uniform_action_distribution,
    validate_open_bandit,
)

CLICK = np.array([0.1, 0.3, 0.6])  # true click probability of each action
LOGGING = np.array([0.5, 0.3, 0.2])  # the logging policy's propensities
TARGET = np.array([0.2, 0.0, 0.8])  # the evaluation policy
TRUE_VALUE = float(TARGET @ CLICK)  # 0.5


def exact_log() -> LoggedBandit:
    """A generated log whose empirical distribution *is* the population.

    1,000 rows: action ``a`` appears ``1000 * LOGGING[a]`` times and exactly a
    ``CLICK[a]`` share of those rows clicked. Any estimator that is unbiased
    therefore returns the true value exactly, with no sampling noise.
    """
    actions, rewards = [], []
    for a, (p, q) in enumerate(zip(LOGGING, CLICK, strict=True)):
        rows = round(1000 * p)
        clicks = round(rows * q)
        actions += [a] * rows
        rewards += [1.0] * clicks + [0.0] * (rows - clicks)
    actions_arr = np.array(actions)
    return LoggedBandit(
        actions=actions_arr,
        positions=np.zeros(len(actions_arr), dtype=int),
        rewards=np.array(rewards),
        propensities=LOGGING[actions_arr],
        contexts=np.zeros((len(actions_arr), 1)),
        n_actions=3,
    )


def sampled_log(n: int, seed: int) -> LoggedBandit:
    """A generated log drawn at random from the same bandit (noise included)."""
    rng = np.random.default_rng(seed)
    actions = rng.choice(3, size=n, p=LOGGING)
    return LoggedBandit(
        actions=actions,
        positions=np.zeros(n, dtype=int),
        rewards=(rng.random(n) < CLICK[actions]).astype(float),
        propensities=LOGGING[actions],
        contexts=np.zeros((n, 1)),
        n_actions=3,
    )


def target(log: LoggedBandit) -> np.ndarray:
    return np.tile(TARGET, (len(log), 1))


def test_estimators_are_exact_on_the_population_log() -> None:
    log = exact_log()
    truth_q = np.tile(CLICK, (len(log), 1))
    assert ips(log, target(log)).value == pytest.approx(TRUE_VALUE)
    assert snips(log, target(log)).value == pytest.approx(TRUE_VALUE)
    assert dm(log, target(log), truth_q).value == pytest.approx(TRUE_VALUE)
    assert dr(log, target(log), truth_q).value == pytest.approx(TRUE_VALUE)
    # DR stays exact with a wrong reward model, because the propensities are right.
    wrong_q = np.full((len(log), 3), 0.9)
    assert dm(log, target(log), wrong_q).value == pytest.approx(0.9)
    assert dr(log, target(log), wrong_q).value == pytest.approx(TRUE_VALUE)


def test_ips_and_snips_by_hand() -> None:
    log = LoggedBandit(
        actions=np.array([0, 1, 1, 0]),
        positions=np.zeros(4, dtype=int),
        rewards=np.array([1.0, 0.0, 1.0, 0.0]),
        propensities=np.array([0.5, 0.25, 0.25, 0.5]),
        contexts=np.zeros((4, 0)),
        n_actions=2,
    )
    dist = np.tile([0.25, 0.75], (4, 1))
    # weights: 0.5, 3, 3, 0.5; weighted rewards: 0.5, 0, 3, 0
    assert ips(log, dist).value == pytest.approx(3.5 / 4)
    assert snips(log, dist).value == pytest.approx(3.5 / 7)


def test_ips_is_unbiased_on_sampled_logs() -> None:
    values = [
        ips(sampled_log(2000, seed), target(sampled_log(2000, seed)), n_boot=2)
        for seed in range(200)
    ]
    mean = np.mean([v.value for v in values])
    stderr = np.std([v.value for v in values], ddof=1) / np.sqrt(len(values))
    assert abs(mean - TRUE_VALUE) < 4 * stderr


def test_intervals_cover_and_agree() -> None:
    log = sampled_log(5000, seed=1)
    boot = snips(log, target(log), n_boot=500, seed=3)
    normal = snips(log, target(log), ci="normal")
    assert boot.ci_low < TRUE_VALUE < boot.ci_high
    assert normal.ci_low < TRUE_VALUE < normal.ci_high
    assert boot.stderr == pytest.approx(normal.stderr, rel=0.2)
    assert boot == snips(log, target(log), n_boot=500, seed=3)  # seeded


def test_dr_with_a_perfect_reward_model_equals_dm() -> None:
    log = sampled_log(500, seed=2)
    q_hat = np.tile(CLICK, (len(log), 1))
    q_hat[np.arange(len(log)), log.actions] = log.rewards  # predicts every outcome
    assert dr(log, target(log), q_hat).value == pytest.approx(
        dm(log, target(log), q_hat).value
    )


def test_snips_on_policy_is_the_observed_mean() -> None:
    log = load_open_bandit("men")["random"]
    same = uniform_action_distribution(log)  # the random log's own policy
    assert np.allclose(log.propensities, same[0, 0])
    assert snips(log, same, n_boot=10).value == pytest.approx(log.rewards.mean())


def test_zero_propensity_is_refused() -> None:
    with pytest.raises(ValueError, match="exploration floor"):
        LoggedBandit(
            actions=np.array([0]),
            positions=np.array([0]),
            rewards=np.array([1.0]),
            propensities=np.array([0.0]),
            contexts=np.zeros((1, 0)),
            n_actions=2,
        )


def test_cross_fitted_reward_model_is_calibrated() -> None:
    log = load_open_bandit("all")["random"]
    q_hat = fit_reward_model(log)
    assert q_hat.shape == (len(log), log.n_actions)
    assert ((q_hat > 0) & (q_hat < 1)).all()
    chosen = q_hat[np.arange(len(log)), log.actions]
    assert chosen.mean() == pytest.approx(log.rewards.mean(), rel=0.3)


def test_thompson_sampling_propensities() -> None:
    ts = ThompsonSampling(5, epsilon=0.02, n_draws=2000, seed=7)
    # item 3: 45 clicks in 50; item 1: none in 50; the rest unseen (Beta(1, 1))
    ts.update(np.array([3] * 50 + [1] * 50), np.array([1.0] * 45 + [0.0] * 55))
    dist = ts.action_distribution()
    assert dist.sum() == pytest.approx(1.0)
    assert dist.min() >= 0.02 - 1e-12
    assert dist.argmax() == 3
    assert np.array_equal(dist, ts.action_distribution())  # seeded by state
    subset = np.array([1, 4])
    choice = ts.choose(subset)
    assert choice.item in (1, 4)
    sub = ts.action_distribution(subset)
    assert sub.sum() == pytest.approx(1.0)
    assert choice.propensity == pytest.approx(sub[list(subset).index(choice.item)])
    with pytest.raises(ValueError, match="floor"):
        ThompsonSampling(100, epsilon=0.02).action_distribution()


def test_thompson_sampling_learns_online_with_honest_propensities() -> None:
    rng = np.random.default_rng(0)
    ts = ThompsonSampling(3, epsilon=0.05, n_draws=500, seed=1)
    logged = []
    for _ in range(600):
        choice = ts.choose()
        reward = float(rng.random() < CLICK[choice.item])
        ts.update(np.array([choice.item]), np.array([reward]))
        logged.append((choice.item, reward, choice.propensity))
    assert ts.action_distribution().argmax() == 2
    actions, rewards, props = (np.array(x) for x in zip(*logged, strict=True))
    assert props.min() >= 0.05 - 1e-12
    log = LoggedBandit(
        actions, np.zeros(600, int), rewards, props, np.zeros((600, 0)), n_actions=3
    )
    # Its own adaptive log still evaluates the uniform policy sensibly.
    est = snips(log, uniform_action_distribution(log), n_boot=300)
    assert est.ci_low < CLICK.mean() < est.ci_high


def test_linucb_propensities_and_learning() -> None:
    ucb = LinUCB(3, alpha=0.1, epsilon=0.05, seed=0)
    features = np.eye(3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        choice = ucb.choose(features)
        reward = float(rng.random() < CLICK[choice.item])
        ucb.update(features[choice.item], np.array([reward]))
    dist = ucb.action_distribution(features)
    assert dist.sum() == pytest.approx(1.0)
    assert dist.min() >= 0.05 - 1e-12
    assert dist.argmax() == 2
    batch = ucb.action_distribution(np.stack([features, features[::-1]]))
    assert batch.shape == (2, 3)
    assert np.allclose(batch.sum(axis=1), 1.0)
    assert np.allclose(batch[1], dist[::-1])


def test_placements_are_independent_and_reproducible() -> None:
    first = Placements(lambda seed: ThompsonSampling(4, seed=seed))
    second = Placements(lambda seed: ThompsonSampling(4, seed=seed))
    picks_a = [first["home"].choose().item for _ in range(20)]
    second["cart"].choose()  # another placement used first changes nothing
    picks_b = [second["home"].choose().item for _ in range(20)]
    assert picks_a == picks_b
    assert "home" in first and "cart" not in first


def test_open_bandit_logs_match_the_published_rates() -> None:
    logs = load_open_bandit("all")
    assert len(logs["bts"]) == len(logs["random"]) == 10_000
    assert logs["bts"].rewards.mean() == pytest.approx(0.0042)
    assert logs["random"].rewards.mean() == pytest.approx(0.0038)
    dist = empirical_action_distribution(logs["bts"])
    assert np.allclose(dist.sum(axis=1), 1.0)
    pol = open_bandit_policies(logs)
    assert pol[("random", "bts")].shape == (10_000, 80)


def test_open_bandit_validation_recovers_the_other_logs_click_rate() -> None:
    """Real data: each log's estimate of the other policy's observed click rate.

    The truth is itself a 10,000-row click rate (about 40 clicks), so the
    check allows for both uncertainties: the estimate may be off by at most
    1.96 standard errors of the difference, and by at most 60 % relative.
    """
    logs = load_open_bandit("all")
    rows = validate_open_bandit(
        "all", logs=logs, estimators=("ips", "snips", "dr"), n_boot=300
    )
    assert len(rows) == 6
    for row in rows:
        n = len(logs[row.policy])
        truth_se = np.sqrt(row.truth * (1 - row.truth) / n)
        gap = abs(row.estimate.value - row.truth)
        assert gap <= 1.96 * np.hypot(row.estimate.stderr, truth_se), row
        assert abs(row.relative_error) < 0.6, row


def test_decide_reranking_logs_the_propensity_it_showed_with(tmp_path: Path) -> None:
    """The decide path's Thompson re-ranking: the propensity logged for an item
    at a position is the share of decisions that put it there.

    Generated scores and feedback on purpose: the propensity is a property of
    the sampler, and only repeated decisions on one fixed state measure it.
    """
    store = open_store(f"sqlite:///{tmp_path / 'online.sqlite'}")
    arms = ArmStats()
    decider = Decider(
        store, arms, daily_caps={}, quiet_hours=(22, 7), exploration=0.1, seed=3
    )
    scores = [0.30, 0.28, 0.27, 0.2, 0.1, 0.05, 0.04, 0.01]
    candidates = [{"product_id": str(i), "score": s} for i, s in enumerate(scores)]
    # Learned clicks move item 4 up; item 0 has been shown without clicks.
    arms.shown("home", [c["product_id"] for c in candidates] * 20)
    arms.shown("home", ["4"] * 200 + ["0"] * 200)
    for _ in range(80):
        arms.clicked("home", "4")
    # Synced through the store, as every worker does each second (the totals
    # come back as integers).
    arms.sync(store)
    n, limit = 20_000, 3
    counts: dict[tuple[int, int], int] = {}
    logged: dict[tuple[int, int], float] = {}
    for _ in range(n):
        shown, propensities = decider._rank("home", candidates, limit)
        assert len(set(shown)) == limit and all(0 < p <= 1 for p in propensities)
        for position, (item, p) in enumerate(zip(shown, propensities, strict=True)):
            counts[item, position] = counts.get((item, position), 0) + 1
            logged[item, position] = logged.get((item, position), 0.0) + p
    store.close()
    for key, count in counts.items():
        assert logged[key] / count == pytest.approx(count / n, abs=0.015), key
    # Every item can appear anywhere (the exploration floor), and item 4,
    # clicked 40% of the time, leads most often.
    top = max(range(len(scores)), key=lambda i: counts.get((i, 0), 0))
    assert top == 4
    assert min(logged[k] / counts[k] for k in counts) >= 0.1 / len(scores) - 1e-9
