"""Helpers of the feature code, on known answers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopkeeper.recommend.features import sparse_values


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
