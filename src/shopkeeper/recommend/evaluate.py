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
from shopkeeper.recommend.context import Context
from shopkeeper.recommend.discover import Discovery
from shopkeeper.recommend.features import SignalCache, context_for
from shopkeeper.recommend.history import Baskets, Phase, load_baskets
from shopkeeper.recommend.metrics import (
    basket_metrics,
    household_metrics,
    lead_interval,
)
from shopkeeper.recommend.ranker import Ranker, RankerParams
from shopkeeper.recommend.tifuknn import TifuKnn
from shopkeeper.warehouse import Progress, Warehouse

__all__ = [
    "METHODS",
    "Evaluation",
    "MethodResult",
    "evaluate",
    "evaluate_baskets",
    "mix",
]

METHODS = (
    "G-TopFreq",
    "P-TopFreq",
    "GP-TopFreq",
    "TIFU-KNN",
    "ALS",
    "Shopkeeper",
    "Shopkeeper discover",
)
"""Every method, in the order the report lists them.

"Shopkeeper" is the next-basket list; "Shopkeeper discover" the list of
never-bought items served beside it (recommend/discover.py).
"""
MIX_SLOTS = (1, 2, 3, 4)
"""Discover slots tried at the end of one mixed top 10 (the trade-off report)."""


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
    mixes: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)

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
    # Shopkeeper's models train on the validation and earlier baskets.
    phases = (baskets.phase(name) for name in ("valid", "test", "earlier"))
    ctx = context_for(wh, baskets, *phases)
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
    if {"TIFU-KNN", "Shopkeeper", "Shopkeeper discover"} & set(wanted):
        started = time.perf_counter()
        tifu.tune(valid)
        tifu_seconds = time.perf_counter() - started
    results = []
    rankings: dict[str, np.ndarray] = {}
    per_household: dict[str, dict[str, np.ndarray]] = {}
    cache = SignalCache(tifu.params, RankerParams().smoothing)
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
            ranker = Ranker(ctx, tifu.params, cache=cache)
            started = time.perf_counter()
            settings = {"rounds": ranker.tune(valid), "tifu": asdict(tifu.params)}
            tune_seconds = time.perf_counter() - started + tifu_seconds
            method = ranker
        elif name == "Shopkeeper discover":
            discovery = Discovery(ctx, tifu.params, cache=cache)
            started = time.perf_counter()
            settings = {"rounds": discovery.tune(valid)}
            tune_seconds = time.perf_counter() - started + tifu_seconds
            method = discovery
        else:
            method = {"G-TopFreq": GTopFreq, "P-TopFreq": PTopFreq}.get(
                name, GPTopFreq
            )()
        started = time.perf_counter()
        ranked = method.rank(test, 20)
        seconds = time.perf_counter() - started
        rankings[name] = ranked
        per_household[name] = household_metrics(ranked, truth, seen)
        results.append(
            MethodResult(
                name,
                {m: float(np.nanmean(v)) for m, v in per_household[name].items()},
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
        mixes=_mixes(rankings, truth, seen),
        leads=_leads(per_household),
    )


LEADS = (
    ("Shopkeeper", "recall@10"),
    ("Shopkeeper", "ndcg@10"),
    ("Shopkeeper discover", "explore_recall@10"),
)
"""The goals: each of Shopkeeper's lists against the best baseline on its metric."""


def _leads(per_household: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Each goal's lead over the best baseline, with a paired bootstrap interval."""
    baselines = [m for m in per_household if not m.startswith("Shopkeeper")]
    out = []
    for method, metric in LEADS:
        if method not in per_household or not baselines:
            continue
        best = max(baselines, key=lambda m: np.nanmean(per_household[m][metric]))
        lead, low, high = lead_interval(
            per_household[method][metric], per_household[best][metric]
        )
        figures = {"lead": lead, "low": low, "high": high}
        out.append(
            {"method": method, "metric": metric, "baseline": best}
            # No lead to speak of when the baseline scores 0 (JSON has no NaN).
            | {k: (None if np.isnan(v) else v) for k, v in figures.items()}
        )
    return out


def _mixes(
    rankings: dict[str, np.ndarray], truth: list[np.ndarray], seen: sp.csr_matrix
) -> list[dict[str, Any]]:
    """@10 metrics of one list that gives its last slots to discover items."""
    if not {"Shopkeeper", "Shopkeeper discover"} <= set(rankings):
        return []
    out = []
    for slots in MIX_SLOTS:
        mixed = mix(rankings["Shopkeeper"], rankings["Shopkeeper discover"], slots)
        metrics = basket_metrics(mixed, truth, seen)
        out.append(
            {"discover_slots": slots}
            | {name: v for name, v in metrics.items() if name.endswith("@10")}
        )
    return out


def mix(main: np.ndarray, extra: np.ndarray, slots: int, k: int = 10) -> np.ndarray:
    """``main``'s top ``k`` with its last ``slots`` given to ``extra``'s best.

    The items ``extra`` adds are the first ones not already in the head, and
    they go at the end: the head keeps its places (and its NDCG share).
    """
    out = np.full((len(main), max(main.shape[1], k)), -1, dtype=np.int64)
    for u, (row, more) in enumerate(zip(main, extra, strict=True)):
        head = row[row >= 0][: k - slots]
        add = more[(more >= 0) & ~np.isin(more, head)][:slots]
        picked = np.concatenate([head, add])
        out[u, : len(picked)] = picked
    return out


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
