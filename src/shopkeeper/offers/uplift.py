"""Uplift models: who buys *because of* an offer, for one or several offers.

Every learner has the same contract: ``fit(X, treatment, y)`` with arm codes
``0`` (control) and ``1..K`` (offers), then ``predict(X)`` returns an ``(n, K)``
array, the predicted incremental outcome of each offer over no offer. The
outcome may be binary (visit, conversion: uplift in probability) or continuous
(spend: uplift in currency); a learner sees which from ``y``.

- ``t_learner``: one outcome model per arm; uplift = ``mu_k(x) - mu_0(x)``.
- ``s_learner``: one outcome model with the arm as a feature.
- ``x_learner`` (Künzel et al. 2019): imputes each treated row's effect as
  ``y - mu_0(x)`` and each control's as ``mu_k(x) - y``, fits a model to each,
  and blends them by the assignment propensity.
- ``dr_learner`` (Kennedy 2020): regresses the cross-fitted doubly robust
  pseudo-outcome ``mu_k - mu_0 + 1[T=k](y - mu_k)/e_k - 1[T=0](y - mu_0)/e_0``
  on ``x``. With known propensities it is unbiased whatever the outcome models.
- ``class_transformation`` (Jaskowski & Jaroszewicz 2012): for a binary
  outcome, one classifier of ``z = 1`` when (treated and bought) or (control
  and did not), rows weighted so both arms count equally; uplift = ``2P(z) - 1``.
  For a continuous outcome the same idea is the transformed outcome
  ``y (t - p) / (p (1 - p))`` of Athey & Imbens (2016), regressed on ``x``.
- ``ensemble``: the mean of the T-, X- and DR-learners' predictions.

Which one? :func:`shopkeeper.offers.hillstrom.select_learner` scores each by
Qini over folds of the *training* rows and keeps :data:`DEFAULT_LEARNER`, the
T-learner, unless another leads it by more than one standard error of the
fold-by-fold differences: taking the plain best mean chased lucky folds. On
Hillstrom's training half the T-learner leads for conversion and for spend.
With the default base model it is a strongly regularized hurdle model (see
:class:`BaseModel`): with 0.6-1.3 % converting, low variance matters more
than flexibility.

Propensities are the arms' shares in the training rows: these learners are
for randomized data (an RCT or a holdout design), where they are known.
Base models are LightGBM (small, regularized, single thread, deterministic)
or scikit-learn's histogram gradient boosting (``base="sklearn"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from shopkeeper.errors import ConfigError, InvalidInput, MissingDependency

__all__ = [
    "DEFAULT_LEARNER",
    "LEARNERS",
    "BaseModel",
    "ClassTransformation",
    "DRLearner",
    "Ensemble",
    "SLearner",
    "TLearner",
    "UpliftLearner",
    "XLearner",
    "make_learner",
]

Base = Literal["lightgbm", "sklearn"]
DEFAULT_LEARNER = "t_learner"


class Fitted(Protocol):
    def __call__(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class BaseModel:
    """How to fit one regression or classification model inside a learner.

    The defaults are deliberately small and regularized: uplift signals are a
    few percent of the outcome's variance, and deep trees fit noise first.
    Two leaves per tree make each model additive in the features (on the logit
    scale for a binary outcome); a T- or X-learner's uplift still varies by
    customer, as the difference of two such models. On ten hashed splits of
    Hillstrom, stumps against four leaves raised the T-learner's mean test
    Qini from 0.050 to 0.058 for spend and from 0.051 to 0.065 for
    conversion (the X-learner's from 0.048 to 0.072 and 0.051 to 0.065), and
    cross-validation on the benchmark's training half preferred them too.
    The S-learner is the exception and keeps four leaves by default: with
    the arm as one more additive term its uplift could vary only through the
    link function (its visit Qini fell from 0.037 to 0.010 with stumps).
    """

    base: Base = "lightgbm"
    n_estimators: int = 100
    learning_rate: float = 0.05
    num_leaves: int = 2
    min_child_samples: int = 500
    reg_lambda: float = 50.0
    hurdle: bool = True
    seed: int = 0

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        binary: bool,
        weight: np.ndarray | None = None,
    ) -> Fitted:
        """Fit and return a predictor: probability of 1 if binary, else the mean.

        With ``hurdle`` a non-negative outcome that is mostly zero (spend) is
        modelled as ``P(y > 0 | x)`` times the mean positive value: the few
        hundred buyers' basket sizes are too noisy to model per customer, and
        a regression on raw spend chases them.
        """
        if binary and len(np.unique(y)) < 2:
            # A constant outcome (e.g. no conversions in a small arm).
            value = float(y[0]) if len(y) else 0.0
            return lambda Z: np.full(len(Z), value)
        if (
            not binary
            and self.hurdle
            and len(y)
            and y.min() >= 0
            and np.mean(y == 0) >= 0.5
        ):
            buys = y > 0
            if not buys.any():
                return lambda Z: np.zeros(len(Z))
            if weight is None:
                size = float(y[buys].mean())
            else:
                size = float(np.average(y[buys], weights=weight[buys]))
            p = self.fit(X, buys.astype(np.float64), binary=True, weight=weight)
            return lambda Z: size * p(Z)
        if self.base == "lightgbm":
            return self._lightgbm(X, y, binary, weight)
        if self.base == "sklearn":
            return self._sklearn(X, y, binary, weight)
        raise ConfigError(f"unknown base model {self.base!r}; use lightgbm or sklearn")

    def _lightgbm(
        self, X: np.ndarray, y: np.ndarray, binary: bool, weight: np.ndarray | None
    ) -> Fitted:
        try:
            import lightgbm as lgb
        except ImportError:  # pragma: no cover - lightgbm is a core dependency
            raise MissingDependency("lightgbm", "offers") from None
        params = {
            "objective": "binary" if binary else "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": self.seed,
            "verbose": -1,
        }
        booster = lgb.train(
            params,
            lgb.Dataset(X, label=y, weight=weight),
            num_boost_round=self.n_estimators,
        )
        return lambda Z: np.asarray(booster.predict(Z), dtype=np.float64)

    def _sklearn(
        self, X: np.ndarray, y: np.ndarray, binary: bool, weight: np.ndarray | None
    ) -> Fitted:
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        common: dict[str, Any] = {
            "max_iter": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.num_leaves,
            "min_samples_leaf": self.min_child_samples,
            "l2_regularization": self.reg_lambda,
            "early_stopping": False,
            "random_state": self.seed,
        }
        if binary:
            clf = HistGradientBoostingClassifier(**common).fit(
                X, y, sample_weight=weight
            )
            return lambda Z: clf.predict_proba(Z)[:, 1]
        reg = HistGradientBoostingRegressor(**common).fit(X, y, sample_weight=weight)
        return lambda Z: np.asarray(reg.predict(Z), dtype=np.float64)


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _check_fit(X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> int:
    """Validate training data; returns the number of offers K."""
    if X.ndim != 2 or len(X) != len(treatment) or len(X) != len(y):
        raise InvalidInput(
            f"X must be (n, d) with one treatment and one outcome per row; got X "
            f"{X.shape}, treatment {treatment.shape}, y {y.shape}"
        )
    if not np.all(np.isfinite(y)):
        raise InvalidInput("y must be finite (no NaN or infinity)")
    codes = np.unique(treatment)
    if (
        len(codes) < 2
        or codes[0] != 0
        or not np.array_equal(codes, np.arange(len(codes)))
    ):
        raise InvalidInput(
            "treatment must use arm codes 0 (control) and 1..K (offers), each present; "
            f"got {codes.tolist()}"
        )
    return len(codes) - 1


@dataclass
class UpliftLearner(ABC):
    """Shared state and checks; subclasses implement ``_fit`` and ``_predict``."""

    type: ClassVar[str]
    base: BaseModel = field(default_factory=BaseModel)
    n_offers: int = field(default=0, init=False)
    propensities: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False)
    binary: bool = field(default=False, init=False)

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> UpliftLearner:
        """Learn each offer's uplift from randomized rows (arm 0 = control)."""
        X = np.asarray(X, dtype=np.float64)
        treatment = np.asarray(treatment, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        self.n_offers = _check_fit(X, treatment, y)
        counts = np.bincount(treatment, minlength=self.n_offers + 1)
        self.propensities = counts / counts.sum()
        self.binary = _is_binary(y)
        self._fit(X, treatment, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted uplift of each offer over control, shape (n, K)."""
        if self.n_offers == 0:
            raise InvalidInput(f"{self.type}: call fit before predict")
        return self._predict(np.asarray(X, dtype=np.float64))

    @abstractmethod
    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        """Fit the learner's models (each subclass is one method)."""

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Uplift per offer, shape (n, K)."""


@dataclass
class TLearner(UpliftLearner):
    """One outcome model per arm; uplift is the difference of their predictions."""

    type: ClassVar[str] = "t_learner"
    _mu: list[Fitted] = field(default_factory=list, init=False, repr=False)

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        self._mu = [
            self.base.fit(X[treatment == a], y[treatment == a], binary=self.binary)
            for a in range(self.n_offers + 1)
        ]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        mu = np.column_stack([m(X) for m in self._mu])
        return mu[:, 1:] - mu[:, :1]


@dataclass
class SLearner(UpliftLearner):
    """One outcome model on features plus a one-hot arm; uplift by toggling the arm."""

    type: ClassVar[str] = "s_learner"
    # Trees need a second level to split a feature within an arm (see BaseModel).
    base: BaseModel = field(default_factory=lambda: BaseModel(num_leaves=4))
    _mu: Fitted | None = field(default=None, init=False, repr=False)

    def _with_arm(self, X: np.ndarray, arm: np.ndarray) -> np.ndarray:
        return np.column_stack([X, np.eye(self.n_offers + 1)[arm][:, 1:]])

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        self._mu = self.base.fit(self._with_arm(X, treatment), y, binary=self.binary)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        assert self._mu is not None
        mu = [
            self._mu(self._with_arm(X, np.full(len(X), a)))
            for a in range(self.n_offers + 1)
        ]
        return np.column_stack([m - mu[0] for m in mu[1:]])


@dataclass
class XLearner(UpliftLearner):
    """Imputed treatment effects in both arms, blended by the pair's propensity."""

    type: ClassVar[str] = "x_learner"
    _tau: list[tuple[Fitted, Fitted, float]] = field(
        default_factory=list, init=False, repr=False
    )

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        mu = [
            self.base.fit(X[treatment == a], y[treatment == a], binary=self.binary)
            for a in range(self.n_offers + 1)
        ]
        control = treatment == 0
        self._tau = []
        for k in range(1, self.n_offers + 1):
            treated = treatment == k
            tau_treated = self.base.fit(
                X[treated], y[treated] - mu[0](X[treated]), binary=False
            )
            tau_control = self.base.fit(
                X[control], mu[k](X[control]) - y[control], binary=False
            )
            e = self.propensities[k] / (self.propensities[k] + self.propensities[0])
            self._tau.append((tau_treated, tau_control, float(e)))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        # Künzel's g(x) = e(x): the control-side model gets weight e, because it
        # was fitted on the arm's complement and generalizes to the treated.
        return np.column_stack([e * t0(X) + (1 - e) * t1(X) for t1, t0, e in self._tau])


@dataclass
class DRLearner(UpliftLearner):
    """Regresses the cross-fitted doubly robust pseudo-outcome of each offer."""

    type: ClassVar[str] = "dr_learner"
    n_folds: int = 2
    _tau: list[Fitted] = field(default_factory=list, init=False, repr=False)

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        if self.n_folds < 2:
            raise ConfigError("dr_learner needs n_folds >= 2 for cross-fitting")
        rng = np.random.default_rng(self.base.seed)
        fold = rng.permutation(len(y)) % self.n_folds
        mu = np.empty((len(y), self.n_offers + 1))
        for f in range(self.n_folds):
            held = fold == f
            for a in range(self.n_offers + 1):
                rows = ~held & (treatment == a)
                mu[held, a] = self.base.fit(X[rows], y[rows], binary=self.binary)(
                    X[held]
                )
        e = self.propensities
        resid0 = (treatment == 0) * (y - mu[:, 0]) / e[0]
        self._tau = []
        for k in range(1, self.n_offers + 1):
            pseudo = (
                mu[:, k] - mu[:, 0] + (treatment == k) * (y - mu[:, k]) / e[k] - resid0
            )
            self._tau.append(self.base.fit(X, pseudo, binary=False))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([tau(X) for tau in self._tau])


@dataclass
class ClassTransformation(UpliftLearner):
    """One model per offer on a transformed target whose mean is the uplift."""

    type: ClassVar[str] = "class_transformation"
    _models: list[tuple[Fitted, bool]] = field(
        default_factory=list, init=False, repr=False
    )

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        self._models = []
        for k in range(1, self.n_offers + 1):
            rows = (treatment == 0) | (treatment == k)
            t = (treatment[rows] == k).astype(np.float64)
            p = float(t.mean())
            yk = y[rows]
            if self.binary:
                z = t * yk + (1 - t) * (1 - yk)
                # Balance the arms so that 2 P(z=1) - 1 is the uplift for any p.
                weight = np.where(t == 1, 0.5 / p, 0.5 / (1 - p))
                self._models.append(
                    (self.base.fit(X[rows], z, binary=True, weight=weight), True)
                )
            else:
                transformed = yk * (t - p) / (p * (1 - p))
                self._models.append(
                    (self.base.fit(X[rows], transformed, binary=False), False)
                )

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [2 * m(X) - 1 if binary else m(X) for m, binary in self._models]
        )


@dataclass
class Ensemble(UpliftLearner):
    """The mean uplift of several learners (T-, X- and DR-learner by default)."""

    type: ClassVar[str] = "ensemble"
    members: tuple[str, ...] = ("t_learner", "x_learner", "dr_learner")
    _fitted: list[UpliftLearner] = field(default_factory=list, init=False, repr=False)

    def _fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> None:
        if not self.members or "ensemble" in self.members:
            raise ConfigError("ensemble members must be other, non-empty learner types")
        self._fitted = [
            make_learner(name, base=self.base).fit(X, treatment, y)
            for name in self.members
        ]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(X) for m in self._fitted], axis=0)


LEARNERS: dict[str, type[UpliftLearner]] = {
    cls.type: cls
    for cls in (TLearner, SLearner, XLearner, DRLearner, ClassTransformation, Ensemble)
}
"""Short ``type`` name -> learner class: how settings and the CLI pick one."""


def make_learner(type: str = DEFAULT_LEARNER, **config: Any) -> UpliftLearner:
    """A learner by its short name, with its own keyword config (strictly checked)."""
    if type not in LEARNERS:
        raise ConfigError(
            f"unknown uplift learner {type!r}; choose one of {', '.join(LEARNERS)}"
        )
    try:
        return LEARNERS[type](**config)
    except TypeError as exc:
        raise ConfigError(f"bad config for {type}: {exc}") from None
