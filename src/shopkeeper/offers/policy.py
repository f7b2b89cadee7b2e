"""What a targeting policy would earn, estimated without bias from a randomized test.

A policy picks one arm per customer (an offer, or none). In a randomized
experiment every customer had a known chance ``p(a)`` of each arm, so the
inverse-propensity (Horvitz-Thompson) estimate

    V(pi) = mean_i 1[T_i = pi(x_i)] * y_i / p(T_i)

is unbiased for the mean outcome per customer had everyone been treated by
``pi``. Rows whose arm disagrees with the policy contribute zero; rows that
agree stand in for the ``1 / p`` customers like them. With the empirical arm
shares as ``p`` (the known design, realised), a constant policy "everyone gets
arm a" is estimated by exactly that arm's mean outcome, which is the check
:func:`policy_values` callers can rely on.

Intervals: a seeded bootstrap over rows, stratified by arm (the design fixed
the arm sizes), or the normal approximation from the per-row terms. All
policies are scored on the same resamples, so differences between policies
(the uplift policy minus "send everyone Mens") get paired intervals, which
are much tighter than the two separate intervals suggest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.metrics import Interval, interval

__all__ = ["PolicyValues", "best_offer_policy", "ips_terms", "policy_values"]


def _check(
    y: np.ndarray, treatment: np.ndarray, action: np.ndarray, propensities: np.ndarray
) -> None:
    if not (len(y) == len(treatment) == len(action)):
        raise InvalidInput(
            f"y, treatment and action must be the same length, not "
            f"{len(y)}, {len(treatment)} and {len(action)}"
        )
    if propensities.ndim != 1 or np.any(propensities <= 0) or np.any(propensities > 1):
        raise InvalidInput("propensities must be one probability in (0, 1] per arm")
    n_arms = len(propensities)
    for name, codes in (("treatment", treatment), ("action", action)):
        if len(codes) and (codes.min() < 0 or codes.max() >= n_arms):
            raise InvalidInput(f"{name} must hold arm codes 0..{n_arms - 1}")


def ips_terms(
    y: np.ndarray, treatment: np.ndarray, action: np.ndarray, propensities: np.ndarray
) -> np.ndarray:
    """Per-row IPS terms ``1[T = a] y / p(T)``; their mean is the policy value."""
    y = np.asarray(y, dtype=np.float64)
    treatment = np.asarray(treatment, dtype=np.int64)
    action = np.asarray(action, dtype=np.int64)
    propensities = np.asarray(propensities, dtype=np.float64)
    _check(y, treatment, action, propensities)
    return (treatment == action) * y / propensities[treatment]


def best_offer_policy(uplift: np.ndarray, cost: float | np.ndarray = 0.0) -> np.ndarray:
    """Arm per customer: the offer with the highest predicted uplift net of cost, or 0.

    ``uplift`` is a learner's ``(n, K)`` prediction for offers 1..K; a customer
    gets no offer (arm 0) when no offer's uplift exceeds its cost.
    """
    net = np.asarray(uplift, dtype=np.float64) - cost
    best = np.argmax(net, axis=1)
    return np.where(net[np.arange(len(net)), best] > 0, best + 1, 0)


@dataclass(frozen=True)
class PolicyValues:
    """Value per customer of each policy, and paired differences between them."""

    names: tuple[str, ...]
    point: np.ndarray
    replicates: np.ndarray
    stderr: np.ndarray
    level: float
    ci: Literal["bootstrap", "normal"]
    terms: np.ndarray

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise InvalidInput(
                f"no policy {name!r}; evaluated: {', '.join(self.names)}"
            )
        return self.names.index(name)

    def _normal(self, value: float, stderr: float) -> Interval:
        z = float(norm.ppf(0.5 + self.level / 2))
        return Interval(value, stderr, value - z * stderr, value + z * stderr)

    def value(self, name: str) -> Interval:
        """Estimated mean outcome per customer under the policy."""
        i = self._index(name)
        if self.ci == "normal":
            return self._normal(float(self.point[i]), float(self.stderr[i]))
        return interval(float(self.point[i]), self.replicates[:, i], self.level)

    def difference(self, a: str, b: str) -> Interval:
        """Paired estimate of ``a``'s value minus ``b``'s."""
        i, j = self._index(a), self._index(b)
        point = float(self.point[i] - self.point[j])
        if self.ci == "normal":
            diff = self.terms[:, i] - self.terms[:, j]
            return self._normal(point, float(diff.std(ddof=1) / np.sqrt(len(diff))))
        return interval(
            point, self.replicates[:, i] - self.replicates[:, j], self.level
        )


def policy_values(
    y: np.ndarray,
    treatment: np.ndarray,
    policies: Mapping[str, np.ndarray],
    propensities: np.ndarray,
    *,
    ci: Literal["bootstrap", "normal"] = "bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PolicyValues:
    """IPS value of each policy (arm code per row) on a randomized sample.

    Args:
        y: observed outcome per row.
        treatment: the arm each row was randomized to (0 = control).
        policies: name -> arm the policy would give each row.
        propensities: probability of each arm under the randomization.
        ci: ``"bootstrap"`` (stratified by arm) or ``"normal"``.
        n_boot: bootstrap replicates.
        seed: seeds the resampling.
        level: confidence level.
    """
    if not policies:
        raise InvalidInput("policy_values needs at least one policy")
    names = tuple(policies)
    terms = np.column_stack(
        [ips_terms(y, treatment, policies[n], propensities) for n in names]
    )
    point = terms.mean(axis=0)
    stderr = terms.std(axis=0, ddof=1) / np.sqrt(len(terms))
    treatment = np.asarray(treatment, dtype=np.int64)
    boot = np.empty((n_boot if ci == "bootstrap" else 0, len(names)))
    if ci == "bootstrap":
        rng = np.random.default_rng(seed)
        arms = [np.flatnonzero(treatment == a) for a in np.unique(treatment)]
        for b in range(n_boot):
            rows = np.concatenate([r[rng.integers(0, len(r), len(r))] for r in arms])
            boot[b] = terms[rows].mean(axis=0)
    return PolicyValues(names, point, boot, stderr, level, ci, terms)
