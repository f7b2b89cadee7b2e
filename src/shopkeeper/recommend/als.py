"""Implicit-feedback ALS (Hu, Koren and Volinsky 2008) via the ``implicit`` package.

Collaborative filtering is the textbook answer to "what else will they buy";
the reality-check paper shows it trails personal frequency on grocery data,
and it is here to measure that, and as a candidate source for explore items.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from shopkeeper.errors import MissingDependency
from shopkeeper.recommend.history import Phase
from shopkeeper.recommend.metrics import recall_at

__all__ = ["Als", "AlsParams", "als_factors"]


@dataclass(frozen=True)
class AlsParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15


GRID: tuple[AlsParams, ...] = tuple(
    AlsParams(factors=f, regularization=r, alpha=a)
    for f in (32, 128)
    for r in (0.05,)
    for a in (1.0, 10.0)
)


def als_factors(
    counts: sp.csr_matrix, params: AlsParams, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors fitted on basket counts (confidence 1 + alpha*n).

    Seeded and single-threaded by default, so a refit gives the same factors.
    """
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise MissingDependency(
            "implicit is not installed", hint="pip install implicit"
        ) from exc
    # implicit runs its own loops; a BLAS thread pool inside them only thrashes
    # (implicit warns about it), so BLAS gets one thread while ALS fits.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            random_state=0,
            num_threads=threads,
            calculate_training_loss=False,
        )
        model.fit(counts.astype(np.float32).tocsr(), show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


class Als:
    """ALS scores every item for every household by a dot product of factors."""

    name = "ALS"

    def __init__(self, params: AlsParams | None = None) -> None:
        self.params = params or AlsParams()

    def scores(self, phase: Phase) -> np.ndarray:
        users, items = als_factors(phase.counts(), self.params)
        return users @ items.T

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        from shopkeeper.recommend.baselines import top_k_rows

        return top_k_rows(self.scores(phase), k, floor=-np.inf)

    def tune(self, valid: Phase) -> AlsParams:
        """The grid point with the best validation Recall@10."""
        truth = valid.truth()
        best, best_score = self.params, -1.0
        for trial in GRID:
            self.params = replace(trial)
            got = recall_at(self.rank(valid, 10), truth)
            if got > best_score:
                best, best_score = trial, got
        self.params = best
        return best
