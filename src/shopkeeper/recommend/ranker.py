"""Shopkeeper's next-basket recommender: candidates re-ranked by LightGBM.

Candidates come from personal history, TIFU-KNN's neighbours, co-purchase with
the last basket and best sellers; a LambdaRank model orders them on features
of habit (cycle, recency, frequency), the catalogue and the week's promotions
and coupons. It trains on targets = validation baskets with features from the
baskets before them, and scores the test basket with features recomputed from
everything before it, so the test basket is never seen in training or tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    "Ranker",
    "RankerParams",
    "Scored",
    "lightgbm_module",
    "rank_rows",
    "scored_candidates",
    "target_labels",
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


def scored_candidates(
    phase: Phase,
    tifu: TifuParams,
    ctx: Context,
    params: RankerParams,
    cache: SignalCache | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, feature matrix) of every candidate of ``phase``."""
    got = _candidates(phase, tifu, ctx, params, cache)
    return got.users, got.items, got.x


def _candidates(
    phase: Phase,
    tifu: TifuParams,
    ctx: Context,
    params: RankerParams,
    cache: SignalCache | None,
) -> Scored:
    sig = cache(phase) if cache else signals(phase, tifu, params.smoothing)
    users, items = candidates(phase, sig)
    return Scored(users, items, features(phase, users, items, sig, ctx), sig)


class Ranker:
    """LambdaRank over candidates; needs TIFU-KNN's tuned parameters."""

    name = "Shopkeeper"

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
        self.cache = cache
        self.model: object | None = None
        self.rounds = self.params.max_rounds

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

    def fit(self, *phases: Phase) -> None:
        """Learn on the phases' targets; pick the rounds on a fifth of households.

        Each phase adds one target basket per household (with features from
        the baskets before it). Households whose index is divisible by 5 are
        held out to find the round count by early stopping, then the model
        refits on everyone.
        """
        parts = []
        for n, phase in enumerate(phases):
            users, items, x = scored_candidates(
                phase, self.tifu, self.ctx, self.params, self.cache
            )
            has = (phase.stop > phase.start)[users]
            parts.append(
                (
                    users[has],
                    users[has] + n * phase.n_users,
                    x[has],
                    target_labels(phase, users, items)[has],
                )
            )
        users = np.concatenate([p[0] for p in parts])
        self.model, self.rounds = train_with_holdout(
            lightgbm_module(),
            self._config(),
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]),
            users % 5 == 0,
            max_rounds=self.params.max_rounds,
            groups=np.concatenate([p[1] for p in parts]),
        )

    def tune(self, valid: Phase) -> int:
        """Train on the validation baskets and the ones before them."""
        self.fit(valid, valid.baskets.phase("earlier"))
        return self.rounds

    def scores(self, phase: Phase) -> Scored:
        """Every candidate of ``phase`` with its features, signals and score."""
        if self.model is None:
            raise ConfigError("the ranker must be fitted before it scores")
        got = _candidates(phase, self.tifu, self.ctx, self.params, self.cache)
        score = self.model.predict(got.x, num_threads=self.threads)  # type: ignore[attr-defined]
        return replace(got, score=np.asarray(score))

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        got = self.scores(phase)
        assert got.score is not None
        return rank_rows(got.users, got.items, got.score, phase.n_users, k)


def rank_rows(
    users: np.ndarray, items: np.ndarray, score: np.ndarray, n_users: int, k: int
) -> np.ndarray:
    """Households x ``k`` items by falling score (ties: lower item), -1 = none."""
    order = np.lexsort((items, -score, users))
    users, items = users[order], items[order]
    first = np.searchsorted(users, np.arange(n_users))
    pos = np.arange(len(users)) - first[users]
    out = np.full((n_users, k), -1, dtype=np.int64)
    keep = pos < k
    out[users[keep], pos[keep]] = items[keep]
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
) -> tuple[object, int]:
    """Pick the rounds by early stopping on ``held`` rows, then refit on all.

    ``groups`` gives each row's query for ranking objectives (rows of a query
    are contiguous); None for classifiers.
    """

    def data(mask: np.ndarray) -> object:
        group = None
        if groups is not None:
            counts = np.bincount(groups[mask])
            group = counts[counts > 0]
        return lgb.Dataset(x[mask], y[mask], group=group, feature_name=list(FEATURES))

    rounds = 50
    if y[held].any() and y[~held].any():
        probe = lgb.train(
            config,
            data(~held),
            num_boost_round=max_rounds,
            valid_sets=[data(held)],
            callbacks=[lgb.early_stopping(30, verbose=False)],
        )
        rounds = max(int(probe.best_iteration), 20)
    # Else too little data to hold any out (a tiny shop): a fixed, small model.
    return lgb.train(config, data(np.ones_like(held)), rounds), rounds
