"""No leakage: the features of a trip use only the baskets before it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from shopkeeper.recommend.context import load_context
from shopkeeper.recommend.discover import DiscoverParams, discovery_candidates
from shopkeeper.recommend.features import context_for, features, signals
from shopkeeper.recommend.history import Baskets, Phase, load_baskets
from shopkeeper.recommend.ranker import RankerParams, scored_candidates
from shopkeeper.recommend.tifuknn import TifuParams
from shopkeeper.warehouse import Warehouse

TIFU = TifuParams(groups=3, within_decay=0.8, group_decay=0.8, alpha=0.5, neighbors=20)


def _shuffled_future(baskets: Baskets, since: np.ndarray) -> Baskets:
    """Every basket from ``since[u]`` on gets other, randomly drawn items."""
    rng = np.random.default_rng(7)
    indices = baskets.indices.copy()
    for u, start in enumerate(since):
        lo, hi = baskets.indptr[start], baskets.indptr[baskets.first[u + 1]]
        indices[lo:hi] = rng.choice(baskets.n_items, hi - lo)
    return dataclasses.replace(baskets, indices=indices)


def test_shuffling_the_future_leaves_features_unchanged(built: Warehouse) -> None:
    baskets = load_baskets(built)
    valid = baskets.phase("valid")
    ctx = context_for(built, baskets, valid)
    users, items, x = scored_candidates(valid, TIFU, ctx, RankerParams())
    # Validation and test baskets are the future of the validation phase.
    changed = _shuffled_future(baskets, valid.target)
    assert not np.array_equal(changed.indices, baskets.indices)
    again = dataclasses.replace(valid, baskets=changed)
    users2, items2, x2 = scored_candidates(again, TIFU, ctx, RankerParams())
    assert np.array_equal(users, users2) and np.array_equal(items, items2)
    np.testing.assert_array_equal(x, x2)
    assert x.shape[0] > 1000 and np.isfinite(x[:, 0]).all()


def test_test_phase_features_see_the_validation_basket(built: Warehouse) -> None:
    # The converse, so the test above cannot pass vacuously: the test phase's
    # history includes the validation basket, and its features change with it.
    baskets = load_baskets(built)
    test = baskets.phase("test")
    ctx = load_context(built, baskets, pd.DataFrame({"store": [], "week": []}))
    _, _, x = scored_candidates(test, TIFU, ctx, RankerParams())
    changed = dataclasses.replace(
        test, baskets=_shuffled_future(baskets, baskets.phase("valid").target)
    )
    _, _, x2 = scored_candidates(changed, TIFU, ctx, RankerParams())
    assert x.shape != x2.shape or not np.array_equal(x, x2, equal_nan=True)


def test_discovery_candidates_ignore_the_future(built: Warehouse) -> None:
    baskets = load_baskets(built)
    valid = baskets.phase("valid")
    ctx = context_for(built, baskets, valid)

    def pairs(phase: Phase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sig = signals(phase, TIFU, 1.0)
        users, items = discovery_candidates(phase, sig, ctx, DiscoverParams())
        return users, items, features(phase, users, items, sig, ctx)

    users, items, x = pairs(valid)
    changed = dataclasses.replace(
        valid, baskets=_shuffled_future(baskets, valid.target)
    )
    users2, items2, x2 = pairs(changed)
    assert np.array_equal(users, users2) and np.array_equal(items, items2)
    np.testing.assert_array_equal(x, x2)
    assert len(users) > 1000
