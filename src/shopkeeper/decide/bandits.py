"""Bandit policies that learn from outcomes and log honest propensities.

Each placement (a widget, a push slot, a coupon slot) gets its own policy, and
every choice returns the item *and* the probability it was chosen with, so the
exposure log supports off-policy evaluation (:mod:`shopkeeper.decide.ope`).
Three rules make those propensities trustworthy:

- **Sample from the distribution you log.** A policy first computes its full
  action distribution, then draws the item from exactly that distribution with
  its own seeded generator. The logged propensity is therefore the true
  probability of the choice, not an approximation of it.
- **Exploration floor.** Every candidate gets probability at least
  ``epsilon``: ``p = epsilon + (1 - K * epsilon) * p_policy`` over ``K``
  candidates. Without it a greedy policy logs zeros and no other policy can
  ever be evaluated on its traffic.
- **Seeded.** Thompson sampling's win probabilities are estimated from
  ``n_draws`` posterior draws with a generator seeded by the policy's seed and
  its number of updates, so the same state always gives the same distribution
  (reproducible and auditable, as DESIGN.md asks).

:class:`ThompsonSampling` is Bernoulli TS over items with Beta posteriors (no
features). :class:`LinUCB` is a shared-parameter LinUCB (Li et al. 2010) over
candidate feature vectors, so items with features but little traffic borrow
strength from the rest. :class:`Placements` keeps one policy per placement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

__all__ = ["Choice", "LinUCB", "Placements", "ThompsonSampling"]


@dataclass(frozen=True)
class Choice:
    """A decision: the chosen candidate and the probability it was chosen with."""

    item: int
    propensity: float


def _floor(dist: np.ndarray, epsilon: float) -> np.ndarray:
    """Mix ``dist`` (rows sum to 1) with a per-candidate floor of ``epsilon``."""
    k = dist.shape[-1]
    if epsilon < 0 or k * epsilon > 1 + 1e-12:
        raise ValueError(
            f"exploration floor {epsilon} is impossible for {k} candidates; "
            f"use epsilon <= 1/{k}"
        )
    return epsilon + (1.0 - k * epsilon) * dist


def _draw(rng: np.random.Generator, dist: np.ndarray) -> Choice:
    index = int(rng.choice(len(dist), p=dist / dist.sum()))
    return Choice(item=index, propensity=float(dist[index]))


class ThompsonSampling:
    """Bernoulli Thompson sampling with Beta posteriors per item.

    Args:
        n_actions: number of items this placement can show.
        epsilon: minimum probability of every candidate.
        n_draws: posterior draws used to estimate each item's win probability.
        prior: Beta prior ``(alpha, beta)`` for every item; a prior centred on
            the expected click rate keeps unseen items from looking like coin
            flips.
        seed: seeds both the propensity estimate and the choices.
    """

    def __init__(
        self,
        n_actions: int,
        *,
        epsilon: float = 0.0,
        n_draws: int = 1000,
        prior: tuple[float, float] = (1.0, 1.0),
        seed: int = 0,
    ) -> None:
        self.n_actions = n_actions
        self.epsilon = epsilon
        self.n_draws = n_draws
        self.seed = seed
        self.alpha = np.full(n_actions, float(prior[0]))
        self.beta = np.full(n_actions, float(prior[1]))
        self.updates = 0
        self._rng = np.random.default_rng([seed, 1])

    def action_distribution(self, candidates: np.ndarray | None = None) -> np.ndarray:
        """P(choose each candidate), floored; aligned with ``candidates``.

        ``candidates`` are item indices (all items when None). The estimate is
        the share of ``n_draws`` seeded posterior draws each candidate wins.
        """
        items = np.arange(self.n_actions) if candidates is None else candidates
        rng = np.random.default_rng([self.seed, 0, self.updates])
        draws = rng.beta(
            self.alpha[items], self.beta[items], size=(self.n_draws, len(items))
        )
        wins = np.bincount(draws.argmax(axis=1), minlength=len(items))
        return _floor(wins / self.n_draws, self.epsilon)

    def choose(self, candidates: np.ndarray | None = None) -> Choice:
        """Choose one candidate; ``Choice.item`` is an item index."""
        items = np.arange(self.n_actions) if candidates is None else candidates
        choice = _draw(self._rng, self.action_distribution(items))
        return Choice(item=int(items[choice.item]), propensity=choice.propensity)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Add outcomes (reward in [0, 1]) of shown items to their posteriors."""
        actions = np.asarray(actions)
        rewards = np.asarray(rewards, dtype=float)
        np.add.at(self.alpha, actions, rewards)
        np.add.at(self.beta, actions, 1.0 - rewards)
        self.updates += 1


class LinUCB:
    """LinUCB with one shared ridge regression over candidate feature vectors.

    Score of a candidate ``x``: ``theta @ x + alpha * sqrt(x @ A^-1 @ x)``;
    the policy picks the best score (ties split evenly) and then applies the
    exploration floor. ``alpha`` is in reward units: for click rates near 0.5 %
    an ``alpha`` near the click noise (about 0.1) explores without drowning
    the estimates.

    Args:
        n_features: length of each candidate's feature vector.
        alpha: width of the confidence bonus.
        ridge: L2 strength (the prior precision of ``theta``).
        epsilon: minimum probability of every candidate.
        seed: seeds the choices.
    """

    def __init__(
        self,
        n_features: int,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        epsilon: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.alpha = alpha
        self.epsilon = epsilon
        self.a = ridge * np.eye(n_features)
        self.b = np.zeros(n_features)
        self._rng = np.random.default_rng([seed, 1])
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def _solved(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None:
            a_inv = np.linalg.inv(self.a)
            self._cache = (a_inv, a_inv @ self.b)
        return self._cache

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Upper confidence bounds for (..., candidates, n_features) features."""
        a_inv, theta = self._solved()
        width = ((features @ a_inv) * features).sum(axis=-1)
        return features @ theta + self.alpha * np.sqrt(np.maximum(width, 0.0))

    def action_distribution(self, features: np.ndarray) -> np.ndarray:
        """P(choose each candidate), floored; works on a batch of rows too.

        ``features`` is (candidates, n_features) or (rows, candidates,
        n_features); the result drops the last axis.
        """
        ucb = self.scores(features)
        best = np.isclose(ucb, ucb.max(axis=-1, keepdims=True), rtol=0, atol=1e-12)
        greedy = best / best.sum(axis=-1, keepdims=True)
        return _floor(greedy, self.epsilon)

    def choose(self, features: np.ndarray) -> Choice:
        """Choose one of the candidates (rows of ``features``)."""
        return _draw(self._rng, self.action_distribution(features))

    def update(self, features: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from shown candidates' features (m, n_features) and rewards."""
        features = np.atleast_2d(features)
        self.a += features.T @ features
        self.b += features.T @ np.asarray(rewards, dtype=float)
        self._cache = None


P = TypeVar("P")


class Placements(Generic[P]):
    """One independent policy per placement, created on first use.

    Each placement's seed is hashed from its name, so a placement's choices
    do not depend on which other placements exist or in what order they were
    first used.

    Args:
        factory: builds a policy from a seed.
        seed: base seed mixed into every placement's seed.
    """

    def __init__(self, factory: Callable[[int], P], *, seed: int = 0) -> None:
        self._factory = factory
        self._seed = seed
        self._policies: dict[str, P] = {}

    def __getitem__(self, placement: str) -> P:
        if placement not in self._policies:
            digest = hashlib.sha256(f"{self._seed}:{placement}".encode()).digest()
            self._policies[placement] = self._factory(int.from_bytes(digest[:8], "big"))
        return self._policies[placement]

    def __contains__(self, placement: object) -> bool:
        return placement in self._policies

    def __iter__(self) -> Iterator[str]:
        return iter(self._policies)
