"""Off-policy evaluation: what would another policy have earned on this traffic?

Every decision Shopkeeper makes is logged with the probability it was chosen
with (its propensity). That lets us estimate, from the exposure log alone, the
click rate a *different* policy would have had, before anyone ships it. Four
estimators, written from their definitions (obp does not install on 3.11):

- **IPS** (Horvitz-Thompson): ``mean(w * r)`` with ``w = pi_e(a|x) / p_b(a|x)``.
  Unbiased when the logged propensities are right and positive; high variance
  when ``p_b`` is small.
- **SNIPS** (Swaminathan & Joachims 2015): ``sum(w * r) / sum(w)``. A ratio
  estimator: slightly biased, far less variance, and invariant to a constant
  scale error in the propensities.
- **DM** (direct method): ``mean_i sum_a pi_e(a|x_i) q(x_i, a)`` with a reward
  model ``q``. Low variance, biased exactly as much as ``q`` is wrong.
- **DR** (Dudík, Langford & Li 2011): ``DM + mean(w * (r - q(x, a)))``.
  Unbiased if either the propensities or ``q`` are right.

``q`` comes from :func:`fit_reward_model`: an L2 logistic regression on
item, position, user features and user-item affinity, **cross-fitted** (each
row's prediction comes from a model that never saw that row) so that DR's
correction term is not cancelled by an overfit model.

Intervals: every estimate carries a seeded nonparametric **bootstrap** over
log rows (percentile interval, ``stderr`` = bootstrap standard deviation),
or the normal approximation when ``ci="normal"``. The reward model is held
fixed across resamples (it is cross-fitted once), which slightly understates
DM's and DR's uncertainty.

Positions. The Open Bandit logs have one row per (impression, slot); each slot
(``position`` 1-3) gets about a third of the rows in both logs. Every estimate
here is a mean over *rows*, so it estimates the click rate pooled over
positions weighted by the log's own position mix, which is how "the click rate
actually observed" in the other log is computed (``mean(click)`` over all its
rows). Evaluation policies are given per row, i.e. conditional on that row's
position: ``action_dist[i, a] = pi_e(a | x_i, position_i)``.

What the Open Bandit validation estimates (see :func:`open_bandit_policies`):

- **BTS log -> random policy.** The random policy shows each of the campaign's
  ``n`` items with probability ``1/n`` in every position, so
  ``pi_e = 1/n`` and ``p_b`` is the BTS log's ``propensity_score``, which is
  Bernoulli TS's own probability of the item in that slot at that moment.
- **random log -> BTS policy.** Here the evaluation policy is BTS, and its
  probabilities for the items the random policy happened to show are not in
  either log (obp simulates BTS from ZOZO's production posteriors, which are
  not in the data). BTS's posteriors also moved during the week: its logged
  propensity for one (item, slot) spans a factor of about 30 (median over
  pairs; up to thousands) across the week. So we evaluate BTS's
  *time-averaged* behaviour, ``pi_BTS(a | position)`` = the share of that
  position's rows in the BTS log that showed item ``a`` (the
  Horvitz-Thompson estimate of BTS's propensities averaged over its rows).
  BTS ignores user features, so if click rates do not drift within the week
  this policy's value equals the BTS log's expected click rate, and the truth
  is the BTS log's observed click rate. Only the BTS log's *actions* are
  used, never its clicks, so the comparison stays honest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

__all__ = [
    "OPEN_BANDIT_DIR",
    "Estimate",
    "LoggedBandit",
    "ValidationRow",
    "dm",
    "dr",
    "empirical_action_distribution",
    "fit_reward_model",
    "ips",
    "load_open_bandit",
    "open_bandit_policies",
    "snips",
    "uniform_action_distribution",
    "validate_open_bandit",
]

OPEN_BANDIT_DIR = Path(__file__).parents[3] / "data" / "open-bandit"
"""The repository's copy of the small Open Bandit Dataset (see its README)."""

CI = Literal["bootstrap", "normal"]


@dataclass(frozen=True)
class Estimate:
    """A policy value, its standard error and confidence interval (95% by default)."""

    value: float
    stderr: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """Plain floats, for JSON results."""
        return {
            "value": self.value,
            "stderr": self.stderr,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


@dataclass(frozen=True)
class LoggedBandit:
    """An exposure log: what was shown, where, with what probability, and the result.

    Attributes:
        actions: chosen action (item index ``0..n_actions-1``) per row.
        positions: slot index ``0..n_positions-1`` per row.
        rewards: observed outcome per row (click = 1.0).
        propensities: the logging policy's probability of that action in that
            slot for that row; must be positive.
        contexts: numeric row features (n, d), e.g. one-hot user features.
        n_actions: size of the action set (the campaign's items).
        n_positions: number of slots.
        affinities: optional (n, n_actions) user-item features; the reward
            model uses the column of the action it scores.
    """

    actions: np.ndarray
    positions: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    contexts: np.ndarray
    n_actions: int
    n_positions: int = 1
    affinities: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.actions)
        for name in ("positions", "rewards", "propensities", "contexts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, not {n}")
        if self.affinities is not None and self.affinities.shape != (
            n,
            self.n_actions,
        ):
            raise ValueError("affinities must have shape (rows, n_actions)")
        if n and not (0 <= self.actions.min() and self.actions.max() < self.n_actions):
            raise ValueError("actions must lie in 0..n_actions-1")
        if n and not (
            0 <= self.positions.min() and self.positions.max() < self.n_positions
        ):
            raise ValueError("positions must lie in 0..n_positions-1")
        if n and not (self.propensities > 0).all():
            raise ValueError(
                "every logged propensity must be positive; log with an exploration "
                "floor so that off-policy evaluation is possible"
            )

    def __len__(self) -> int:
        return len(self.actions)

    def subset(self, rows: np.ndarray | slice) -> LoggedBandit:
        """The log restricted to ``rows`` (a mask, indices or a slice)."""
        return LoggedBandit(
            actions=self.actions[rows],
            positions=self.positions[rows],
            rewards=self.rewards[rows],
            propensities=self.propensities[rows],
            contexts=self.contexts[rows],
            n_actions=self.n_actions,
            n_positions=self.n_positions,
            affinities=None if self.affinities is None else self.affinities[rows],
        )

    def chosen(self, action_dist: np.ndarray) -> np.ndarray:
        """``action_dist[i, actions[i]]``: pi_e of each logged action."""
        _check_dist(self, action_dist)
        return action_dist[np.arange(len(self)), self.actions]


# --------------------------------------------------------------------------
# Estimators


def ips(
    log: LoggedBandit,
    action_dist: np.ndarray,
    *,
    ci: CI = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Inverse propensity scoring: ``mean(pi_e(a|x) / p_b(a|x) * r)``.

    Args:
        log: the logging policy's exposures.
        action_dist: (rows, n_actions) evaluation-policy probabilities per row.
        ci: ``"bootstrap"`` (seeded, percentile) or ``"normal"``.
        n_boot: bootstrap resamples.
        level: interval coverage.
        seed: bootstrap seed.
    """
    terms = log.chosen(action_dist) / log.propensities * log.rewards
    return _summarize(terms, None, ci=ci, n_boot=n_boot, level=level, seed=seed)


def snips(
    log: LoggedBandit,
    action_dist: np.ndarray,
    *,
    ci: CI = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Self-normalized IPS: ``sum(w * r) / sum(w)``; arguments as :func:`ips`."""
    weights = log.chosen(action_dist) / log.propensities
    if weights.sum() <= 0:
        raise ValueError("the evaluation policy gives zero weight to every row")
    return _summarize(
        weights * log.rewards, weights, ci=ci, n_boot=n_boot, level=level, seed=seed
    )


def dm(
    log: LoggedBandit,
    action_dist: np.ndarray,
    q_hat: np.ndarray,
    *,
    ci: CI = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Direct method: ``mean_i sum_a pi_e(a|x_i) q_hat[i, a]``.

    ``q_hat`` is (rows, n_actions): the modelled expected reward of every action
    for every row, e.g. from :func:`fit_reward_model`. Other arguments as
    :func:`ips`.
    """
    _check_dist(log, q_hat)
    terms = (action_dist * q_hat).sum(axis=1)
    return _summarize(terms, None, ci=ci, n_boot=n_boot, level=level, seed=seed)


def dr(
    log: LoggedBandit,
    action_dist: np.ndarray,
    q_hat: np.ndarray,
    *,
    ci: CI = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Doubly robust: DM plus the IPS-weighted residual of the reward model.

    ``mean_i [sum_a pi_e(a|x_i) q_hat[i,a] + w_i (r_i - q_hat[i, a_i])]``.
    Arguments as :func:`dm`.
    """
    _check_dist(log, q_hat)
    rows = np.arange(len(log))
    weights = log.chosen(action_dist) / log.propensities
    residual = log.rewards - q_hat[rows, log.actions]
    terms = (action_dist * q_hat).sum(axis=1) + weights * residual
    return _summarize(terms, None, ci=ci, n_boot=n_boot, level=level, seed=seed)


def _check_dist(log: LoggedBandit, matrix: np.ndarray) -> None:
    if matrix.shape != (len(log), log.n_actions):
        raise ValueError(
            f"expected a (rows, n_actions) = {(len(log), log.n_actions)} matrix, "
            f"got {matrix.shape}"
        )


def _summarize(
    numerator: np.ndarray,
    denominator: np.ndarray | None,
    *,
    ci: CI,
    n_boot: int,
    level: float,
    seed: int,
) -> Estimate:
    """Point estimate ``sum(num)/sum(den)`` (den = 1s if None) with an interval."""
    n = len(numerator)
    if n == 0:
        raise ValueError("cannot estimate from an empty log")
    den = np.ones(n) if denominator is None else denominator
    value = float(numerator.sum() / den.sum())
    alpha = 1.0 - level
    if ci == "normal":
        # Delta method for the ratio; for den = 1 it is the plain standard error.
        influence = (numerator - value * den) / den.mean()
        stderr = float(influence.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        z = float(norm.ppf(1 - alpha / 2))
        return Estimate(value, stderr, value - z * stderr, value + z * stderr)
    if ci != "bootstrap":
        raise ValueError(f"ci must be 'bootstrap' or 'normal', not {ci!r}")
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        num, dsum = numerator[idx].sum(axis=1), den[idx].sum(axis=1)
        # A resample with no weight at all has no SNIPS value; count it as 0.
        stats[start:stop] = np.divide(num, dsum, out=np.zeros_like(num), where=dsum > 0)
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(stats.std(ddof=1)), float(low), float(high))


# --------------------------------------------------------------------------
# Reward model and evaluation policies


def fit_reward_model(
    log: LoggedBandit, *, folds: int = 2, c: float = 0.1, seed: int = 0
) -> np.ndarray:
    """Cross-fitted click model: ``q_hat[i, a]`` = P(click | row i's context, a).

    An L2 logistic regression, additive in the action (one-hot), the position
    (one-hot), the row's ``contexts`` and the user-item affinity of the action
    scored. Rows are split into ``folds`` seeded folds; each fold is predicted
    by a model fitted on the others, so DR's residuals are out of sample.
    ``c`` is the inverse L2 strength: strong by default because clicks are rare
    (about 40 in a 10,000-row Open Bandit log). A fold whose training rows hold
    a single outcome class gets that class's constant rate.
    """
    n = len(log)
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(np.arange(n) % folds)
    q_hat = np.empty((n, log.n_actions))
    chosen_affinity = (
        np.zeros(n)
        if log.affinities is None
        else log.affinities[np.arange(n), log.actions]
    )
    design = np.hstack(
        [
            np.eye(log.n_actions)[log.actions],
            np.eye(log.n_positions)[log.positions],
            log.contexts,
            chosen_affinity[:, None],
        ]
    )
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        if folds == 1:
            train = test
        y = log.rewards[train] > 0
        if y.all() or not y.any():
            q_hat[test] = float(y.mean())
            continue
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(design[train], y)
        coef = model.coef_[0]
        w_action = coef[: log.n_actions]
        w_position = coef[log.n_actions : log.n_actions + log.n_positions]
        w_context = coef[log.n_actions + log.n_positions : -1]
        w_affinity = coef[-1]
        # The model is additive in the logit, so every action's score for a row
        # is the row's part plus the action's part: no (rows x actions) design.
        row_part = (
            model.intercept_[0]
            + w_position[log.positions[test]]
            + log.contexts[test] @ w_context
        )
        logit = row_part[:, None] + w_action[None, :]
        if log.affinities is not None:
            logit = logit + w_affinity * log.affinities[test]
        q_hat[test] = 1.0 / (1.0 + np.exp(-logit))
    return q_hat


def uniform_action_distribution(log: LoggedBandit) -> np.ndarray:
    """The uniformly random policy: ``1 / n_actions`` for every row and action."""
    return np.full((len(log), log.n_actions), 1.0 / log.n_actions)


def empirical_action_distribution(log: LoggedBandit) -> np.ndarray:
    """A context-free policy's time-averaged behaviour, per position.

    Returns (n_positions, n_actions): the share of each position's rows that
    showed each action. For a policy that ignores the user, this is an unbiased
    estimate of its propensities averaged over the log; index it with another
    log's positions (``dist[other.positions]``) to evaluate it there.
    """
    counts = np.zeros((log.n_positions, log.n_actions))
    np.add.at(counts, (log.positions, log.actions), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


# --------------------------------------------------------------------------
# The Open Bandit Dataset


def load_open_bandit(
    campaign: str = "all", *, root: Path | None = None
) -> dict[str, LoggedBandit]:
    """Both logs (``"bts"``, ``"random"``) of one Open Bandit campaign.

    Rows are in time order. ``contexts`` one-hot encode the four hashed user
    features with categories shared by the two logs (so a model can train on
    both); ``affinities`` are the ``user-item_affinity_*`` columns; positions
    1-3 become 0-2.
    """
    folder = OPEN_BANDIT_DIR if root is None else root
    frames = {
        policy: pd.read_parquet(folder / policy / f"{campaign}.parquet")
        .sort_values("timestamp", kind="stable")
        .reset_index(drop=True)
        for policy in ("bts", "random")
    }
    user_cols = [c for c in frames["bts"].columns if c.startswith("user_feature_")]
    affinity_cols = [c for c in frames["bts"].columns if c.startswith("user-item_")]
    n_actions = len(affinity_cols)
    both = pd.concat([frames["bts"], frames["random"]], ignore_index=True)
    categories = {c: sorted(both[c].unique()) for c in user_cols}
    logs = {}
    for policy, frame in frames.items():
        contexts = np.hstack(
            [
                np.asarray(
                    pd.Categorical(frame[c], categories=categories[c]).codes[:, None]
                    == np.arange(len(categories[c]))[None, :],
                    dtype=float,
                )
                for c in user_cols
            ]
        )
        logs[policy] = LoggedBandit(
            actions=frame["item_id"].to_numpy(),
            positions=frame["position"].to_numpy() - 1,
            rewards=frame["click"].to_numpy(dtype=float),
            propensities=frame["propensity_score"].to_numpy(dtype=float),
            contexts=contexts,
            n_actions=n_actions,
            n_positions=int(both["position"].max()),
            affinities=frame[affinity_cols].to_numpy(dtype=float),
        )
    return logs


def open_bandit_policies(
    logs: Mapping[str, LoggedBandit],
) -> dict[tuple[str, str], np.ndarray]:
    """Evaluation action distributions for the two validation directions.

    Keys are ``(log, evaluated policy)``: ``("bts", "random")`` is the uniform
    policy on the BTS log's rows; ``("random", "bts")`` is BTS's time-averaged
    per-position distribution (from the BTS log's actions, see the module
    docstring) on the random log's rows.
    """
    bts, random = logs["bts"], logs["random"]
    return {
        ("bts", "random"): uniform_action_distribution(bts),
        ("random", "bts"): empirical_action_distribution(bts)[random.positions],
    }


@dataclass(frozen=True)
class ValidationRow:
    """One line of the Open Bandit validation: an estimate against the truth."""

    campaign: str
    log: str
    policy: str
    estimator: str
    estimate: Estimate
    truth: float

    @property
    def relative_error(self) -> float:
        """``(estimate - truth) / truth``."""
        return (self.estimate.value - self.truth) / self.truth


def validate_open_bandit(
    campaign: str = "all",
    *,
    logs: Mapping[str, LoggedBandit] | None = None,
    estimators: tuple[str, ...] = ("ips", "snips", "dm", "dr"),
    n_boot: int = 1000,
    seed: int = 0,
) -> list[ValidationRow]:
    """Estimate each logged policy's click rate from the *other* policy's log.

    The truth is the click rate observed in the evaluated policy's own log
    (``mean(click)`` over all its rows). See the module docstring for what is
    estimated in each direction.
    """
    logs = load_open_bandit(campaign) if logs is None else logs
    rows = []
    for (source, target), dist in open_bandit_policies(logs).items():
        log = logs[source]
        truth = float(logs[target].rewards.mean())
        q_hat = fit_reward_model(log, seed=seed)
        for name in estimators:
            if name == "ips":
                estimate = ips(log, dist, n_boot=n_boot, seed=seed)
            elif name == "snips":
                estimate = snips(log, dist, n_boot=n_boot, seed=seed)
            elif name == "dm":
                estimate = dm(log, dist, q_hat, n_boot=n_boot, seed=seed)
            elif name == "dr":
                estimate = dr(log, dist, q_hat, n_boot=n_boot, seed=seed)
            else:
                raise ValueError(f"unknown estimator {name!r}; use ips, snips, dm, dr")
            rows.append(ValidationRow(campaign, source, target, name, estimate, truth))
    return rows
