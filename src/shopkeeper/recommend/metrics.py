"""Next-basket metrics, overall and split into repeat and explore items.

Recall@k is the share of the target basket found in the top k. NDCG@k is the
standard one: DCG of the top k with binary gains over the ideal DCG of
min(k, |truth|) hits (the reality-check paper's code divides by the ideal DCG
of |truth| items instead, which shrinks NDCG for big baskets). PHR@k is the
share of households with at least one hit. Repeat items are target items the
household bought before (in its history); explore items are the rest. The
split metrics average over the households that have such items at all, so a
method is not rewarded for households with nothing to find.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = [
    "CUTOFFS",
    "basket_metrics",
    "household_metrics",
    "lead_interval",
    "recall_at",
]

CUTOFFS = (10, 20)


def _dcg(hits: np.ndarray) -> float:
    return float((hits / np.log2(np.arange(2, len(hits) + 2))).sum())


def _ndcg(hits: np.ndarray, n_truth: int, k: int) -> float:
    ideal = _dcg(np.ones(min(k, n_truth)))
    return _dcg(hits[:k]) / ideal if ideal else 0.0


def household_metrics(
    ranked: np.ndarray, truth: Sequence[np.ndarray], seen: sp.csr_matrix
) -> dict[str, np.ndarray]:
    """Each household's metrics of ``ranked`` (households x k item indexes, -1 = none).

    NaN where a household does not count: an empty target, or no repeat
    (explore) items for the repeat (explore) metrics.

    Args:
        ranked: each household's recommendations, best first, at least 20 wide.
        truth: each household's target basket (item indexes).
        seen: households x items; non-zero where the household bought the item
            before the target basket (decides repeat vs explore).
    """
    n = len(truth)
    out: dict[str, np.ndarray] = {}

    def add(name: str, u: int, value: float) -> None:
        out.setdefault(name, np.full(n, np.nan))[u] = value

    seen = seen.tocsr()
    for u, target in enumerate(truth):
        if len(target) == 0:
            continue
        bought = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
        repeat = np.intersect1d(target, bought)
        explore = np.setdiff1d(target, bought)
        row = ranked[u]
        for k in CUTOFFS:
            hits = np.isin(row[:k], target) & (row[:k] >= 0)
            add(f"recall@{k}", u, hits.sum() / len(target))
            add(f"ndcg@{k}", u, _ndcg(hits.astype(float), len(target), k))
            if k == 10:
                add("phr@10", u, float(hits.any()))
        for label, part in (("repeat", repeat), ("explore", explore)):
            if len(part) == 0:
                continue
            hits = np.isin(row[:10], part) & (row[:10] >= 0)
            add(f"{label}_recall@10", u, hits.sum() / len(part))
            add(f"{label}_ndcg@10", u, _ndcg(hits.astype(float), len(part), 10))
            add(f"{label}_phr@10", u, float(hits.any()))
    return out


def basket_metrics(
    ranked: np.ndarray, truth: Sequence[np.ndarray], seen: sp.csr_matrix
) -> dict[str, float]:
    """Average of :func:`household_metrics` over the households that count."""
    rows = household_metrics(ranked, truth, seen)
    return {name: float(np.nanmean(values)) for name, values in rows.items()}


def lead_interval(
    ours: np.ndarray, theirs: np.ndarray, *, draws: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Relative lead of ``ours`` over ``theirs`` (ratio of means - 1), 95% interval.

    A paired bootstrap over households: each draw resamples households and
    compares both methods on the same ones, so household-to-household
    variation (most of it) does not widen the interval.
    """
    both = ~(np.isnan(ours) | np.isnan(theirs))
    a, b = ours[both], theirs[both]
    if not len(a) or not b.sum():
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    ratios = []
    # In chunks: draws x households indexes would not fit for a big retailer.
    step = max(1, 2_000_000 // len(a))
    for start in range(0, draws, step):
        pick = rng.integers(0, len(a), size=(min(step, draws - start), len(a)))
        sums_b = b[pick].sum(axis=1)
        ratios.append(a[pick].sum(axis=1) / np.where(sums_b > 0, sums_b, np.nan) - 1)
    low, high = np.nanpercentile(np.concatenate(ratios), [2.5, 97.5])
    return float(a.mean() / b.mean() - 1), float(low), float(high)


def recall_at(ranked: np.ndarray, truth: Sequence[np.ndarray]) -> float:
    """Mean Recall@(width of ``ranked``): the fast objective for tuning."""
    total, n = 0.0, 0
    for row, target in zip(ranked, truth, strict=True):
        if len(target):
            total += np.isin(row, target).sum() / len(target)
            n += 1
    return total / n if n else 0.0
