"""Complete the basket: what is bought with what, corrected for popularity.

Raw co-purchase counts recommend milk and bananas with everything. Lift
(``c_ij * N / (c_i * c_j)``) corrects for popularity but over-trusts pairs seen
once or twice, so the expected count gets a prior of ``smoothing`` baskets:
``c_ij / (c_i * c_j / N + smoothing)``. Rare pairs then need real evidence,
and popular partners still have to beat chance. The smoothing is picked on the
validation baskets; the hidden-item hit rate of the test baskets measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shopkeeper.recommend.baselines import top_k
from shopkeeper.recommend.history import Baskets, Phase

__all__ = ["SMOOTHING", "CoPurchase", "hidden_item_cases", "hit_rate"]

SMOOTHING = (0.0, 1.0, 5.0, 25.0)
"""The prior counts tried; 0 is plain lift."""


@dataclass
class CoPurchase:
    """Item-to-item co-purchase scores from a set of baskets."""

    lift: sp.csr_matrix
    cooccur: sp.csr_matrix
    support: np.ndarray

    @classmethod
    def fit(cls, baskets: sp.csr_matrix, *, smoothing: float = 5.0) -> CoPurchase:
        """Count pairs in ``baskets`` (baskets x items, 0/1) and smooth their lift."""
        b = baskets.astype(np.float32).tocsr()
        n = max(b.shape[0], 1)
        co = (b.T @ b).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        co.sort_indices()
        support = np.asarray(b.sum(axis=0)).ravel()
        rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
        expected = support[rows] * support[co.indices] / n
        # Same structure as ``co``: entry j of lift.data is the pair of co.data[j].
        lift = sp.csr_matrix(
            (co.data / (expected + smoothing), co.indices.copy(), co.indptr.copy()),
            shape=co.shape,
        )
        return cls(lift=lift, cooccur=co, support=support)

    def for_baskets(self, baskets: sp.csr_matrix) -> sp.csr_matrix:
        """Rows x items: each row's summed lift from the items it holds."""
        return (baskets.astype(np.float32) @ self.lift).tocsr()

    def complete(self, items: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` items most likely to be added to ``items`` (none of them)."""
        scores = np.asarray(self.lift[items].sum(axis=0)).ravel()
        scores[items] = -np.inf
        ranked = top_k(scores, k)
        return ranked[np.isfinite(scores[ranked]) & (scores[ranked] > 0)]


def hidden_item_cases(
    baskets: Baskets, phase: Phase
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each target basket of 2+ items with one item hidden, and the hidden item.

    The hidden item is picked by the household's index (position ``u mod
    size`` in the sorted basket), so the cases are the same on every run.
    """
    rows, cols, hidden = [], [], []
    for u, b in enumerate(phase.target):
        items = np.sort(baskets.basket(b))
        if len(items) < 2:
            continue
        pick = u % len(items)
        rest = np.delete(items, pick)
        rows.extend([len(hidden)] * len(rest))
        cols.extend(rest.tolist())
        hidden.append(items[pick])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(hidden), baskets.n_items),
    )
    return matrix, np.asarray(hidden, dtype=np.int64)


def hit_rate(scores: sp.csr_matrix, given: sp.csr_matrix, hidden: np.ndarray) -> float:
    """Share of cases whose hidden item is in the top 10 of items not given."""
    hits = 0
    for r in range(len(hidden)):
        lo, hi = scores.indptr[r], scores.indptr[r + 1]
        cols, vals = scores.indices[lo:hi], scores.data[lo:hi]
        keep = ~np.isin(cols, given.indices[given.indptr[r] : given.indptr[r + 1]])
        cols, vals = cols[keep], vals[keep]
        top = cols[np.lexsort((cols, -vals))[:10]]
        hits += int(hidden[r] in top)
    return hits / len(hidden) if len(hidden) else 0.0
