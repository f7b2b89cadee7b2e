"""Matched comparison on generated data with a known confounder and effect.

Generated (seeded): only on simulated customers is the true effect known.
Heavy pre-period spenders are both likelier to be targeted and spend more
anyway, so the naive difference is biased; matching on pre-period spend must
recover the injected effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.measure import matched_difference
from shopkeeper.measure.matching import strata

EFFECT = 3.0


def _customers(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 50.0, n)
    targeted = rng.random(n) < np.clip(pre / 300, 0.05, 0.9)
    outcome = 0.2 * pre + rng.normal(0, 5, n) + EFFECT * targeted
    return pd.DataFrame(
        {
            "targeted": targeted,
            "pre_total": pre,
            "pre_products": np.zeros(n),
            "outcome": outcome,
        }
    )


def test_matching_removes_the_bias_the_strata_capture() -> None:
    m = matched_difference(_customers(1), outcome="spend", use_products=False)
    assert m.naive_diff > EFFECT + 10  # targeting followed past spend
    assert m.diff == pytest.approx(EFFECT, abs=2.5)  # deciles leave a little
    assert m.bootstrap.low < m.diff < m.bootstrap.high
    assert m.treated_matched + m.treated_unmatched == int(_customers(1).targeted.sum())


def test_equal_values_share_a_stratum() -> None:
    pre = pd.Series([0.0] * 50 + list(range(1, 51)), dtype=float)
    labels = strata(pre, pd.Series([0.0] * 100))
    assert labels[:50].nunique() == 1  # fifty zero spenders are one group


def test_refuses_a_comparison_without_controls() -> None:
    frame = _customers(2).assign(targeted=True)
    with pytest.raises(InvalidInput, match="non-targeted"):
        matched_difference(frame, outcome="spend")
