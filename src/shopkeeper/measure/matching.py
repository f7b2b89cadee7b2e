"""Targeted vs comparable non-targeted customers, matched on pre-period behaviour.

For campaigns without a holdout (The Complete Journey's are not randomized) the
best available comparison is coarsened exact matching: cut customers into
strata by pre-period deciles of total spend and by pre-period spend on the
campaign's products (none, or terciles of those who bought any), then compare
targeted with non-targeted customers *within* each stratum and weight the
strata by how many targeted customers they hold (the effect on the treated).

Matching removes the differences the strata capture, not those they miss (who
the retailer chose to target, and why), so the result is a careful
description, never causal proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from shopkeeper.errors import InvalidInput
from shopkeeper.measure.readout import Interval

__all__ = ["CAVEAT", "Matched", "matched_difference", "strata"]

CAVEAT = (
    "Observational: campaign members were chosen by the retailer, not at random. "
    "Matching on pre-period spend removes the differences it measures, not the "
    "reasons for targeting, so this difference is not causal proof."
)
_DECILES = 10
_PRODUCT_BINS = 3


@dataclass(frozen=True)
class Matched:
    """The matched difference in the outcome, targeted minus comparable controls."""

    outcome: str
    treated_matched: int
    treated_unmatched: int
    controls: int
    strata: int
    treated_mean: float
    control_mean: float
    diff: float
    interval: Interval
    bootstrap: Interval
    naive_diff: float


def _bins(values: pd.Series, q: int) -> pd.Series:
    """Quantile bins; equal values always share a bin (tied edges merge), so
    customers who spent the same are never split apart by row order."""
    if values.nunique() < 2:
        return pd.Series(0, index=values.index)
    return pd.qcut(values, q=q, labels=False, duplicates="drop").astype(int)


def strata(pre_total: pd.Series, pre_products: pd.Series | None) -> pd.Series:
    """A stratum label per customer: total-spend decile x product-spend bin."""
    label = _bins(pre_total, _DECILES).astype(str)
    if pre_products is None:
        return label
    product_bin = pd.Series(0, index=pre_products.index)
    bought = pre_products > 0
    if bought.sum() >= _PRODUCT_BINS:
        product_bin[bought] = 1 + _bins(pre_products[bought], _PRODUCT_BINS)
    elif bought.any():
        product_bin[bought] = 1
    return label + ":" + product_bin.astype(str)


def matched_difference(
    frame: pd.DataFrame,
    *,
    outcome: str,
    use_products: bool = True,
    seed: int = 0,
    resamples: int = 1000,
    level: float = 0.95,
) -> Matched:
    """Stratified difference of ``frame.outcome`` between targeted and controls.

    Args:
        frame: one row per customer with ``targeted`` (bool), ``pre_total``,
            ``pre_products`` and ``outcome`` (zeros, not nulls, for no spend).
        outcome: a description of the outcome for the report.
        use_products: stratify on ``pre_products`` too (off when the campaign
            has no products to measure).

    A stratum counts when it holds at least one targeted customer and two
    controls; targeted customers elsewhere are reported as unmatched. The
    interval is the normal one for a stratified mean, the bootstrap resamples
    within strata (seeded).
    """
    need = {"targeted", "pre_total", "pre_products", "outcome"}
    if missing := need - set(frame.columns):
        raise InvalidInput(f"matching needs columns {sorted(missing)}")
    frame = frame.reset_index(drop=True)
    label = strata(frame.pre_total, frame.pre_products if use_products else None)
    treated_mask = frame.targeted.to_numpy(bool)
    y = frame.outcome.to_numpy(float)
    if treated_mask.sum() == 0 or (~treated_mask).sum() == 0:
        raise InvalidInput("matching needs both targeted and non-targeted customers")
    naive = float(y[treated_mask].mean() - y[~treated_mask].mean())
    groups = []
    unmatched = 0
    for _, index in label.groupby(label).groups.items():
        idx = np.asarray(index)
        t, c = y[idx][treated_mask[idx]], y[idx][~treated_mask[idx]]
        if t.size == 0:
            continue
        if c.size < 2:
            unmatched += t.size
            continue
        groups.append((t, c))
    if not groups:
        raise InvalidInput("no stratum holds both targeted and comparable customers")
    n_t = np.array([t.size for t, _ in groups], float)
    w = n_t / n_t.sum()
    mt = np.array([t.mean() for t, _ in groups])
    mc = np.array([c.mean() for _, c in groups])
    var = np.array(
        [
            (t.var(ddof=1) / t.size if t.size > 1 else 0.0) + c.var(ddof=1) / c.size
            for t, c in groups
        ]
    )
    diff = float(w @ (mt - mc))
    se = float(np.sqrt(w**2 @ var))
    z = float(stats.norm.ppf(0.5 + level / 2))
    rng = np.random.default_rng(seed)
    boot = np.zeros(resamples)
    for weight, (t, c) in zip(w, groups, strict=True):
        bt = t[rng.integers(0, t.size, (resamples, t.size))].mean(axis=1)
        bc = c[rng.integers(0, c.size, (resamples, c.size))].mean(axis=1)
        boot += weight * (bt - bc)
    alpha = (1 - level) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Matched(
        outcome=outcome,
        treated_matched=int(n_t.sum()),
        treated_unmatched=unmatched,
        controls=int(sum(c.size for _, c in groups)),
        strata=len(groups),
        treated_mean=float(w @ mt),
        control_mean=float(w @ mc),
        diff=diff,
        interval=Interval(diff - z * se, diff + z * se, level),
        bootstrap=Interval(float(low), float(high), level),
        naive_diff=naive,
    )
