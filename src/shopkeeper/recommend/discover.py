"""Discover: products a household has never bought that it is likely to try next.

The next-basket ranker earns its lead on repeat purchases; a grocer's
"something new for you" placement needs the opposite list. Li et al. (2023)
show that explore items must be measured apart from repeat ones, and mixing
them into one top 10 costs more next-basket accuracy than it wins in explore
accuracy (docs/recommend.md, "One list or two", gives the measured trade-off).
So Shopkeeper serves the two lists side by side, as shops do with "buy it
again" and "new for you".

Candidates are the items a household has not bought among what its TIFU-KNN
neighbours buy, what is bought with its last basket, the best sellers, the
promotions at its store in the week of the trip and the coupons it holds. A
LightGBM classifier, on the ranker's features, learns which of these end up in
the next basket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopkeeper.recommend.baselines import top_k_rows
from shopkeeper.recommend.context import Context
from shopkeeper.recommend.features import SignalCache, Signals, main_store
from shopkeeper.recommend.history import Phase
from shopkeeper.recommend.ranker import CandidateModel, RankerParams
from shopkeeper.recommend.tifuknn import TifuParams

__all__ = ["DiscoverParams", "Discovery", "discovery_candidates"]


@dataclass(frozen=True)
class DiscoverParams:
    """How many never-bought candidates each source gives a household."""

    neighbours: int = 60
    copurchase: int = 30
    popular: int = 60
    promoted: int = 40
    coupons: int = 40


def discovery_candidates(
    phase: Phase, sig: Signals, ctx: Context, params: DiscoverParams
) -> tuple[np.ndarray, np.ndarray]:
    """(household, item) pairs, sorted and unique, never bought by the household.

    Promoted and coupon items are many; the best sellers among them come first.
    """
    n, n_items = phase.n_users, phase.baskets.n_items
    counts = phase.counts()
    bought = (counts > 0).toarray()

    def unbought_top(scores: np.ndarray, k: int) -> np.ndarray:
        return top_k_rows(np.where(bought, -np.inf, scores), k, floor=-np.inf)

    # Best sellers are the same list for everyone: only the first (k + most
    # items anyone bought of them) can be among a household's k unbought ones.
    order = np.argsort(-sig.popularity, kind="stable")
    widest = int(counts.getnnz(axis=1).max(initial=0))
    head = order[: params.popular + widest]
    popular = np.where(bought[:, head], -np.inf, -np.arange(len(head), dtype=float))
    chosen = top_k_rows(popular, params.popular, floor=-np.inf)
    parts = [
        unbought_top(sig.knn, params.neighbours),
        unbought_top(sig.copurchase.toarray(), params.copurchase),
        np.where(chosen >= 0, head[np.maximum(chosen, 0)], -1),
    ]
    users = [np.repeat(np.arange(n), p.shape[1]) for p in parts]
    items = [p.ravel() for p in parts]
    for u, i in (_promoted(phase, sig, ctx, params), _coupons(phase, sig, ctx, params)):
        users.append(u)
        items.append(i)
    all_users = np.concatenate(users).astype(np.int64)
    all_items = np.concatenate(items).astype(np.int64)
    keep = all_items >= 0
    keep[keep] &= ~bought[all_users[keep], all_items[keep]]
    keys = np.unique(all_users[keep] * n_items + all_items[keep])
    return keys // n_items, keys % n_items


def _best_sellers_first(frame: pd.DataFrame, sig: Signals, k: int) -> pd.DataFrame:
    frame = frame.assign(pop=sig.popularity[frame["item"].to_numpy().astype(np.int64)])
    # Ties go to the lower item: the same candidates whatever the row order.
    frame = frame.sort_values(
        ["user", "pop", "item"], ascending=[True, False, True], kind="stable"
    )
    return frame.drop_duplicates(["user", "item"]).groupby("user").head(k)


def _promoted(
    phase: Phase, sig: Signals, ctx: Context, params: DiscoverParams
) -> tuple[np.ndarray, np.ndarray]:
    if ctx.promos.empty:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    trips = pd.DataFrame(
        {
            "user": np.arange(phase.n_users),
            "store": main_store(phase),
            "week": phase.target_week(),
        }
    )
    got = _best_sellers_first(
        trips.merge(ctx.promos, on=["store", "week"]), sig, params.promoted
    )
    return got.user.to_numpy(np.int64), got["item"].to_numpy(np.int64)


def _coupons(
    phase: Phase, sig: Signals, ctx: Context, params: DiscoverParams
) -> tuple[np.ndarray, np.ndarray]:
    if ctx.held.empty or ctx.coupon_items.empty:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    held = ctx.held.assign(
        day=phase.target_day()[ctx.held.user.to_numpy().astype(np.int64)]
    )
    live = held[(held.start_day <= held.day) & (held.day < held.end_day)]
    got = _best_sellers_first(
        live.merge(ctx.coupon_items, on="campaign"), sig, params.coupons
    )
    return got.user.to_numpy(np.int64), got["item"].to_numpy(np.int64)


class Discovery(CandidateModel):
    """Never-bought items most likely in the next basket, best first.

    ``sources`` sets how many candidates each source gives; the LightGBM
    settings come from ``params``, like the ranker's, with twice the minimum
    leaf size (positives are rarer among never-bought items). Where the
    held-out households show the model ranking no better than the shop's
    best sellers (a small shop), it scores by best sellers instead.
    """

    name = "Shopkeeper discover"
    ranking = False
    fallback_feature = "item_popularity"

    def __init__(
        self,
        ctx: Context,
        tifu: TifuParams | None = None,
        params: RankerParams | None = None,
        *,
        sources: DiscoverParams | None = None,
        threads: int = 2,
        cache: SignalCache | None = None,
    ) -> None:
        super().__init__(ctx, tifu, params, threads=threads, cache=cache)
        self.sources = sources or DiscoverParams()

    def pairs(self, phase: Phase, sig: Signals) -> tuple[np.ndarray, np.ndarray]:
        return discovery_candidates(phase, sig, self.ctx, self.sources)

    def _config(self) -> dict[str, object]:
        return {
            "objective": "binary",
            "learning_rate": self.params.learning_rate,
            "num_leaves": self.params.num_leaves,
            "min_data_in_leaf": 2 * self.params.min_data_in_leaf,
            "feature_fraction": 0.8,
            "deterministic": True,
            "force_row_wise": True,
            "seed": 0,
            "num_threads": self.threads,
            "verbose": -1,
        }
