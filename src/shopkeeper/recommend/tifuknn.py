"""TIFU-KNN (Hu et al., SIGIR 2020): decayed personal frequency blended with kNN.

Each household's history becomes one item vector: baskets are split into ``m``
groups in time order; inside a group older baskets decay by ``r_b`` per step,
and older groups by ``r_g`` (the authors' code: a group vector is the decayed
sum over its size, the user vector the decayed sum of groups over their count).
The prediction is ``alpha`` times that vector plus ``1 - alpha`` times the mean
vector of its ``k`` nearest neighbours by Euclidean distance (the household
itself included, as in the authors' code). All of it is sparse algebra, so a
configuration scores in well under a second and the search can be wide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from shopkeeper.recommend.baselines import top_k_rows
from shopkeeper.recommend.history import Phase
from shopkeeper.recommend.metrics import recall_at

__all__ = ["GRID", "TifuKnn", "TifuParams", "history_vectors"]


@dataclass(frozen=True)
class TifuParams:
    groups: int = 7
    within_decay: float = 0.9
    group_decay: float = 0.7
    alpha: float = 0.7
    neighbors: int = 300


GRID: dict[str, tuple[float, ...]] = {
    "groups": (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23),
    "within_decay": tuple(round(0.1 * i, 1) for i in range(1, 11)),
    "group_decay": tuple(round(0.1 * i, 1) for i in range(1, 11)),
    "alpha": tuple(round(0.1 * i, 1) for i in range(0, 11)),
    "neighbors": (100, 300, 500, 700, 900, 1100, 1300),
}
"""The TIFU-KNN paper's search ranges (its section 5.1)."""


def history_vectors(phase: Phase, params: TifuParams) -> sp.csr_matrix:
    """Households x items: the time-decayed, grouped frequency vector."""
    n = (phase.stop - phase.start).astype(np.int64)
    users = phase.history_users()
    pos = np.arange(len(users)) - np.repeat(np.cumsum(n) - n, n)
    n_u = n[users]
    groups = np.minimum(n_u, params.groups)
    base = n_u // groups
    extra = n_u - base * groups
    big = extra * (base + 1)
    in_big = pos < big
    group = np.where(
        in_big, pos // (base + 1), extra + (pos - big) // np.maximum(base, 1)
    )
    at = np.where(in_big, pos % (base + 1), (pos - big) % np.maximum(base, 1))
    size = np.where(group < extra, base + 1, base)
    weight = (
        np.power(params.within_decay, size - 1 - at)
        * np.power(params.group_decay, groups - 1 - group)
        / size
        / groups
    )
    assign = sp.csr_matrix(
        (weight.astype(np.float32), (users, np.arange(len(users)))),
        shape=(phase.n_users, len(users)),
    )
    return (assign @ phase.baskets.matrix(phase.history_rows())).tocsr()


def neighbour_mean(vectors: sp.csr_matrix, neighbors: int) -> np.ndarray:
    """Dense households x items: the mean vector of each one's nearest neighbours."""
    n_users = vectors.shape[0]
    k = min(neighbors, n_users)
    gram = (vectors @ vectors.T).toarray()
    norms = np.diag(gram)
    dist = norms[:, None] + norms[None, :] - 2 * gram
    # Ties to the lower household index, so the neighbour set is deterministic.
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    pick = np.zeros((n_users, n_users), dtype=np.float32)
    np.put_along_axis(pick, nearest, np.float32(1.0 / k), axis=1)
    return np.asarray(pick @ vectors)


def blend(vectors: sp.csr_matrix, alpha: float, neighbors: int) -> np.ndarray:
    """``alpha`` own vector + ``1 - alpha`` mean of the nearest neighbours."""
    return alpha * vectors.toarray() + (1 - alpha) * neighbour_mean(vectors, neighbors)


class TifuKnn:
    """TIFU-KNN, its hyperparameters searched on the validation baskets only."""

    name = "TIFU-KNN"

    def __init__(self, params: TifuParams | None = None, *, trials: int = 6) -> None:
        self.params = params or TifuParams()
        self.trials = trials

    def scores(self, phase: Phase) -> np.ndarray:
        vectors = history_vectors(phase, self.params)
        return blend(vectors, self.params.alpha, self.params.neighbors)

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        return top_k_rows(self.scores(phase), k)

    def tune(self, valid: Phase, *, seed: int = 0) -> TifuParams:
        """Random search over :data:`GRID` for the best validation Recall@10.

        Vectors depend on (groups, decays) and the blend on (alpha, neighbours):
        each sampled vector setting is tried with two sampled neighbour counts
        and four blends, reusing its distances. The seed makes it repeatable;
        ``trials`` bounds its cost (each blend ranks every item for everyone).
        """
        rng = np.random.default_rng(seed)
        truth = valid.truth()
        best, best_score = self.params, -1.0
        keys = ("groups", "within_decay", "group_decay")
        for _ in range(self.trials):
            vec_params = {key: rng.choice(GRID[key]).item() for key in keys}
            trial = replace(self.params, **vec_params)
            vectors = history_vectors(valid, trial)
            own = vectors.toarray()
            for neighbors in rng.choice(GRID["neighbors"], 2, replace=False):
                mean = neighbour_mean(vectors, int(neighbors))
                for alpha in (0.2, 0.4, 0.6, 0.8):
                    ranked = top_k_rows(alpha * own + (1 - alpha) * mean, 10)
                    got = recall_at(ranked, truth)
                    if got > best_score:
                        best_score = got
                        best = replace(trial, alpha=alpha, neighbors=int(neighbors))
        self.params = best
        return best
