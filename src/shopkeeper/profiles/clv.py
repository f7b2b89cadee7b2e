"""Customer lifetime value: BG/NBD for purchases and P(alive), Gamma-Gamma for spend.

Why these models: a grocery or catalogue customer never tells the retailer
they have left, so "churn" is latent. The BG/NBD model (Fader, Hardie and Lee
2005, "Counting your customers the easy way") explains a customer's repeat
purchases up to a date by a Poisson purchase rate and a chance of dropping out
after each purchase, both varying across customers; from three numbers per
customer (repeat purchases ``x``, time of the last one ``t_x``, age ``T``) it
gives the expected purchases in any future window and the probability that the
customer is still active. The Gamma-Gamma model (Fader, Hardie and Lee 2005,
"RFM and CLV"; Fader and Hardie 2013 note) shrinks each customer's mean spend
per repeat purchase towards the population's. Expected purchases times expected
spend, discounted week by week, is the CLV.

Both are fitted here by maximum likelihood with scipy (``scipy.optimize`` on
log parameters, ``scipy.special`` for the Gamma, Beta and Gauss hypergeometric
functions), written from the published formulas. The ``lifetimes`` package
implements the same models but is unmaintained, and ``pymc-marketing`` compiles
for tens of seconds on first use; a 4-parameter likelihood does not need either.

The per-customer summary is an Ibis expression, so it runs on every engine; the
fit itself is a single-machine model over one row per customer (numpy).

Conventions (those of the paper and of ``lifetimes``, which reproduce the
published CDNOW numbers): purchases are counted by calendar day (several orders
on one day are one purchase, with their spend summed); ``frequency`` is the
number of purchase days after the first; times are in weeks (days / 7) from the
first purchase day; the observation period ends on the day before ``as_of``, so
``T = (as_of - 1 day - first day) / 7``; the spend per repeat purchase is the
mean daily spend over the repeat days only (the first purchase is excluded).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike
from scipy import optimize, special

from shopkeeper.errors import InvalidInput

__all__ = [
    "ANNUAL_DISCOUNT",
    "MIN_CUSTOMERS",
    "BGNBD",
    "GammaGamma",
    "clv",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "score",
    "summary",
]

log = logging.getLogger(__name__)

ANNUAL_DISCOUNT = 0.10
"""Yearly discount rate the profile's ``clv_52w`` uses (applied week by week)."""

MIN_CUSTOMERS = 30
"""Fewer customers than this (or fewer repeat buyers) and the profile skips the fit."""

_SUMMARY_COLUMNS = (
    "frequency",
    "recency_weeks",
    "age_weeks",
    "avg_repeat_spend",
)


def summary(purchases: ir.Table, as_of: dt.date) -> ir.Table:
    """One row per customer: the BG/NBD and Gamma-Gamma inputs as of ``as_of``.

    Args:
        purchases: one row per order with ``customer_id``, ``ordered_at``
            (timestamp or date) and ``value``; ``household_id`` is carried
            through when present.
        as_of: purchases strictly before this day count.

    Returns:
        ``customer_id`` (and ``household_id``), ``as_of``, ``first_purchase_day``,
        ``frequency`` (repeat purchase days), ``recency_weeks`` (``t_x``),
        ``age_weeks`` (``T``), ``avg_repeat_spend`` (null without repeats).
    """
    # One row per customer even if their identifiers span households: the
    # household shown is the greatest id, as every engine agrees on that.
    carried = ["household_id"] if "household_id" in purchases.columns else []
    cut = purchases.filter(purchases.ordered_at < ibis.literal(as_of).cast("timestamp"))
    cut = cut.mutate(day=cut.ordered_at.cast("date"))
    days = cut.group_by(["customer_id", "day"]).agg(
        spend=cut.value.sum(), **{c: cut[c].max() for c in carried}
    )
    first = days.day.min().over(ibis.window(group_by=days.customer_id))
    days = days.mutate(repeat_spend=ibis.ifelse(days.day == first, 0.0, days.spend))
    per = days.group_by("customer_id").agg(
        **{c: days[c].max() for c in carried},
        first_purchase_day=days.day.min(),
        last_purchase_day=days.day.max(),
        n_days=days.day.count(),
        repeat_spend=days.repeat_spend.sum(),
    )
    end = ibis.literal(as_of - dt.timedelta(days=1))
    frequency = (per.n_days - 1).cast("int64")
    return per.select(
        "customer_id",
        *carried,
        as_of=ibis.literal(as_of),
        first_purchase_day=per.first_purchase_day,
        frequency=frequency,
        recency_weeks=per.last_purchase_day.delta(per.first_purchase_day, unit="day")
        / 7.0,
        age_weeks=end.delta(per.first_purchase_day, unit="day") / 7.0,
        avg_repeat_spend=ibis.ifelse(
            # Spend summed to the cent: the engine's parallel float sums
            # differ in the last bits between runs, and a rebuild must not.
            frequency > 0,
            per.repeat_spend.round(2) / frequency.cast("float64"),
            ibis.null(),
        ).cast("float64"),
    )


def _check(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise InvalidInput("frequency, recency and age must be finite numbers")
    if (x < 0).any() or (t_x < 0).any() or (T <= 0).any():
        raise InvalidInput(
            "frequency and recency must be >= 0 and age > 0",
            hint="drop customers whose first purchase is on the last day",
        )
    if (t_x > T + 1e-9).any():
        raise InvalidInput("recency (time of last purchase) cannot exceed age")
    if ((x == 0) & (t_x > 0)).any():
        raise InvalidInput("a customer without repeat purchases has recency 0")


@dataclass(frozen=True)
class BGNBD:
    """A fitted BG/NBD model (time in weeks).

    ``r`` and ``alpha`` shape the Gamma spread of purchase rates; ``a`` and
    ``b`` the Beta spread of the chance of dropping out after a purchase.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str

    def p_alive(
        self, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
    ) -> np.ndarray:
        """P(active at ``age``) after ``frequency`` repeats, the last at ``recency``.

        A customer with no repeat purchase cannot have dropped out under BG/NBD
        (drop-out happens only right after a purchase), so their P(alive) is 1.
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike = 0,
        recency: ArrayLike = 0,
        age: ArrayLike = 0,
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` weeks, given each customer's history.

        With the defaults (no history, age 0) this is ``E[X(t)]`` for a customer
        who has just made their first purchase, the basis of cohort forecasts.
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        # Euler's transformation of the paper's 2F1(r+x, b+x; a+b+x-1; z): the
        # factor ((alpha+T)/(alpha+T+t))^(r+x) cancels and the remaining series
        # has small upper parameters, so it stays finite for frequent buyers.
        tail = (1.0 - z) ** (a - 1.0) * special.hyp2f1(
            a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z
        )
        head = (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail)
        return head / (1.0 + self._odds_dead(x, t_x, T))

    def _odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        log_odds = (
            np.log(self.a)
            - np.log(np.maximum(self.b + x - 1.0, 1e-300))
            + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
        )
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma model.

    Spend per purchase ~ Gamma(p, nu) around a customer's own mean p / nu, and
    nu ~ Gamma(q, gamma) across customers.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase (finite only when q > 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1 else float("inf")

    def expected_spend(self, frequency: ArrayLike, avg_spend: ArrayLike) -> np.ndarray:
        """Expected spend per future purchase: a weighted mean of own and population.

        Customers without repeat purchases (frequency 0, spend null/NaN) get the
        population mean; a negative mean (returns outweighing purchases) counts
        as zero.
        """
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(avg_spend, dtype=float), nan=0.0).clip(min=0.0)
        return (self.gamma + m * x) * self.p / (self.p * x + self.q - 1.0)


def _minimize(
    nll: Callable[[np.ndarray], float], start: np.ndarray
) -> tuple[np.ndarray, float, optimize.OptimizeResult]:
    with np.errstate(all="ignore"):
        first = optimize.minimize(nll, start, method="L-BFGS-B")
        # A Nelder-Mead polish from the quasi-Newton answer: the likelihood is
        # flat along r/alpha, and this settles the last significant figures.
        res = optimize.minimize(
            nll,
            first.x,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000},
        )
    if not np.isfinite(res.fun):
        raise InvalidInput("the likelihood could not be evaluated at any start point")
    return np.exp(res.x), float(-res.fun), res


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> BGNBD:
    """Fit BG/NBD by maximum likelihood to per-customer ``x``, ``t_x``, ``T`` (weeks).

    Raises:
        InvalidInput: no customers, no repeat buyers, or inconsistent values.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
    if x.size == 0:
        raise InvalidInput("cannot fit BG/NBD: there are no customers")
    _check(x, t_x, T)
    if not (x > 0).any():
        raise InvalidInput(
            "cannot fit BG/NBD: no customer has a repeat purchase",
            hint="use a longer calibration period",
        )
    # Customers with the same (x, t_x, T) share a likelihood term: fit the
    # distinct rows with weights.
    rows, weights = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    ux, ut, uT = rows.T
    repeat = ux > 0

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        head = (
            special.gammaln(r + ux)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + ux)
            - special.betaln(a, b)
        )
        alive = -(r + ux) * np.log(alpha + uT)
        dead = np.where(
            repeat,
            np.log(a)
            - np.log(np.where(repeat, b + ux - 1.0, 1.0))
            - (r + ux) * np.log(alpha + ut),
            -np.inf,
        )
        value = float(-(weights * (head + np.logaddexp(alive, dead))).sum())
        return value if np.isfinite(value) else 1e300

    scale = max(float(T.mean()), 1e-3)
    (r, alpha, a, b), ll, res = _minimize(nll, np.log([1.0, scale, 1.0, 1.0]))
    return BGNBD(
        float(r),
        float(alpha),
        float(a),
        float(b),
        ll,
        int(x.size),
        bool(res.success),
        int(res.nit),
        str(res.message),
    )


def fit_gamma_gamma(frequency: ArrayLike, avg_spend: ArrayLike) -> GammaGamma:
    """Fit Gamma-Gamma to repeat buyers' ``frequency`` and mean repeat spend.

    Only customers with ``frequency > 0`` and positive mean spend carry
    information; others are ignored (the model is for positive amounts).

    Raises:
        InvalidInput: no repeat buyer with positive spend.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(avg_spend, dtype=float)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    if not keep.any():
        raise InvalidInput(
            "cannot fit Gamma-Gamma: no repeat buyer with positive spend",
            hint="use a longer calibration period",
        )
    x, m = x[keep], m[keep]

    def nll(theta: np.ndarray) -> float:
        p, q, g = np.exp(theta)
        px = p * x
        value = -(
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(g + m * x)
        ).sum()
        return float(value) if np.isfinite(value) else 1e300

    (p, q, g), ll, res = _minimize(nll, np.log([1.0, 1.0, float(np.median(m))]))
    return GammaGamma(
        float(p),
        float(q),
        float(g),
        ll,
        int(x.size),
        bool(res.success),
        int(res.nit),
        str(res.message),
    )


def clv(
    bgnbd: BGNBD,
    gamma_gamma: GammaGamma,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    avg_spend: ArrayLike,
    *,
    horizon_weeks: int = 52,
    discount: float = ANNUAL_DISCOUNT,
) -> np.ndarray:
    """Discounted expected spend over the next ``horizon_weeks``, per customer.

    Sum over weeks k of (expected purchases in week k) x (expected spend per
    purchase) / (1 + weekly rate)^k, with the weekly rate equivalent to the
    yearly ``discount``. With ``discount=0`` it is expected purchases times
    expected spend.
    """
    if horizon_weeks < 1 or discount < 0:
        raise InvalidInput("horizon_weeks must be >= 1 and discount >= 0")
    weekly = (1.0 + discount) ** (1.0 / 52.0) - 1.0
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
    weeks = np.arange(horizon_weeks + 1, dtype=float)[:, None]
    cumulative = bgnbd.expected_purchases(weeks, x, t_x, T)
    per_week = np.diff(cumulative, axis=0)
    factors = (1.0 + weekly) ** -weeks[1:]
    spend = gamma_gamma.expected_spend(x, avg_spend)
    return (per_week * factors).sum(axis=0) * spend


def score(
    summary_rows: pa.Table,
    *,
    horizon_weeks: int = 52,
    discount: float = ANNUAL_DISCOUNT,
    min_customers: int = MIN_CUSTOMERS,
) -> pa.Table:
    """Fit both models on ``summary_rows`` and add the predictions to each row.

    Adds ``expected_purchases_52w``, ``p_alive``, ``expected_avg_spend`` and
    ``clv_52w`` (the horizon is ``horizon_weeks``). When the data cannot support
    a fit (too few customers or repeat buyers, a failed optimisation) the new
    columns are null and the reason is logged: a profile build must not fail
    because a sample is small.
    """
    cols = {
        c: summary_rows.column(c).to_numpy(zero_copy_only=False)
        for c in _SUMMARY_COLUMNS
    }
    x = cols["frequency"].astype(float)
    t_x, T = cols["recency_weeks"].astype(float), cols["age_weeks"].astype(float)
    m = np.round(np.asarray(cols["avg_repeat_spend"], dtype=float), 6)
    n = summary_rows.num_rows
    predictions: dict[str, np.ndarray | None] = dict.fromkeys(
        ("expected_purchases_52w", "p_alive", "expected_avg_spend", "clv_52w")
    )
    try:
        if n < min_customers or int((x > 0).sum()) < min_customers:
            raise InvalidInput(
                f"{n} customers, {int((x > 0).sum())} with a repeat purchase; "
                f"the CLV models need at least {min_customers} of each"
            )
        # A first purchase on the last day gives age 0: no exposure to fit on.
        fit_rows = T > 0
        bg = fit_bgnbd(x[fit_rows], t_x[fit_rows], T[fit_rows])
        gg = fit_gamma_gamma(x, m)
        log.info("CLV fit: %s; %s", bg, gg)
        predictions = {
            "expected_purchases_52w": bg.expected_purchases(horizon_weeks, x, t_x, T),
            "p_alive": bg.p_alive(x, t_x, T),
            "expected_avg_spend": gg.expected_spend(x, m),
            "clv_52w": clv(
                bg, gg, x, t_x, T, m, horizon_weeks=horizon_weeks, discount=discount
            ),
        }
        if not all(np.isfinite(v).all() for v in predictions.values()):
            raise InvalidInput("the fitted CLV models gave non-finite predictions")
    except (InvalidInput, ArithmeticError, ValueError) as exc:
        # A profile build never fails on a sample the models cannot fit.
        reason = exc.message if isinstance(exc, InvalidInput) else repr(exc)
        log.warning("profiles_clv: model columns left null: %s", reason)
        predictions = dict.fromkeys(predictions)
    out = summary_rows
    for name, values in predictions.items():
        column = (
            pa.nulls(n, pa.float64())
            if values is None
            else pa.array(np.round(values, 6), pa.float64())
        )
        out = out.append_column(name, column)
    return out
