"""The compiled Thompson kernel on cases whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.decide.thompson import top_n

_NONE = np.zeros(0, dtype=np.int64)


def _stats(scores: list[float], shows: float = 0.0) -> np.ndarray:
    k = len(scores)
    return np.array([scores, [shows] * k, [0.0] * k], np.float64)


def test_certain_posteriors_rank_by_score_and_every_sample_agrees() -> None:
    # A million pseudo-shows: the posteriors are points, so every sample
    # ranks by score and the shown order has propensity 1 - exploration
    # (plus the floor) at every position.
    stats = _stats([0.1, 0.4, 0.2, 0.3])
    noise = np.random.default_rng(0).standard_normal(64 * 4)
    out = top_n(stats, 1e6, noise, 0, 64, 3, 5, _NONE, 0.2)
    assert out[:3].tolist() == [1, 3, 2]
    assert out[3:] == pytest.approx([0.2 / 4 + 0.8] * 3)


def test_an_explored_order_is_shown_as_given_with_the_samples_share() -> None:
    stats = _stats([0.1, 0.4, 0.2, 0.3])
    noise = np.random.default_rng(0).standard_normal(64 * 4)
    chosen = np.array([0, 1, 2], dtype=np.int64)
    out = top_n(stats, 1e6, noise, 0, 64, 3, -1, chosen, 0.2)
    # Item 0 is never a sample's first, item 1 never second, item 2 always
    # third: only the floor at the first two positions.
    assert out[:3].tolist() == [0, 1, 2]
    assert out[3:] == pytest.approx([0.05, 0.05, 0.05 + 0.8])


def test_the_noise_is_read_from_the_offset() -> None:
    # Equal priors: the order is the noise's. Two offsets, two orders, each
    # the argsort of the noise it was given.
    stats = _stats([0.2, 0.2, 0.2], shows=0.0)
    noise = np.random.default_rng(1).standard_normal(64 * 3 + 3)
    for offset in (0, 3):
        out = top_n(stats, 100.0, noise, offset, 64, 3, 0, _NONE, 0.0)
        first = noise[offset : offset + 3]
        assert out[:3].tolist() == np.argsort(-first).tolist()
