"""Shopkeeper's next-basket recommender: candidates re-ranked by LightGBM.

Candidates come from personal history, TIFU-KNN's neighbours, co-purchase with
the last basket and best sellers; a LambdaRank model orders them on features
of habit (cycle, recency, frequency), the catalogue and the week's promotions
and coupons. It trains on targets = validation baskets with features from the
baskets before them, and scores the test basket with features recomputed from
everything before it, so the test basket is never seen in training or tuning.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from shopkeeper.errors import ConfigError, MissingDependency
from shopkeeper.recommend.context import Context
from shopkeeper.recommend.features import (
    FEATURES,
    SignalCache,
    Signals,
    candidates,
    features,
    signals,
)
from shopkeeper.recommend.history import Phase
from shopkeeper.recommend.tifuknn import TifuParams

__all__ = [
    "CandidateModel",
    "FallbackCheck",
    "Ranker",
    "RankerParams",
    "Scored",
    "fallback_check",
    "lightgbm_module",
    "rank_rows",
    "scored_candidates",
    "target_labels",
    "top_rows",
    "train_with_holdout",
]


@dataclass(frozen=True)
class RankerParams:
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    max_rounds: int = 400
    smoothing: float = 1.0


def lightgbm_module():  # type: ignore[no-untyped-def]
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise MissingDependency(
            "lightgbm is not installed", hint="pip install lightgbm"
        ) from exc
    return lightgbm


def target_labels(phase: Phase, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """1 where the item is in the household's target basket, else 0."""
    b = phase.baskets
    n = b.n_items
    truth = np.concatenate(
        [u * n + b.basket(t).astype(np.int64) for u, t in enumerate(phase.target)]
    )
    return np.isin(users.astype(np.int64) * n + items, truth).astype(np.float32)


@dataclass(frozen=True)
class Scored:
    """Candidates of a phase with their features and, once scored, scores."""

    users: np.ndarray
    items: np.ndarray
    x: np.ndarray
    signals: Signals
    score: np.ndarray | None = None


@dataclass(frozen=True)
class FallbackCheck:
    """The model against one feature alone, on the held-out households' candidates.

    A model learned from a few dozen households can rank worse than the
    plainest signal (a shop's best sellers); scoring by that signal then
    serves customers better than the model does.
    """

    feature: str
    model_auc: float
    feature_auc: float

    @property
    def use_feature(self) -> bool:
        """True when the feature alone ranks the held-out pairs at least as well."""
        return self.feature_auc >= self.model_auc


def fallback_check(
    feature: str, y: np.ndarray, model_score: np.ndarray, feature_value: np.ndarray
) -> FallbackCheck | None:
    """ROC AUC of the model's and the feature's scores; None without both labels."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return FallbackCheck(
        feature,
        float(roc_auc_score(y, model_score)),
        float(roc_auc_score(y, feature_value)),
    )


def scored_candidates(
    phase: Phase,
    tifu: TifuParams,
    ctx: Context,
    params: RankerParams,
    cache: SignalCache | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, feature matrix) of every candidate of ``phase``."""
    got = Ranker(ctx, tifu, params, cache=cache).candidates(phase)
    return got.users, got.items, got.x


class CandidateModel(ABC):
    """A LightGBM model over (household, item) candidates and their features.

    Subclasses say which pairs are candidates and how LightGBM learns; the
    training protocol (one target basket per household per phase, rounds by
    early stopping on the households whose index is divisible by 5, then a
    refit on everyone) and the scoring are shared.
    """

    name: ClassVar[str]
    ranking: ClassVar[bool]
    """True for a ranking objective (candidates grouped by household)."""
    fallback_feature: ClassVar[str | None] = None
    """A feature that scores instead of the model when, on the held-out
    households, it alone ranks their candidates at least as well (see
    :class:`FallbackCheck`); None: always the model."""

    def __init__(
        self,
        ctx: Context,
        tifu: TifuParams | None = None,
        params: RankerParams | None = None,
        *,
        threads: int = 2,
        cache: SignalCache | None = None,
    ) -> None:
        self.ctx = ctx
        self.tifu = tifu or TifuParams()
        self.params = params or RankerParams()
        self.threads = threads
        if cache is not None and (cache.tifu, cache.smoothing) != (
            self.tifu,
            self.params.smoothing,
        ):
            raise ConfigError(
                "the signal cache was made with other TIFU-KNN or smoothing "
                "settings than the model's"
            )
        self.cache = cache
        self.model: object | None = None
        self.rounds = self.params.max_rounds
        self.check: FallbackCheck | None = None

    @abstractmethod
    def pairs(self, phase: Phase, sig: Signals) -> tuple[np.ndarray, np.ndarray]:
        """The (household, item) candidates of ``phase``, sorted and unique."""

    @abstractmethod
    def _config(self) -> dict[str, object]:
        """LightGBM's parameters."""

    def candidates(self, phase: Phase) -> Scored:
        """The candidates of ``phase`` with their features (not scored yet)."""
        if self.cache is not None:
            sig = self.cache(phase)
        else:
            sig = signals(phase, self.tifu, self.params.smoothing)
        users, items = self.pairs(phase, sig)
        return Scored(users, items, features(phase, users, items, sig, self.ctx), sig)

    def fit(self, *phases: Phase) -> None:
        """Learn on the phases' targets; pick the rounds on a fifth of households.

        Each phase adds one target basket per household (with features from
        the baskets before it). Households whose index is divisible by 5 are
        held out to find the round count by early stopping, then the model
        refits on everyone.
        """
        parts = []
        for n, phase in enumerate(phases):
            got = self.candidates(phase)
            has = (phase.stop > phase.start)[got.users]
            parts.append(
                (
                    got.users[has],
                    got.users[has] + n * phase.n_users,
                    got.x[has],
                    target_labels(phase, got.users, got.items)[has],
                )
            )
        users = np.concatenate([p[0] for p in parts])
        x = np.concatenate([p[2] for p in parts])
        y = np.concatenate([p[3] for p in parts])
        held = users % 5 == 0
        self.model, self.rounds, held_score = train_with_holdout(
            lightgbm_module(),
            self._config(),
            x,
            y,
            held,
            max_rounds=self.params.max_rounds,
            groups=np.concatenate([p[1] for p in parts]) if self.ranking else None,
        )
        self.check = None
        if self.fallback_feature is not None and held_score is not None:
            column = FEATURES.index(self.fallback_feature)
            self.check = fallback_check(
                self.fallback_feature, y[held], held_score, x[held, column]
            )

    def tune(self, valid: Phase) -> int:
        """Train on the validation baskets and the ones before them."""
        self.fit(valid, valid.baskets.phase("earlier"))
        return self.rounds

    def scores(self, phase: Phase) -> Scored:
        """Every candidate of ``phase`` with its features, signals and score."""
        if self.model is None:
            raise ConfigError(f"{self.name} must be fitted before it scores")
        got = self.candidates(phase)
        if self.check is not None and self.check.use_feature:
            column = FEATURES.index(self.check.feature)
            return replace(got, score=got.x[:, column].astype(np.float64))
        score = self.model.predict(got.x, num_threads=self.threads)  # type: ignore[attr-defined]
        return replace(got, score=np.asarray(score))

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        got = self.scores(phase)
        assert got.score is not None
        return rank_rows(got.users, got.items, got.score, phase.n_users, k)


class Ranker(CandidateModel):
    """LambdaRank over candidates; needs TIFU-KNN's tuned parameters."""

    name = "Shopkeeper"
    ranking = True

    def pairs(self, phase: Phase, sig: Signals) -> tuple[np.ndarray, np.ndarray]:
        return candidates(phase, sig)

    def _config(self) -> dict[str, object]:
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10],
            "learning_rate": self.params.learning_rate,
            "num_leaves": self.params.num_leaves,
            "min_data_in_leaf": self.params.min_data_in_leaf,
            "lambdarank_truncation_level": 20,
            "deterministic": True,
            "force_row_wise": True,
            "seed": 0,
            "num_threads": self.threads,
            "verbose": -1,
        }


def top_rows(
    users: np.ndarray, items: np.ndarray, score: np.ndarray, n_users: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes of each household's ``k`` best pairs (falling score, ties: lower
    item), grouped by household, and each one's place (0 = best)."""
    order = np.lexsort((items, -score, users))
    ordered = users[order]
    first = np.searchsorted(ordered, np.arange(n_users))
    pos = np.arange(len(ordered)) - first[ordered]
    keep = pos < k
    return order[keep], pos[keep]


def rank_rows(
    users: np.ndarray, items: np.ndarray, score: np.ndarray, n_users: int, k: int
) -> np.ndarray:
    """Households x ``k`` items by falling score (ties: lower item), -1 = none."""
    picked, pos = top_rows(users, items, score, n_users, k)
    out = np.full((n_users, k), -1, dtype=np.int64)
    out[users[picked], pos] = items[picked]
    return out


def train_with_holdout(
    lgb,  # type: ignore[no-untyped-def]
    config: dict[str, object],
    x: np.ndarray,
    y: np.ndarray,
    held: np.ndarray,
    *,
    max_rounds: int,
    groups: np.ndarray | None,
) -> tuple[object, int, np.ndarray | None]:
    """Pick the rounds by early stopping on ``held`` rows, then refit on all.

    ``groups`` gives each row's query for ranking objectives (rows of a query
    are contiguous); None for classifiers. Also returns the early-stopped
    model's scores of the ``held`` rows (None when too few rows to hold out),
    the only scores not fitted to the rows they score.
    """

    def data(mask: np.ndarray) -> object:
        group = None
        if groups is not None:
            counts = np.bincount(groups[mask])
            group = counts[counts > 0]
        return lgb.Dataset(x[mask], y[mask], group=group, feature_name=list(FEATURES))

    rounds, held_score = 50, None
    if y[held].any() and y[~held].any():
        probe = lgb.train(
            config,
            data(~held),
            num_boost_round=max_rounds,
            valid_sets=[data(held)],
            callbacks=[lgb.early_stopping(30, verbose=False)],
        )
        rounds = max(int(probe.best_iteration), 20)
        held_score = np.asarray(
            probe.predict(x[held], num_iteration=probe.best_iteration)
        )
    # Else too little data to hold any out (a tiny shop): a fixed, small model.
    return lgb.train(config, data(np.ones_like(held)), rounds), rounds, held_score
