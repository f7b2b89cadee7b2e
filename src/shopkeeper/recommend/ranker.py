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
    Signals,
    candidates,
    features,
    signals,
)
from shopkeeper.recommend.history import Phase
from shopkeeper.recommend.tifuknn import TifuParams

__all__ = ["Ranker", "RankerParams", "Scored", "scored_candidates"]


@dataclass(frozen=True)
class RankerParams:
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    max_rounds: int = 400
    smoothing: float = 1.0


def _lgb():  # type: ignore[no-untyped-def]
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise MissingDependency(
            "lightgbm is not installed", hint="pip install lightgbm"
        ) from exc
    return lightgbm


def _labels(phase: Phase, users: np.ndarray, items: np.ndarray) -> np.ndarray:
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
    phase: Phase, tifu: TifuParams, ctx: Context, params: RankerParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, feature matrix) of every candidate of ``phase``."""
    got = _candidates(phase, tifu, ctx, params)
    return got.users, got.items, got.x


def _candidates(
    phase: Phase, tifu: TifuParams, ctx: Context, params: RankerParams
) -> Scored:
    sig = signals(phase, tifu, params.smoothing)
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
    ) -> None:
        self.ctx = ctx
        self.tifu = tifu or TifuParams()
        self.params = params or RankerParams()
        self.threads = threads
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
        lgb = _lgb()
        parts = []
        for n, phase in enumerate(phases):
            users, items, x = scored_candidates(phase, self.tifu, self.ctx, self.params)
            has = (phase.stop > phase.start)[users]
            parts.append(
                (
                    users[has],
                    users[has] + n * phase.n_users,
                    x[has],
                    _labels(phase, users, items)[has],
                )
            )
        users = np.concatenate([p[0] for p in parts])
        query = np.concatenate([p[1] for p in parts])
        x = np.concatenate([p[2] for p in parts])
        y = np.concatenate([p[3] for p in parts])
        held = users % 5 == 0

        def data(mask: np.ndarray) -> object:
            groups = np.bincount(query[mask])
            return lgb.Dataset(
                x[mask], y[mask], group=groups[groups > 0], feature_name=list(FEATURES)
            )

        config = self._config()
        if y[held].any() and y[~held].any():
            probe = lgb.train(
                config,
                data(~held),
                num_boost_round=self.params.max_rounds,
                valid_sets=[data(held)],
                callbacks=[lgb.early_stopping(30, verbose=False)],
            )
            self.rounds = max(int(probe.best_iteration), 20)
        else:
            # Too little data to hold any out (a tiny shop): a fixed, small model.
            self.rounds = 50
        self.model = lgb.train(config, data(np.ones_like(held)), self.rounds)

    def tune(self, valid: Phase) -> int:
        """Train on the validation baskets and the ones before them."""
        self.fit(valid, valid.baskets.phase("earlier"))
        return self.rounds

    def scores(self, phase: Phase) -> Scored:
        """Every candidate of ``phase`` with its features, signals and score."""
        if self.model is None:
            raise ConfigError("the ranker must be fitted before it scores")
        got = _candidates(phase, self.tifu, self.ctx, self.params)
        score = self.model.predict(got.x, num_threads=self.threads)  # type: ignore[attr-defined]
        return replace(got, score=np.asarray(score))

    def rank(self, phase: Phase, k: int) -> np.ndarray:
        got = self.scores(phase)
        users, items, score = got.users, got.items, got.score
        order = np.lexsort((items, -score, users))
        users, items = users[order], items[order]
        first = np.searchsorted(users, np.arange(phase.n_users))
        pos = np.arange(len(users)) - first[users]
        out = np.full((phase.n_users, k), -1, dtype=np.int64)
        keep = pos < k
        out[users[keep], pos[keep]] = items[keep]
        return out
