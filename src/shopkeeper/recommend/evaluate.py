"""The offline evaluation protocol: every recommender, the same baskets, one run.

It follows "A Next Basket Recommendation Reality Check" (Li et al., TOIS 2023):
per household, baskets in time order; the last is the test basket, the one
before it validation, the rest history. Methods tune on the validation baskets
(history before them) and are then refitted on history plus validation and
scored on the test baskets, which no method sees before that. See
docs/recommend.md for the filters and metric definitions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopkeeper.errors import InvalidInput
from shopkeeper.recommend.als import Als
from shopkeeper.recommend.baselines import GPTopFreq, GTopFreq, PTopFreq
from shopkeeper.recommend.complements import (
    SMOOTHING,
    CoPurchase,
    hidden_item_cases,
    hit_rate,
)
from shopkeeper.recommend.context import Context, load_context
from shopkeeper.recommend.features import main_store
from shopkeeper.recommend.history import Baskets, Phase, load_baskets
from shopkeeper.recommend.metrics import basket_metrics
from shopkeeper.recommend.ranker import Ranker
from shopkeeper.recommend.tifuknn import TifuKnn
from shopkeeper.warehouse import Progress, Warehouse

__all__ = ["METHODS", "Evaluation", "MethodResult", "evaluate", "evaluate_baskets"]

METHODS = ("G-TopFreq", "P-TopFreq", "GP-TopFreq", "TIFU-KNN", "ALS", "Shopkeeper")
"""Every method, in the order the report lists them."""


class _Method(Protocol):
    name: str

    def rank(self, phase: Phase, k: int) -> np.ndarray: ...


@dataclass(frozen=True)
class MethodResult:
    """One method's test metrics, tuned settings and seconds spent."""

    method: str
    metrics: dict[str, float]
    tune_seconds: float
    train_score_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """The whole run: data after filters, each method, and complements."""

    households: int
    items: int
    baskets: int
    filters: dict[str, int]
    results: list[MethodResult]
    complements: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    wh: Warehouse,
    methods: Sequence[str] | None = None,
    *,
    tifu_trials: int = 6,
    progress: Progress | None = None,
) -> Evaluation:
    """Run the protocol on the warehouse's orders (any retailer's)."""
    baskets = load_baskets(wh)
    valid, test = baskets.phase("valid"), baskets.phase("test")
    store_weeks = pd.concat(
        pd.DataFrame({"store": main_store(p), "week": baskets.week[p.target]})
        for p in (valid, test)
    ).drop_duplicates()
    ctx = load_context(wh, baskets, store_weeks)
    return evaluate_baskets(
        baskets, ctx, methods, tifu_trials=tifu_trials, progress=progress
    )


def evaluate_baskets(
    baskets: Baskets,
    ctx: Context | None = None,
    methods: Sequence[str] | None = None,
    *,
    tifu_trials: int = 6,
    progress: Progress | None = None,
) -> Evaluation:
    """The protocol on baskets already loaded (tests give hand-made ones)."""
    wanted = list(methods or METHODS)
    unknown = [m for m in wanted if m not in METHODS]
    if unknown:
        raise InvalidInput(
            f"unknown method(s) {unknown}; methods are: {', '.join(METHODS)}"
        )
    ctx = ctx or Context.empty(baskets)
    valid, test = baskets.phase("valid"), baskets.phase("test")
    truth, seen = test.truth(), test.counts()
    tifu = TifuKnn(trials=tifu_trials)
    tifu_seconds = 0.0
    if "TIFU-KNN" in wanted or "Shopkeeper" in wanted:
        started = time.perf_counter()
        tifu.tune(valid)
        tifu_seconds = time.perf_counter() - started
    results = []
    for done, name in enumerate(wanted):
        if progress is not None:
            progress(f"evaluate: {name}", done, len(wanted))
        method: _Method
        settings: dict[str, Any] = {}
        tune_seconds = 0.0
        if name == "TIFU-KNN":
            method, tune_seconds = tifu, tifu_seconds
            settings = asdict(tifu.params)
        elif name == "ALS":
            als = Als()
            started = time.perf_counter()
            settings = asdict(als.tune(valid))
            tune_seconds = time.perf_counter() - started
            method = als
        elif name == "Shopkeeper":
            ranker = Ranker(ctx, tifu.params)
            started = time.perf_counter()
            settings = {"rounds": ranker.tune(valid), "tifu": asdict(tifu.params)}
            tune_seconds = time.perf_counter() - started + tifu_seconds
            method = ranker
        else:
            method = {"G-TopFreq": GTopFreq, "P-TopFreq": PTopFreq}.get(
                name, GPTopFreq
            )()
        started = time.perf_counter()
        ranked = method.rank(test, 20)
        seconds = time.perf_counter() - started
        results.append(
            MethodResult(
                name,
                basket_metrics(ranked, truth, seen),
                tune_seconds,
                seconds,
                settings,
            )
        )
    if progress is not None:
        progress("evaluate: complements", len(wanted), len(wanted) + 1)
    return Evaluation(
        households=baskets.n_users,
        items=baskets.n_items,
        baskets=baskets.n_baskets,
        filters=dict(baskets.filters),
        results=results,
        complements=complement_hit_rates(baskets, valid, test),
    )


def complement_hit_rates(
    baskets: Baskets, valid: Phase, test: Phase
) -> dict[str, float]:
    """Hidden-item hit rate @10 of test baskets: lift, raw co-count, popularity.

    The lift's smoothing is chosen on the validation baskets (pairs counted in
    the history before them), then refitted on history plus validation.
    """
    given_v, hidden_v = hidden_item_cases(baskets, valid)
    history_v = baskets.matrix(valid.history_rows())
    best, best_rate = SMOOTHING[0], -1.0
    for smoothing in SMOOTHING:
        lift = CoPurchase.fit(history_v, smoothing=smoothing)
        rate = hit_rate(lift.for_baskets(given_v), given_v, hidden_v)
        if rate > best_rate:
            best, best_rate = smoothing, rate
    given, hidden = hidden_item_cases(baskets, test)
    history = baskets.matrix(test.history_rows())
    lift = CoPurchase.fit(history, smoothing=best)
    popularity = sp.csr_matrix(np.tile(lift.support, (len(hidden), 1)))
    return {
        "cases": float(len(hidden)),
        "smoothing": best,
        "lift_hit@10": hit_rate(lift.for_baskets(given), given, hidden),
        "cocount_hit@10": hit_rate((given @ lift.cooccur).tocsr(), given, hidden),
        "popularity_hit@10": hit_rate(popularity, given, hidden),
    }
