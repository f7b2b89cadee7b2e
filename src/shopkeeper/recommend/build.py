"""Build the recommend stage: P-TopFreq, the ranker, discoveries and complements.

The ranker and the discovery model learn from each customer's latest basket
(features from the baskets before it), then score every customer for a trip on
the as-of day with features from all their baskets, and say why in words.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from shopkeeper.errors import InvalidInput
from shopkeeper.model.recommend import (
    COMPLEMENTS,
    DISCOVERIES,
    RECOMMEND_PERSONAL_TOP,
    RECOMMENDATIONS,
)
from shopkeeper.profiles import default_as_of, purchase_lines
from shopkeeper.recommend.complements import CoPurchase
from shopkeeper.recommend.discover import Discovery
from shopkeeper.recommend.features import (
    FEATURES,
    SignalCache,
    context_for,
    last_baskets,
)
from shopkeeper.recommend.history import Baskets, Phase, load_baskets
from shopkeeper.recommend.personal_top import personal_top
from shopkeeper.recommend.ranker import Ranker, RankerParams, Scored, top_rows
from shopkeeper.recommend.tifuknn import TifuParams
from shopkeeper.warehouse import BuildContext, Stage, Warehouse

__all__ = ["STAGE", "Recommended", "build", "complements_table", "reason", "recommend"]

TIFU = TifuParams(groups=7, within_decay=0.8, group_decay=0.8, alpha=0.4, neighbors=900)
"""TIFU-KNN settings the evaluation tuned on Complete Journey validation baskets."""
COMPLEMENTS_PER_PRODUCT = 10
_EMPTY_RECS = {
    "customer_id": pa.string(),
    "rank": pa.int32(),
    "product_id": pa.string(),
    "score": pa.float64(),
    "reason": pa.string(),
}
_EMPTY_PAIRS = {
    "product_id": pa.string(),
    "rank": pa.int32(),
    "complement_id": pa.string(),
    "lift": pa.float64(),
    "baskets_together": pa.int64(),
}
log = logging.getLogger(__name__)


def _phases(baskets: Baskets, as_of: dt.date) -> tuple[Phase, Phase]:
    """Train on each customer's last basket; serve a trip on the as-of day."""
    last = baskets.first[1:] - 1
    start = baskets.first[:-1]
    train = Phase(baskets, start, last, last)
    day = (dt.datetime.combine(as_of, dt.time()) - dt.datetime(1970, 1, 1)).days
    latest = int(np.argmax(baskets.day))
    week = int(baskets.week[latest] + (day - baskets.day[latest]) // 7)
    n = baskets.n_users
    serve = Phase(
        baskets,
        start,
        last + 1,
        last,
        when=np.full(n, float(day)),
        week=np.full(n, week, dtype=np.int32),
    )
    return train, serve


@dataclass(frozen=True)
class Recommended:
    """The stage's three tables, as Arrow."""

    recommendations: pa.Table
    discoveries: pa.Table
    complements: pa.Table


def recommend(wh: Warehouse, as_of: dt.date, k: int) -> Recommended:
    """Every customer's top ``k`` and ``k`` discoveries with reasons; complements."""
    baskets = load_baskets(wh, as_of=as_of, min_baskets=1, max_baskets=10**9)
    train, serve = _phases(baskets, as_of)
    earlier = baskets.shifted(1)
    ctx = context_for(wh, baskets, train, earlier, serve)
    names = _labels(wh, baskets)
    cache = SignalCache(TIFU, RankerParams().smoothing)
    ranker = Ranker(ctx, TIFU, cache=cache)
    ranker.fit(train, earlier)
    got = ranker.scores(serve)
    discovery = Discovery(ctx, TIFU, cache=cache)
    discovery.fit(train, earlier)
    check = discovery.check
    if check is not None and check.use_feature:
        log.info(
            "recommend: discoveries by best sellers; on held-out households the "
            "model's AUC %.3f is not above best sellers' %.3f",
            check.model_auc,
            check.feature_auc,
        )
    new = discovery.scores(serve)
    return Recommended(
        recommendations=_top_with_reasons(got, serve, names, k),
        discoveries=_top_with_reasons(new, serve, names, k),
        complements=complements_table(got.signals.lift, baskets.items),
    )


def _top_with_reasons(got: Scored, serve: Phase, names: np.ndarray, k: int) -> pa.Table:
    """Each customer's ``k`` best scored candidates, with a reason for each."""
    assert got.score is not None
    picked, pos = top_rows(got.users, got.items, got.score, serve.n_users, k)
    users, items, score = got.users[picked], got.items[picked], got.score[picked]
    x, sig = got.x[picked], got.signals
    need = (
        (x[:, FEATURES.index("baskets_with_item")] == 0)
        & (x[:, FEATURES.index("copurchase")] > 0)
        & (x[:, FEATURES.index("coupon_in_hand")] == 0)
        & (x[:, FEATURES.index("on_promotion")] == 0)
    )
    partner = np.full(len(users), -1, dtype=np.int64)
    partner[need] = _partners(sig.lift, last_baskets(serve), users[need], items[need])
    reasons = [
        reason(dict(zip(FEATURES, row, strict=True)), names[p] if p >= 0 else None)
        for row, p in zip(x.tolist(), partner, strict=True)
    ]
    baskets = serve.baskets
    return pa.table(
        {
            "customer_id": baskets.customers[users].astype(str),
            "rank": (pos + 1).astype(np.int32),
            "product_id": baskets.items[items].astype(str),
            "score": score.astype(np.float64).round(6),
            "reason": reasons,
        }
    )


def _partners(
    lift: CoPurchase, last: sp.csr_matrix, users: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """For each pair, the item of the last basket with the highest lift to it."""
    out = np.full(len(users), -1, dtype=np.int64)
    into = lift.lift.T.tocsr()
    for n, (u, i) in enumerate(zip(users, items, strict=True)):
        held = last.indices[last.indptr[u] : last.indptr[u + 1]]
        lo, hi = into.indptr[i], into.indptr[i + 1]
        cols, vals = into.indices[lo:hi], into.data[lo:hi]
        hit = np.isin(cols, held)
        if hit.any():
            out[n] = cols[hit][int(np.argmax(vals[hit]))]
    return out


def _labels(wh: Warehouse, baskets: Baskets) -> np.ndarray:
    """A short name per item: its name, else its product type, else its id."""
    # A copy: the Series would otherwise share (and overwrite) baskets.items.
    names = pd.Series(baskets.items.copy(), index=baskets.items, dtype=object)
    if wh.exists("products"):
        products = wh.to_arrow(
            wh.table("products").select("product_id", "name", "product_type")
        ).to_pandas()
        products = products[products.product_id.isin(names.index)]
        label = products.name.fillna(products.product_type.str.lower())
        label = label.fillna(products.product_id)
        names[products.product_id.to_numpy()] = label.to_numpy()
    return names.to_numpy(object)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _ago(days: float) -> str:
    n = round(days)
    return "today" if n == 0 else f"{_days(n)} ago"


def reason(f: dict[str, float], partner: str | None) -> str:
    """One plain sentence for why an item is recommended, from its features."""
    count, since, cycle = (
        f["baskets_with_item"],
        f["days_since_item"],
        f["item_cycle_days"],
    )
    if f["coupon_in_hand"] > 0:
        return "you have a coupon for this"
    if count >= 2 and np.isfinite(cycle):
        every = (
            f"{round(cycle / 7)} weeks"
            if cycle >= 14
            else _days(max(round(cycle), 1)).removeprefix("1 ")
        )
        return f"you buy this about every {every}; last bought {_ago(since)}"
    if f["on_promotion"] > 0:
        return "on promotion this week in your store"
    if count == 1:
        return f"you bought this once, {_ago(since)}"
    if partner is not None and f["copurchase"] > 0:
        return f"often bought with {partner}"
    return "popular with shoppers like you"


def complements_table(lift: CoPurchase, item_ids: np.ndarray) -> pa.Table:
    """Each product's top complements by smoothed lift (seen together twice+)."""
    matrix = lift.lift.tocsr()
    together = lift.cooccur.tocsr()
    src, rank, dst, value, count = [], [], [], [], []
    for i in range(matrix.shape[0]):
        lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
        cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
        pairs = together.data[lo:hi]
        ok = pairs >= 2
        cols, vals, pairs = cols[ok], vals[ok], pairs[ok]
        top = np.lexsort((cols, -vals))[:COMPLEMENTS_PER_PRODUCT]
        src.extend([i] * len(top))
        rank.extend(range(1, len(top) + 1))
        dst.extend(cols[top].tolist())
        value.extend(vals[top].tolist())
        count.extend(pairs[top].tolist())
    return pa.table(
        {
            "product_id": item_ids[np.asarray(src, dtype=np.int64)].astype(str),
            "rank": np.asarray(rank, dtype=np.int32),
            "complement_id": item_ids[np.asarray(dst, dtype=np.int64)].astype(str),
            "lift": np.round(np.asarray(value, dtype=np.float64), 4),
            "baskets_together": np.asarray(count, dtype=np.int64),
        }
    )


def build(ctx: BuildContext) -> None:
    """Rewrite recommend_personal_top, recommendations, discoveries, complements."""
    wh = ctx.wh
    as_of = ctx.as_of or default_as_of(wh)
    k = ctx.settings.recommendations_per_customer
    ctx.step("recommend: personal top", 0, 3)
    wh.write(RECOMMEND_PERSONAL_TOP, personal_top(purchase_lines(wh, as_of), k=k))
    ctx.step("recommend: ranker and discoveries", 1, 3)
    try:
        got = recommend(wh, as_of, k)
    except InvalidInput:
        # No basket holds a product bought often enough to learn from: write
        # empty tables rather than fail the whole build of a brand-new shop.
        log.warning("recommend: too few orders to train on; tables left empty")
        recs = pa.table({c: pa.array([], t) for c, t in _EMPTY_RECS.items()})
        pairs = pa.table({c: pa.array([], t) for c, t in _EMPTY_PAIRS.items()})
        got = Recommended(recs, recs, pairs)
    ctx.step("recommend: write", 2, 3)
    for spec, table in (
        (RECOMMENDATIONS, got.recommendations),
        (DISCOVERIES, got.discoveries),
        (COMPLEMENTS, got.complements),
    ):
        wh.write(spec, wh.stage_arrow(f"_tmp_recommend_{spec.name}", table))
    ctx.step("recommend: done", 3, 3)


STAGE = Stage(
    name="recommend",
    inputs=("orders", "order_lines", "identity_map"),
    outputs=(RECOMMEND_PERSONAL_TOP, RECOMMENDATIONS, DISCOVERIES, COMPLEMENTS),
    run=build,
    doc=(
        "Next-basket recommendations with reasons (LightGBM over habit, "
        "co-purchase, promotion and coupon features), discoveries (never-bought "
        "products likely next), complements by lift, and the P-TopFreq baseline."
    ),
)
