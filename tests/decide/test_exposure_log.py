"""The evaluation policies built from an exposure log, on a known case.

Generated rows: the case must hold candidates that were never shown, which a
small real run does not guarantee; the end-to-end run on real decisions is
tests/decide/test_evaluate_decisions.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopkeeper.decide.exposure_log import policy_distributions


def test_uniform_and_recommender_policies_at_each_logged_rank() -> None:
    # d1 showed a then b out of 4 candidates (the recommender had b first);
    # d2 showed c at rank 1 out of 2, the recommender's third.
    frame = pd.DataFrame(
        {
            "decision_id": ["d1", "d1", "d2"],
            "action": [0, 1, 2],
            "rank": [1, 2, 1],
            "base_rank": [2, 1, 3],
            "candidates": [4, 4, 2],
        }
    )
    dists = policy_distributions(frame, n_items=3, has_base=True)
    # The last column is "another candidate", never shown in that decision.
    np.testing.assert_allclose(
        dists["uniform"],
        [[0.25, 0.25, 0, 0.5], [0.25, 0.25, 0, 0.5], [0, 0, 0.5, 0.5]],
    )
    np.testing.assert_allclose(
        dists["recommender"], [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    )
    assert policy_distributions(frame, n_items=3, has_base=False)["recommender"] is None
