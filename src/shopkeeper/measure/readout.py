"""Treated vs holdout: differences with intervals, CUPED and the sample-ratio check.

Pure numpy/scipy over per-customer arrays, so the statistics can be tested on
draws with a known answer; the campaign module pulls the arrays with Ibis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from shopkeeper.errors import InvalidInput

__all__ = [
    "SRM_ALPHA",
    "Cuped",
    "Difference",
    "Interval",
    "Readout",
    "SampleRatio",
    "bootstrap_interval",
    "cuped",
    "difference",
    "readout",
    "sample_ratio",
    "welch",
]

Array = npt.NDArray[np.float64]
SRM_ALPHA = 0.001
"""A split this unlikely under the planned share means the assignment is broken,
not unlucky (the usual threshold in online experimentation)."""
_BOOT_CHUNK = 250  # resamples drawn at once: bounds memory at chunk * n floats


@dataclass(frozen=True)
class Interval:
    """A two-sided interval at ``level``."""

    low: float
    high: float
    level: float = 0.95

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Difference:
    """Mean of treated minus mean of holdout, with Welch and bootstrap intervals."""

    treated_mean: float
    holdout_mean: float
    diff: float
    welch: Interval
    bootstrap: Interval
    p_value: float

    @property
    def relative(self) -> float | None:
        """Lift as a share of the holdout mean (None when that mean is 0)."""
        return self.diff / self.holdout_mean if self.holdout_mean else None


@dataclass(frozen=True)
class Cuped:
    """The revenue difference after removing what the pre-period predicts."""

    theta: float
    diff: float
    welch: Interval
    variance_reduction: float


@dataclass(frozen=True)
class SampleRatio:
    """Chi-square test of the treated/holdout counts against the planned share."""

    treated: int
    holdout: int
    expected_holdout_share: float
    chi2: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


@dataclass(frozen=True)
class Readout:
    """Everything a randomized readout reports for one outcome window."""

    treated: int
    holdout: int
    conversion: Difference
    revenue: Difference
    cuped: Cuped | None
    srm: SampleRatio | None


def _arrays(*values: npt.ArrayLike) -> list[Array]:
    out = [np.asarray(v, dtype=np.float64) for v in values]
    for a in out[:2]:
        if a.size < 2:
            raise InvalidInput(
                "a readout needs at least 2 customers in each group, "
                f"got {out[0].size} treated and {out[1].size} holdout"
            )
    return out


def welch(
    treated: npt.ArrayLike, holdout: npt.ArrayLike, level: float = 0.95
) -> tuple[float, Interval, float]:
    """Difference of means, its Welch-Satterthwaite interval and two-sided p.

    Welch rather than Student because treated and holdout groups are sized
    very differently (a 10% holdout), where pooled variances mislead.
    """
    t, h = _arrays(treated, holdout)
    diff = float(t.mean() - h.mean())
    vt, vh = t.var(ddof=1) / t.size, h.var(ddof=1) / h.size
    se = float(np.sqrt(vt + vh))
    if se == 0.0:
        return diff, Interval(diff, diff, level), 1.0 if diff == 0 else 0.0
    dof = (vt + vh) ** 2 / (vt**2 / (t.size - 1) + vh**2 / (h.size - 1))
    q = float(stats.t.ppf(0.5 + level / 2, dof))
    p = float(2 * stats.t.sf(abs(diff) / se, dof))
    return diff, Interval(diff - q * se, diff + q * se, level), p


def bootstrap_interval(
    treated: npt.ArrayLike,
    holdout: npt.ArrayLike,
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Percentile bootstrap interval of the difference of means (seeded).

    Assumption-light where revenue is heavy-tailed and mostly zeros; each group
    is resampled on its own, as the groups were drawn.
    """
    t, h = _arrays(treated, holdout)
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for start in range(0, resamples, _BOOT_CHUNK):
        k = min(_BOOT_CHUNK, resamples - start)
        bt = t[rng.integers(0, t.size, (k, t.size))].mean(axis=1)
        bh = h[rng.integers(0, h.size, (k, h.size))].mean(axis=1)
        diffs[start : start + k] = bt - bh
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return Interval(float(low), float(high), level)


def difference(
    treated: npt.ArrayLike,
    holdout: npt.ArrayLike,
    *,
    seed: int = 0,
    resamples: int = 2000,
    level: float = 0.95,
) -> Difference:
    """Both intervals for one outcome, so a reader can see when they disagree."""
    t, h = _arrays(treated, holdout)
    diff, interval, p = welch(t, h, level)
    boot = bootstrap_interval(t, h, resamples=resamples, seed=seed, level=level)
    return Difference(float(t.mean()), float(h.mean()), diff, interval, boot, p)


def cuped(
    treated: npt.ArrayLike,
    holdout: npt.ArrayLike,
    treated_pre: npt.ArrayLike,
    holdout_pre: npt.ArrayLike,
    level: float = 0.95,
) -> Cuped:
    """CUPED (Deng et al. 2013): y - theta * (x - mean x), theta = cov(x, y)/var(x).

    The pre-period covariate cannot be moved by the treatment, so subtracting
    its prediction keeps the difference unbiased while removing the variance
    it explains: ``variance_reduction`` = 1 - var(adjusted)/var(raw), pooled.
    """
    t, h, tx, hx = _arrays(treated, holdout, treated_pre, holdout_pre)
    if tx.shape != t.shape or hx.shape != h.shape:
        raise InvalidInput("pre-period values must align with outcomes, per group")
    y, x = np.concatenate([t, h]), np.concatenate([tx, hx])
    var_x = float(x.var(ddof=1))
    theta = float(np.cov(x, y, ddof=1)[0, 1] / var_x) if var_x > 0 else 0.0
    mean_x = float(x.mean())
    ta, ha = t - theta * (tx - mean_x), h - theta * (hx - mean_x)
    diff, interval, _ = welch(ta, ha, level)
    var_y = float(y.var(ddof=1))
    adjusted = float(np.concatenate([ta, ha]).var(ddof=1))
    reduction = 1 - adjusted / var_y if var_y > 0 else 0.0
    return Cuped(theta, diff, interval, reduction)


def sample_ratio(treated: int, holdout: int, holdout_share: float) -> SampleRatio:
    """Goodness-of-fit of the observed split to the planned holdout share."""
    if not 0 < holdout_share < 1:
        raise InvalidInput(f"holdout share must be in (0, 1), got {holdout_share}")
    n = treated + holdout
    expected = np.array([n * (1 - holdout_share), n * holdout_share])
    chi2, p = stats.chisquare([treated, holdout], expected)
    return SampleRatio(treated, holdout, holdout_share, float(chi2), float(p))


def readout(
    treated_revenue: npt.ArrayLike,
    holdout_revenue: npt.ArrayLike,
    *,
    treated_pre: npt.ArrayLike | None = None,
    holdout_pre: npt.ArrayLike | None = None,
    holdout_share: float | None = None,
    seed: int = 0,
    resamples: int = 2000,
) -> Readout:
    """The full randomized readout from per-customer revenue (zeros included).

    Conversion is revenue > 0. CUPED runs when pre-period values are given and
    the sample-ratio check when the planned share is known.
    """
    t, h = _arrays(treated_revenue, holdout_revenue)
    conv = difference(
        (t > 0).astype(float), (h > 0).astype(float), seed=seed, resamples=resamples
    )
    rev = difference(t, h, seed=seed, resamples=resamples)
    adj = None
    if treated_pre is not None and holdout_pre is not None:
        adj = cuped(t, h, treated_pre, holdout_pre)
    srm = None
    if holdout_share is not None:
        srm = sample_ratio(t.size, h.size, holdout_share)
    return Readout(t.size, h.size, conv, rev, adj, srm)
