"""Readout statistics: known answers from scipy, and interval calibration.

The calibration tests use simulated draws (seeded): only there is the true
effect known, which is what a coverage check needs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from shopkeeper.errors import InvalidInput
from shopkeeper.measure import (
    bootstrap_interval,
    cuped,
    readout,
    sample_ratio,
    welch,
)

EFFECT = 2.0


def _draw(rng: np.random.Generator, n: int, effect: float) -> np.ndarray:
    """Zero-inflated, skewed spend, as per-customer revenue looks."""
    buys = rng.random(n) < 0.6
    return buys * rng.gamma(2.0, 10.0, n) + effect


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    t, h = _draw(rng, 80, 1.0), _draw(rng, 50, 0.0)
    diff, interval, p = welch(t, h)
    ref = stats.ttest_ind(t, h, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert diff == pytest.approx(t.mean() - h.mean())
    assert p == pytest.approx(ref.pvalue)
    assert (interval.low, interval.high) == pytest.approx((ci.low, ci.high))


def test_intervals_cover_an_injected_effect_about_95_percent() -> None:
    rng = np.random.default_rng(7)
    draws = 300
    welch_hits = boot_hits = cuped_hits = 0
    for i in range(draws):
        pre_t, pre_h = _draw(rng, 150, 0.0), _draw(rng, 100, 0.0)
        t = 0.5 * pre_t + _draw(rng, 150, EFFECT)
        h = 0.5 * pre_h + _draw(rng, 100, 0.0)
        _, interval, _ = welch(t, h)
        welch_hits += interval.covers(EFFECT)
        boot_hits += bootstrap_interval(t, h, resamples=400, seed=i).covers(EFFECT)
        cuped_hits += cuped(t, h, pre_t, pre_h).welch.covers(EFFECT)
    # 300 draws: a 95% interval covers 285 on average, sd 3.8
    for hits in (welch_hits, boot_hits, cuped_hits):
        assert 0.91 * draws <= hits <= 0.985 * draws, (
            welch_hits,
            boot_hits,
            cuped_hits,
        )


def test_cuped_removes_the_variance_the_pre_period_explains() -> None:
    rng = np.random.default_rng(3)
    x_t, x_h = rng.normal(50, 10, 4000), rng.normal(50, 10, 4000)
    t = x_t + rng.normal(0, 10, 4000) + 1.0
    h = x_h + rng.normal(0, 10, 4000)
    result = cuped(t, h, x_t, x_h)
    assert result.theta == pytest.approx(1.0, abs=0.05)
    # corr(x, y)^2 = 100 / (100 + 100) = 0.5 of the variance is explained
    assert result.variance_reduction == pytest.approx(0.5, abs=0.03)
    raw_width = welch(t, h)[1]
    assert (result.welch.high - result.welch.low) < 0.8 * (
        raw_width.high - raw_width.low
    )


def test_sample_ratio_flags_a_broken_split() -> None:
    fine = sample_ratio(905, 95, 0.1)
    assert not fine.mismatch
    assert fine.chi2 == pytest.approx(5**2 / 900 + 5**2 / 100)
    broken = sample_ratio(850, 150, 0.1)
    assert broken.mismatch and broken.p_value < 1e-6


def test_readout_reports_conversion_revenue_and_checks() -> None:
    rng = np.random.default_rng(5)
    t, h = _draw(rng, 300, 0.0), _draw(rng, 100, 0.0)
    r = readout(t, h, treated_pre=t * 0.5, holdout_pre=h * 0.5, holdout_share=0.25)
    assert (r.treated, r.holdout) == (300, 100)
    assert r.conversion.treated_mean == pytest.approx((t > 0).mean())
    assert r.revenue.diff == pytest.approx(t.mean() - h.mean())
    assert r.cuped is not None and r.srm is not None and not r.srm.mismatch
    assert r.revenue.bootstrap.low < r.revenue.diff < r.revenue.bootstrap.high


def test_readout_refuses_groups_too_small_to_compare() -> None:
    with pytest.raises(InvalidInput, match="at least 2 customers"):
        readout([1.0, 2.0], [3.0])
    with pytest.raises(InvalidInput, match="share"):
        sample_ratio(10, 10, 1.0)
