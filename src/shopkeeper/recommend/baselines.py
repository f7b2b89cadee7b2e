"""The frequency baselines of the reality-check paper: G-, P- and GP-TopFreq.

Li et al. (2023) found that on grocery data these beat most deep next-basket
models, so every Shopkeeper recommender is measured against them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopkeeper.recommend.history import Phase

__all__ = ["GTopFreq", "GPTopFreq", "PTopFreq", "top_k", "top_k_rows"]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` highest scores; ties to the lower index (stable)."""
    order = np.argsort(-scores, kind="stable")
    return order[:k]


def top_k_rows(scores: np.ndarray, k: int, *, floor: float = 0.0) -> np.ndarray:
    """Row-wise :func:`top_k` of a dense matrix; entries <= ``floor`` become -1.

    Ties go to the lower item index, so results never depend on sort internals.
    """
    k = min(k, scores.shape[1])
    # argpartition finds the k best fast; the stable sort then orders them.
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)
    picked = np.take_along_axis(scores, order, axis=1)
    return np.where(picked > floor, order, -1).astype(np.int64)


def _sparse_top(matrix: sp.csr_matrix, k: int, fill: np.ndarray | None) -> np.ndarray:
    """Each row's ``k`` largest non-zeros, then ``fill`` items not yet picked."""
    out = np.full((matrix.shape[0], k), -1, dtype=np.int64)
    for u in range(matrix.shape[0]):
        lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
        cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
        order = np.lexsort((cols, -vals))[:k]
        picked = cols[order]
        if fill is not None and len(picked) < k:
            extra = fill[~np.isin(fill, picked)][: k - len(picked)]
            picked = np.concatenate([picked, extra])
        out[u, : len(picked)] = picked
    return out


class GTopFreq:
    """G-TopFreq: the items in the most history baskets, the same for everyone."""

    name = "G-TopFreq"

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        popular = top_k(np.asarray(phase.counts().sum(axis=0)).ravel(), k)
        return np.tile(popular, (phase.n_users, 1)).astype(np.int64)


class PTopFreq:
    """P-TopFreq: each household's items in the most of its own baskets.

    Ties go to the lower item index. Households with fewer than ``k`` distinct
    items get fewer recommendations, as in the paper.
    """

    name = "P-TopFreq"

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        return _sparse_top(phase.counts(), k, None)


class GPTopFreq:
    """GP-TopFreq: P-TopFreq, with the remaining slots filled by G-TopFreq."""

    name = "GP-TopFreq"

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        counts = phase.counts()
        popular = top_k(np.asarray(counts.sum(axis=0)).ravel(), 2 * k)
        return _sparse_top(counts, k, popular)
