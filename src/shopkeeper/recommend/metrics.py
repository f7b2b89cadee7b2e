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

__all__ = ["CUTOFFS", "basket_metrics", "recall_at"]

CUTOFFS = (10, 20)


def _dcg(hits: np.ndarray) -> float:
    return float((hits / np.log2(np.arange(2, len(hits) + 2))).sum())


def _ndcg(hits: np.ndarray, n_truth: int, k: int) -> float:
    ideal = _dcg(np.ones(min(k, n_truth)))
    return _dcg(hits[:k]) / ideal if ideal else 0.0


def basket_metrics(
    ranked: np.ndarray, truth: Sequence[np.ndarray], seen: sp.csr_matrix
) -> dict[str, float]:
    """Average metrics of ``ranked`` (households x k item indexes, -1 = none).

    Args:
        ranked: each household's recommendations, best first, at least 20 wide.
        truth: each household's target basket (item indexes).
        seen: households x items; non-zero where the household bought the item
            before the target basket (decides repeat vs explore).
    """
    out: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        out.setdefault(name, []).append(value)

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
            add(f"recall@{k}", hits.sum() / len(target))
            add(f"ndcg@{k}", _ndcg(hits.astype(float), len(target), k))
            if k == 10:
                add("phr@10", float(hits.any()))
        for label, part in (("repeat", repeat), ("explore", explore)):
            if len(part) == 0:
                continue
            hits = np.isin(row[:10], part) & (row[:10] >= 0)
            add(f"{label}_recall@10", hits.sum() / len(part))
            add(f"{label}_ndcg@10", _ndcg(hits.astype(float), len(part), 10))
            add(f"{label}_phr@10", float(hits.any()))
    return {name: float(np.mean(values)) for name, values in out.items()}


def recall_at(ranked: np.ndarray, truth: Sequence[np.ndarray]) -> float:
    """Mean Recall@(width of ``ranked``): the fast objective for tuning."""
    total, n = 0.0, 0
    for row, target in zip(ranked, truth, strict=True):
        if len(target):
            total += np.isin(row, target).sum() / len(target)
            n += 1
    return total / n if n else 0.0
