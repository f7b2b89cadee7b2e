"""Helpers of the feature code, on known answers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopkeeper.recommend.context import Context
from shopkeeper.recommend.features import (
    FEATURES,
    candidates,
    context_for,
    features,
    signals,
    sparse_values,
)
from shopkeeper.recommend.history import load_baskets
from shopkeeper.recommend.tifuknn import TifuParams
from shopkeeper.warehouse import Warehouse


def test_sparse_values_match_scipy_indexing() -> None:
    # Random on purpose: any sparse matrix must give what scipy gives.
    rng = np.random.default_rng(0)
    matrix = sp.random(300, 500, density=0.05, format="csr", random_state=1)
    rows, cols = rng.integers(0, 300, 20_000), rng.integers(0, 500, 20_000)
    expected = np.asarray(matrix[rows, cols]).ravel()
    np.testing.assert_array_equal(sparse_values(matrix, rows, cols), expected)
    unsorted = sp.csr_matrix(
        (np.array([1.0, 2.0]), np.array([3, 1]), np.array([0, 2, 2])), shape=(2, 4)
    )
    assert sparse_values(
        unsorted, np.array([0, 0, 0, 1]), np.array([1, 3, 2, 3])
    ).tolist() == [
        2.0,
        1.0,
        0.0,
        0.0,
    ]
    assert sparse_values(
        sp.csr_matrix((2, 2)), np.array([1]), np.array([1])
    ).tolist() == [0.0]


def test_every_listed_phase_sees_its_weeks_promotions(built: Warehouse) -> None:
    # Real slice: the ranker trains on the baskets before validation too, so
    # their trips' promotions must be loaded, not only the scored ones'.
    baskets = load_baskets(built)
    valid, earlier = baskets.phase("valid"), baskets.phase("earlier")
    promoted = FEATURES.index("on_promotion")

    def share_on_promotion(ctx: Context) -> float:
        sig = signals(earlier, TifuParams(neighbors=20), 1.0)
        users, items = candidates(earlier, sig)
        return float(features(earlier, users, items, sig, ctx)[:, promoted].mean())

    listed = share_on_promotion(context_for(built, baskets, valid, earlier))
    # Left out, the trips whose store-week no validation trip shares read as
    # if nothing were on promotion.
    left_out = share_on_promotion(context_for(built, baskets, valid))
    assert listed > 2 * left_out  # 0.22 against 0.07 on this slice
