"""Uplift and Qini curves, the Qini coefficient and AUUC, with bootstrap intervals.

An uplift model cannot be scored row by row (nobody is both treated and not),
so it is scored on how well its *ranking* separates persuadable customers on
a randomized sample. Sort customers by predicted uplift, best first, and after
the top ``x`` of them (``n_t`` treated with total outcome ``y_t``, ``n_c``
controls with ``y_c``):

- **Qini curve** (Radcliffe 2007): ``y_t - y_c * n_t / n_c``, the extra
  outcome among the treated in the top ``x`` over what their control twins
  produced.
- **Uplift curve**: ``(y_t / n_t - y_c / n_c) * x``, the difference of means
  scaled to the ``x`` customers targeted.

Ties in the score are one step of the curve (points only at the end of each
group of equal scores), so a constant score draws the random line exactly.
Areas are trapezoids over ``x``. Both headline numbers are *normalized* as in
scikit-uplift's ``qini_auc_score`` and ``uplift_auc_score``::

    (area(model) - area(random)) / (area(perfect) - area(random))

``random`` is the straight line from the origin to the curve's end point, and
``perfect`` ranks by the oracle score ``y`` for treated rows and ``-y`` for
controls (treated buyers first, controls who bought anyway last). So the
**Qini coefficient** is 1 for the perfect ranking and about 0 for a random one,
and **AUUC** is the same normalization of the uplift curve; both work for
binary and continuous outcomes.

Several treatments: each offer ``k`` is scored against the control on the
rows of those two arms with that offer's predicted uplift
(:func:`evaluate_uplift`), and the headline is the mean over offers.
Intervals come from a seeded bootstrap over rows, stratified by arm so every
replicate keeps the experiment's arm sizes; all models are scored on the same
replicates, so differences between them get paired intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shopkeeper.errors import InvalidInput

__all__ = [
    "METRICS",
    "Curve",
    "Interval",
    "UpliftEvaluation",
    "auuc",
    "evaluate_uplift",
    "interval",
    "perfect_score",
    "qini_coefficient",
    "qini_curve",
    "uplift_curve",
]

Metric = Literal["qini", "auuc"]
METRICS: tuple[Metric, ...] = ("qini", "auuc")


@dataclass(frozen=True)
class Curve:
    """Points of a gain curve: ``x`` customers targeted (starting at 0), ``gain``."""

    x: np.ndarray
    gain: np.ndarray

    def area(self) -> float:
        """Trapezoid area under the curve."""
        return float(
            np.sum((self.x[1:] - self.x[:-1]) * (self.gain[1:] + self.gain[:-1])) / 2
        )

    def random_area(self) -> float:
        """Area under the straight line from the origin to the curve's end."""
        return float(self.x[-1] * self.gain[-1] / 2)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap standard error and percentile interval."""

    value: float
    stderr: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """Plain floats, for JSON results."""
        return {
            "value": self.value,
            "stderr": self.stderr,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def _check(y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> None:
    if not (len(y) == len(score) == len(treated)):
        raise InvalidInput(
            f"y, score and treated must be the same length, not "
            f"{len(y)}, {len(score)} and {len(treated)}"
        )
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(score)):
        raise InvalidInput("y and score must be finite (no NaN or infinity)")
    if treated.dtype != bool and not np.isin(treated, (0, 1)).all():
        raise InvalidInput("treated must be boolean or 0/1")


def _ends(sorted_score: np.ndarray) -> np.ndarray:
    """Index of the last row of each group of equal scores (descending order)."""
    change = np.flatnonzero(sorted_score[1:] != sorted_score[:-1])
    return np.append(change, len(sorted_score) - 1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _curves(
    y: np.ndarray, t: np.ndarray, w: np.ndarray, ends: np.ndarray
) -> tuple[Curve, Curve]:
    """Qini and uplift curves of rows already sorted best first, with row weights."""
    wt = w * t
    wc = w - wt
    n_t = np.cumsum(wt)[ends]
    n_c = np.cumsum(wc)[ends]
    y_t = np.cumsum(wt * y)[ends]
    y_c = np.cumsum(wc * y)[ends]
    x = np.concatenate(([0.0], n_t + n_c))
    qini = y_t - y_c * _ratio(n_t, n_c)
    lift = (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * (n_t + n_c)
    return Curve(x, np.concatenate(([0.0], qini))), Curve(
        x, np.concatenate(([0.0], lift))
    )


def _sorted(
    y: np.ndarray, score: np.ndarray, treated: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _check(y, score, treated)
    order = np.argsort(-score, kind="stable")
    return order, np.asarray(treated, dtype=np.float64)[order], _ends(score[order])


def qini_curve(y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> Curve:
    """The Qini curve of ``score`` on a randomized two-arm sample (see module doc)."""
    order, t, ends = _sorted(y, score, treated)
    return _curves(np.asarray(y, np.float64)[order], t, np.ones(len(t)), ends)[0]


def uplift_curve(y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> Curve:
    """The uplift curve of ``score`` on a randomized two-arm sample (see module doc)."""
    order, t, ends = _sorted(y, score, treated)
    return _curves(np.asarray(y, np.float64)[order], t, np.ones(len(t)), ends)[1]


def perfect_score(y: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The oracle ranking: treated rows by outcome, controls by minus outcome."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.asarray(treated, dtype=bool), y, -y)


def _normalized(model: Curve, perfect: Curve) -> float:
    best = perfect.area() - perfect.random_area()
    if best <= 0:
        return float("nan")
    return (model.area() - model.random_area()) / best


def qini_coefficient(
    y: np.ndarray, score: np.ndarray, treated: np.ndarray, *, normalize: bool = True
) -> float:
    """Area between the Qini curve and the random line, over the perfect's.

    With ``normalize=False`` the raw area between the model's curve and the
    random line (outcome units times customers) is returned instead.
    NaN when the sample has no room for improvement (the perfect curve is no
    better than random, e.g. no outcomes at all).
    """
    model = qini_curve(y, score, treated)
    if not normalize:
        return model.area() - model.random_area()
    return _normalized(model, qini_curve(y, perfect_score(y, treated), treated))


def auuc(
    y: np.ndarray, score: np.ndarray, treated: np.ndarray, *, normalize: bool = True
) -> float:
    """Area under the uplift curve above random, over the perfect's.

    Same conventions as :func:`qini_coefficient`.
    """
    model = uplift_curve(y, score, treated)
    if not normalize:
        return model.area() - model.random_area()
    return _normalized(model, uplift_curve(y, perfect_score(y, treated), treated))


def interval(value: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """Percentile interval and standard deviation of bootstrap replicates."""
    finite = replicates[np.isfinite(replicates)]
    if len(finite) == 0:
        nan = float("nan")
        return Interval(value, nan, nan, nan)
    alpha = (1.0 - level) / 2
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(
        float(value), float(np.std(finite, ddof=1)), float(low), float(high)
    )


@dataclass(frozen=True)
class UpliftEvaluation:
    """Qini coefficient and AUUC of several models on one randomized sample.

    ``point[metric]`` has shape (models, offers); ``replicates[metric]`` has
    shape (n_boot, models, offers), every model scored on the same resamples.
    """

    names: tuple[str, ...]
    offers: tuple[str, ...]
    point: dict[str, np.ndarray]
    replicates: dict[str, np.ndarray]
    level: float

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise InvalidInput(f"no model {name!r}; evaluated: {', '.join(self.names)}")
        return self.names.index(name)

    def score(
        self, name: str, metric: Metric = "qini", offer: int | None = None
    ) -> Interval:
        """A model's metric for one offer (0-based), or the mean over offers."""
        i = self._index(name)
        if offer is None:
            return interval(
                float(self.point[metric][i].mean()),
                self.replicates[metric][:, i].mean(axis=1),
                self.level,
            )
        return interval(
            float(self.point[metric][i, offer]),
            self.replicates[metric][:, i, offer],
            self.level,
        )

    def difference(self, a: str, b: str, metric: Metric = "qini") -> Interval:
        """Paired interval of ``a``'s mean-over-offers metric minus ``b``'s."""
        i, j = self._index(a), self._index(b)
        point = self.point[metric][i].mean() - self.point[metric][j].mean()
        boot = self.replicates[metric][:, i].mean(axis=1) - self.replicates[metric][
            :, j
        ].mean(axis=1)
        return interval(float(point), boot, self.level)


def _resample_weights(treatment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap counts per row, resampling each arm to its own size."""
    w = np.zeros(len(treatment))
    for code in np.unique(treatment):
        rows = np.flatnonzero(treatment == code)
        w[rows] = np.bincount(
            rng.integers(0, len(rows), len(rows)), minlength=len(rows)
        )
    return w


def evaluate_uplift(
    y: np.ndarray,
    treatment: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    offers: tuple[str, ...] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> UpliftEvaluation:
    """Score each model's per-offer uplift ``(n, K)`` against the control arm 0.

    Args:
        y: outcome per row (binary or continuous).
        treatment: arm code per row, 0 = control, 1..K = offers.
        predictions: model name -> predicted uplift of each offer, shape (n, K).
        offers: names of offers 1..K, for reports.
        n_boot: bootstrap replicates (0 for point estimates only).
        seed: seeds the resampling; the same seed gives the same replicates.
        level: confidence level of the intervals.
    """
    y = np.asarray(y, dtype=np.float64)
    treatment = np.asarray(treatment)
    if not predictions:
        raise InvalidInput("evaluate_uplift needs at least one model's predictions")
    names = tuple(predictions)
    k = next(iter(predictions.values())).shape[1]
    for name, uplift in predictions.items():
        if uplift.shape != (len(y), k):
            raise InvalidInput(
                f"{name}: predictions have shape {uplift.shape}, expected {(len(y), k)}"
            )
        _check(y, uplift[:, 0], np.zeros(len(y), bool))
    if len(treatment) != len(y) or set(np.unique(treatment)) - set(range(k + 1)):
        raise InvalidInput(f"treatment must hold arm codes 0..{k}, one per row")
    for code in range(k + 1):
        if not np.any(treatment == code):
            raise InvalidInput(f"arm {code} has no rows; every arm needs some")
    offers = offers or tuple(f"offer {j}" for j in range(1, k + 1))

    # Sort orders are fixed across replicates; only the row weights change.
    plans = []
    for j in range(1, k + 1):
        rows = np.flatnonzero((treatment == 0) | (treatment == j))
        treated = (treatment[rows] == j).astype(np.float64)
        orders = []
        for score in [perfect_score(y[rows], treated)] + [
            p[rows, j - 1] for p in predictions.values()
        ]:
            order = np.argsort(-score, kind="stable")
            orders.append((order, _ends(score[order])))
        plans.append((rows, treated, orders))

    def score_all(w: np.ndarray) -> np.ndarray:
        out = np.empty((2, len(names), k))
        for j, (rows, treated, orders) in enumerate(plans):
            yr, wr = y[rows], w[rows]
            curves = [
                _curves(yr[order], treated[order], wr[order], ends)
                for order, ends in orders
            ]
            (perfect_q, perfect_u), models = curves[0], curves[1:]
            for m, (q, u) in enumerate(models):
                out[0, m, j] = _normalized(q, perfect_q)
                out[1, m, j] = _normalized(u, perfect_u)
        return out

    point = score_all(np.ones(len(y)))
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, 2, len(names), k))
    for b in range(n_boot):
        boot[b] = score_all(_resample_weights(treatment, rng))
    return UpliftEvaluation(
        names=names,
        offers=offers,
        point={"qini": point[0], "auuc": point[1]},
        replicates={"qini": boot[:, 0], "auuc": boot[:, 1]},
        level=level,
    )
