"""Thompson re-ranking of one decision's candidates, compiled.

A decision draws a posterior sample for every candidate many times over, to
rank the candidates by one of the draws and to estimate, from all of them,
the propensity of each shown item at its position. In numpy that is a dozen
small calls, and inside a server that also parses HTTP, reads SQLite and
writes JSON, each small numpy call costs three times what it costs in a loop
of its own (its code is no longer in the CPU's caches): about 150 us per
decision, the largest part of a decision's CPU. Compiled with numba it is one
call of about 15 us. The normal noise comes in from outside, so a seeded
decider stays reproducible and the kernel stays a pure function.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["top_n"]


@njit(cache=True, nogil=True)
def top_n(  # pragma: no cover - compiled; tested through its callers and below
    stats: np.ndarray,
    strength: float,
    noise: np.ndarray,
    offset: int,
    draws: int,
    n: int,
    pick: int,
    chosen: np.ndarray,
    exploration: float,
) -> np.ndarray:
    """The shown positions and their propensities, as one array of ``2 n``.

    Args:
        stats: (3, k) rows: each candidate's prior click rate (the
            recommender's score), shows and clicks in this placement.
        strength: how many shows the prior is worth.
        noise: standard normal draws; ``draws * k`` of them from ``offset``.
        draws: posterior samples per candidate.
        n: how many candidates are shown.
        pick: which sample's order is shown; negative shows ``chosen``
            instead (the uniformly random order of exploration).
        chosen: the explored order (positions into the candidates), length n.
        exploration: the share of decisions that explore, for the floor.

    Each candidate's posterior is Beta(prior * strength + clicks, (1 - prior)
    * strength + misses), sampled by the normal approximation of its mean and
    variance (close with that many pseudo-shows, and cheaper than Beta
    draws). An item's propensity at its position is the exploration floor
    plus the share of the other samples that put it there.
    """
    k = stats.shape[1]
    mean = np.empty(k)
    sd = np.empty(k)
    for j in range(k):
        prior = min(max(stats[0, j], 0.005), 0.95)
        total = strength + max(stats[1, j], stats[2, j])
        m = (prior * strength + stats[2, j]) / total
        mean[j] = m
        sd[j] = math.sqrt(m * (1 - m) / (total + 1))
    orders = np.empty((draws, n), np.int64)
    value = np.empty(k)
    at = offset
    for d in range(draws):
        for j in range(k):
            value[j] = mean[j] + sd[j] * noise[at]
            at += 1
        # Selection of the n highest: n is a handful, k a few dozen.
        for p in range(n):
            best = 0
            for j in range(1, k):
                if value[j] > value[best]:
                    best = j
            orders[d, p] = best
            value[best] = -np.inf
    explored = pick < 0
    shown = chosen if explored else orders[pick]
    floor = exploration / k
    # Leave the shown sample out of its own estimate: the others are
    # independent of what was shown, so the logged propensity is unbiased
    # even among the decisions that showed this item here (counting the
    # shown sample too overstates it by up to 1/draws there).
    others = draws if explored else draws - 1
    out = np.empty(2 * n)
    for p in range(n):
        agree = 0 if explored else -1
        for d in range(draws):
            if orders[d, p] == shown[p]:
                agree += 1
        out[p] = shown[p]
        # Never zero, not even without exploration: IPS divides by it.
        out[n + p] = max(floor + (1 - exploration) * agree / others, 1 / draws**2)
    return out
