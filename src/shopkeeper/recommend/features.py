"""Candidates and their features for the learning-to-rank recommender.

Everything here is computed from a :class:`Phase`'s history baskets plus the
time, week and store of the trip being predicted, never from the trip's
contents: the features of a test basket are the same whatever the future
holds (tests/recommend/test_leakage.py shuffles it to prove so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopkeeper.recommend.baselines import top_k_rows
from shopkeeper.recommend.complements import CoPurchase
from shopkeeper.recommend.context import Context, load_context
from shopkeeper.recommend.history import Baskets, Phase
from shopkeeper.recommend.tifuknn import TifuParams, history_vectors, neighbour_mean
from shopkeeper.warehouse import Warehouse

__all__ = [
    "FEATURES",
    "SignalCache",
    "Signals",
    "candidates",
    "context_for",
    "features",
    "last_baskets",
    "main_store",
    "signals",
    "sparse_values",
]

FEATURES = (
    "baskets_with_item",
    "share_of_baskets",
    "days_since_item",
    "item_cycle_days",
    "cycle_ratio",
    "baskets_since_item",
    "in_last_basket",
    "tifu_own",
    "tifu_knn",
    "copurchase",
    "item_popularity",
    "item_repeat_rate",
    "user_baskets",
    "user_basket_size",
    "days_since_trip",
    "department_affinity",
    "on_promotion",
    "coupon_in_hand",
)


@dataclass(frozen=True)
class Signals:
    """Per-phase model outputs the candidates and features are drawn from."""

    own: sp.csr_matrix
    knn: np.ndarray
    copurchase: sp.csr_matrix
    popularity: np.ndarray
    repeat_rate: np.ndarray
    lift: CoPurchase


def signals(phase: Phase, tifu: TifuParams, smoothing: float) -> Signals:
    """TIFU vectors, kNN blend, co-purchase with the last basket, popularity."""
    own = history_vectors(phase, tifu)
    knn = tifu.alpha * own.toarray() + (1 - tifu.alpha) * neighbour_mean(
        own, tifu.neighbors
    )
    rows = phase.history_rows()
    history = phase.baskets.matrix(rows)
    lift = CoPurchase.fit(history, smoothing=smoothing)
    copurchase = lift.for_baskets(last_baskets(phase))
    counts = phase.counts()
    buyers = np.asarray((counts > 0).sum(axis=0)).ravel()
    repeaters = np.asarray((counts > 1).sum(axis=0)).ravel()
    return Signals(
        own=own,
        knn=knn,
        copurchase=copurchase,
        popularity=lift.support / max(len(rows), 1),
        repeat_rate=repeaters / np.maximum(buyers, 1),
        lift=lift,
    )


class SignalCache:
    """Each phase's :class:`Signals`, computed once for every model that reads it.

    The ranker and the discovery model train and score on the same phases;
    signals depend only on a phase's history (not its target), so the key is
    the history's bounds. Holds dense households x items arrays: one cache
    per build or evaluation, dropped with it.
    """

    def __init__(self, tifu: TifuParams, smoothing: float) -> None:
        self.tifu = tifu
        self.smoothing = smoothing
        self._got: dict[tuple[int, bytes, bytes], Signals] = {}

    def __call__(self, phase: Phase) -> Signals:
        key = (id(phase.baskets), phase.start.tobytes(), phase.stop.tobytes())
        if key not in self._got:
            self._got[key] = signals(phase, self.tifu, self.smoothing)
        return self._got[key]


def last_baskets(phase: Phase) -> sp.csr_matrix:
    """Households x items: each one's latest history basket (empty if none)."""
    last = phase.baskets.matrix(np.maximum(phase.stop - 1, 0))
    has = (phase.stop > phase.start).astype(np.float32)
    return (sp.diags(has) @ last).tocsr()


def candidates(
    phase: Phase,
    sig: Signals,
    *,
    personal: int = 60,
    knn: int = 40,
    copurchase: int = 20,
    popular: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """(household, item) pairs to score: sorted, unique, from four sources.

    Personal history by decayed frequency, TIFU-KNN's blend (which brings in
    neighbours' items), items bought with the last basket, and best sellers.
    """
    n = phase.n_users
    parts = [
        top_k_rows(sig.own.toarray(), personal),
        top_k_rows(sig.knn, knn),
        top_k_rows(sig.copurchase.toarray(), copurchase),
        np.tile(np.argsort(-sig.popularity, kind="stable")[:popular], (n, 1)),
    ]
    users = np.concatenate([np.repeat(np.arange(n), p.shape[1]) for p in parts])
    items = np.concatenate([p.ravel() for p in parts])
    keep = items >= 0
    keys = np.unique(users[keep].astype(np.int64) * phase.baskets.n_items + items[keep])
    return keys // phase.baskets.n_items, keys % phase.baskets.n_items


def main_store(phase: Phase) -> np.ndarray:
    """Each household's most visited store in its history (ties: latest visit)."""
    rows = phase.history_rows()
    frame = pd.DataFrame(
        {"user": phase.history_users(), "store": phase.baskets.store[rows], "at": rows}
    )
    visits = frame.groupby(["user", "store"]).at.agg(["size", "max"]).reset_index()
    visits = visits.sort_values(["user", "size", "max"], ascending=[True, False, False])
    best = visits.drop_duplicates("user").set_index("user").store
    return best.reindex(np.arange(phase.n_users)).fillna("").to_numpy(object)


def context_for(wh: Warehouse, baskets: Baskets, *phases: Phase) -> Context:
    """The promotions and coupons of the trips the phases predict.

    Every phase a model trains or scores on must be listed: a trip whose
    store-week is missing would read as "nothing on promotion".
    """
    store_weeks = pd.concat(
        pd.DataFrame({"store": main_store(p), "week": p.target_week()}) for p in phases
    ).drop_duplicates()
    return load_context(wh, baskets, store_weeks)


def features(
    phase: Phase,
    users: np.ndarray,
    items: np.ndarray,
    sig: Signals,
    ctx: Context,
) -> np.ndarray:
    """The :data:`FEATURES` of each (household, item) pair, as float32 columns."""
    b = phase.baskets
    rows = phase.history_rows()
    h_users = phase.history_users()
    lengths = b.indptr[rows + 1] - b.indptr[rows]
    line_user = np.repeat(h_users, lengths)
    line_pos = np.repeat(rows - phase.start[h_users], lengths)
    line_day = np.repeat(b.day[rows], lengths)
    line_item = np.concatenate([b.basket(r) for r in rows]) if len(rows) else rows
    lines = pd.DataFrame(
        {
            "key": line_user.astype(np.int64) * b.n_items + line_item,
            "day": line_day,
            "pos": line_pos,
        }
    )
    stats = lines.groupby("key").agg(
        n=("day", "size"), first=("day", "min"), last=("day", "max"), pos=("pos", "max")
    )
    keys = users.astype(np.int64) * b.n_items + items
    got = stats.reindex(keys)
    n_hist = (phase.stop - phase.start)[users].astype(np.float64)
    target_day = phase.target_day()[users]
    last_trip = np.where(
        phase.stop > phase.start, b.day[np.maximum(phase.stop - 1, 0)], np.nan
    )[users]
    count = got.n.fillna(0).to_numpy()
    since = target_day - got["last"].to_numpy()
    cycle = (got["last"] - got["first"]).to_numpy() / np.maximum(count - 1, 1)
    cycle = np.where(count >= 2, cycle, np.nan)
    sizes = np.bincount(h_users, weights=lengths, minlength=phase.n_users)
    cols = {
        "baskets_with_item": count,
        "share_of_baskets": count / np.maximum(n_hist, 1),
        "days_since_item": since,
        "item_cycle_days": cycle,
        "cycle_ratio": since / np.maximum(cycle, 1.0),
        "baskets_since_item": n_hist - 1 - got.pos.to_numpy(),
        "in_last_basket": (got.pos.to_numpy() == n_hist - 1).astype(float),
        "tifu_own": sparse_values(sig.own, users, items),
        "tifu_knn": sig.knn[users, items],
        "copurchase": sparse_values(sig.copurchase, users, items),
        "item_popularity": sig.popularity[items],
        "item_repeat_rate": sig.repeat_rate[items],
        "user_baskets": n_hist,
        "user_basket_size": sizes[users] / np.maximum(n_hist, 1),
        "days_since_trip": target_day - last_trip,
        "department_affinity": _affinity(
            phase, line_user, line_item, users, items, ctx
        ),
        "on_promotion": _promoted(phase, users, items, ctx),
        "coupon_in_hand": _coupon(phase, users, items, ctx),
    }
    return np.column_stack([cols[name] for name in FEATURES]).astype(np.float32)


def sparse_values(
    matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """``matrix[rows, cols]`` as a flat array, by binary search on the entries.

    scipy's fancy indexing scans each row: seconds for the ranker's
    candidates, where a search over sorted (row, column) keys takes tens of ms.
    """
    m = matrix.tocsr()
    if not m.has_sorted_indices:
        m = m.sorted_indices()
    width = np.int64(m.shape[1])
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * width
    keys += m.indices
    wanted = rows.astype(np.int64) * width + cols
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    if not len(keys):
        return np.zeros(len(wanted))
    return np.where(keys[at] == wanted, m.data[at], 0).astype(np.float64)


def _affinity(
    phase: Phase,
    line_user: np.ndarray,
    line_item: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
    ctx: Context,
) -> np.ndarray:
    """Household's share of lines in the item's department over everyone's."""
    dept = ctx.department
    n_dept = int(dept.max()) + 2
    line_dept = dept[line_item] + 1
    table = sp.csr_matrix(
        (np.ones(len(line_user)), (line_user, line_dept)),
        shape=(phase.n_users, n_dept),
    ).toarray()
    user_share = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    overall = table.sum(axis=0) / max(table.sum(), 1)
    d = dept[items] + 1
    return user_share[users, d] / np.maximum(overall[d], 1e-9)


def _promoted(
    phase: Phase, users: np.ndarray, items: np.ndarray, ctx: Context
) -> np.ndarray:
    if ctx.promos.empty:
        return np.zeros(len(users))
    store = main_store(phase)[users]
    week = phase.target_week()[users]
    asked = pd.DataFrame({"store": store, "week": week, "item": items})
    flagged = ctx.promos.assign(hit=1.0).drop_duplicates(["store", "week", "item"])
    merged = asked.merge(flagged, on=["store", "week", "item"], how="left")
    return merged.hit.fillna(0.0).to_numpy()


def _coupon(
    phase: Phase, users: np.ndarray, items: np.ndarray, ctx: Context
) -> np.ndarray:
    if ctx.held.empty or ctx.coupon_items.empty:
        return np.zeros(len(users))
    asked = pd.DataFrame(
        {"row": np.arange(len(users)), "user": users, "item": items}
    ).assign(day=phase.target_day()[users])
    offered = asked.merge(ctx.coupon_items, on="item").merge(
        ctx.held, on=["user", "campaign"]
    )
    live = offered[(offered.start_day <= offered.day) & (offered.day < offered.end_day)]
    out = np.zeros(len(users))
    out[live.row.unique()] = 1.0
    return out
