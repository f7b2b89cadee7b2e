"""Discover: never-bought items, their candidates, and the one-list trade-off."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.errors import ConfigError
from shopkeeper.profiles.customer360 import customer_view
from shopkeeper.recommend.context import Context
from shopkeeper.recommend.discover import (
    DiscoverParams,
    Discovery,
    discovery_candidates,
)
from shopkeeper.recommend.evaluate import mix
from shopkeeper.recommend.features import SignalCache, context_for, signals
from shopkeeper.recommend.history import Phase, load_baskets
from shopkeeper.recommend.ranker import FallbackCheck, fallback_check
from shopkeeper.recommend.tifuknn import TifuParams
from shopkeeper.warehouse import Warehouse, connect
from tests.recommend.history import history

TIFU = TifuParams(groups=3, within_decay=0.8, group_decay=0.8, alpha=0.5, neighbors=20)

# Items: a=0, b=1, c=2, d=3 (and e). The last basket of each is the target.
TRIPS = {
    "h1": [["a", "b"], ["a"], ["a", "c"], ["b"]],
    "h2": [["c"], ["c", "d"], ["c"], ["d"]],
    "h3": [["b"], ["b", "c"], ["d"], ["a", "e"]],
}


def _bought(phase: Phase) -> list[set[int]]:
    counts = phase.counts().tocsr()
    return [
        set(counts.indices[counts.indptr[u] : counts.indptr[u + 1]].tolist())
        for u in range(phase.n_users)
    ]


def test_candidates_are_exactly_the_items_a_household_never_bought() -> None:
    baskets = history(TRIPS)
    test = baskets.phase("test")
    sig = signals(test, TIFU, 1.0)
    users, items = discovery_candidates(
        test, sig, Context.empty(baskets), DiscoverParams()
    )
    got = [set(items[users == u].tolist()) for u in range(test.n_users)]
    # Few items: the best sellers alone reach all of them, so every household
    # gets the complement of its own history. (e, only ever in a test basket,
    # is dropped by the protocol's item filter: it is no item at all.)
    assert baskets.n_items == 4
    a, b, d = 0, 1, 3
    assert got == [{d}, {a, b}, {a}]
    keys = users * 10 + items
    assert np.array_equal(keys, np.unique(keys))


def test_best_sellers_skip_what_the_household_bought() -> None:
    baskets = history(TRIPS)
    test = baskets.phase("test")
    sig = signals(test, TIFU, 1.0)
    params = DiscoverParams(neighbours=0, copurchase=0, popular=1)
    users, items = discovery_candidates(test, sig, Context.empty(baskets), params)
    # Best sellers in history: c (5 baskets), then a and b (3 each, a first).
    # h2 bought c and d, so its one best seller is a; h1 and h3 bought c too.
    assert dict(zip(users.tolist(), items.tolist(), strict=True)) == {0: 3, 1: 0, 2: 0}


def test_mix_keeps_the_head_and_appends_new_items() -> None:
    main = np.array([[1, 2, 3, 4, -1, -1]])
    extra = np.array([[2, 7, 8, -1, -1, -1]])
    # Top 4 with 2 discover slots: head 1, 2; then 7, 8 (2 is already in it).
    assert mix(main, extra, 2, k=4)[0, :4].tolist() == [1, 2, 7, 8]
    assert mix(main, extra, 0, k=4)[0, :4].tolist() == [1, 2, 3, 4]


@pytest.fixture(scope="module")
def discovered(built_path: Path) -> tuple[Phase, np.ndarray, Discovery]:
    """Discoveries for the test baskets of the shared real slice.

    Whether they are good is measured on the full data by
    benchmarks/recommend.py: the slice's few dozen households are too few to
    learn from (global popularity beats the model there).
    """
    wh = connect(f"duckdb:///{built_path}", read_only=True)
    try:
        baskets = load_baskets(wh)
        valid, test = baskets.phase("valid"), baskets.phase("test")
        ctx = context_for(wh, baskets, valid, test, baskets.phase("earlier"))
    finally:
        wh.close()
    model = Discovery(ctx, TIFU, cache=SignalCache(TIFU, 1.0))
    model.tune(valid)
    return test, model.rank(test, 20), model


def test_discoveries_are_never_bought_before(
    discovered: tuple[Phase, np.ndarray, Discovery],
) -> None:
    test, ranked, _ = discovered
    for row, bought in zip(ranked, _bought(test), strict=True):
        picked = row[row >= 0].tolist()
        assert picked and not set(picked) & bought
        assert len(set(picked)) == len(picked)


def test_fallback_check_known_answers() -> None:
    y = np.array([0, 0, 1, 1])
    # The model orders one negative above one positive: AUC 3/4.
    check = fallback_check("item_popularity", y, np.array([0.1, 0.4, 0.35, 0.8]), y)
    assert check is not None
    assert (check.model_auc, check.feature_auc) == (0.75, 1.0)
    assert check.use_feature
    better = fallback_check("f", y, np.array([0.1, 0.2, 0.3, 0.4]), -y)
    assert better is not None and not better.use_feature
    assert fallback_check("f", np.zeros(4), y, y) is None


def test_best_sellers_rank_when_the_model_is_no_better(
    discovered: tuple[Phase, np.ndarray, Discovery],
) -> None:
    """The check runs on the held-out households of the real slice; where it
    finds the model no better than best sellers, best sellers rank."""
    test, _, model = discovered
    check = model.check
    assert check is not None and check.feature == "item_popularity"
    # Even on the slice's few dozen households the model ranks the held-out
    # households' candidates better than best sellers do, so it scores.
    assert check.model_auc > check.feature_auc > 0.5
    modelled = model.scores(test)
    assert modelled.score is not None
    weak = copy.copy(model)
    weak.check = FallbackCheck("item_popularity", 0.5, 0.6)
    got = weak.scores(test)
    assert got.score is not None
    assert np.array_equal(got.score, got.signals.popularity[got.items])
    assert not np.array_equal(got.score, modelled.score)
    first = weak.rank(test, 1)[:, 0]
    for user in range(test.n_users):
        mine = got.items[got.users == user]
        if len(mine):
            assert (
                got.signals.popularity[first[user]]
                == got.signals.popularity[mine].max()
            )


def test_the_customer_view_lists_discoveries(built: Warehouse) -> None:
    customer = built.execute(built.table("discoveries").customer_id.min())
    view = customer_view(built, customer)
    assert view["discoveries"] and view["discoveries"][0]["rank"] == 1
    assert all(d["reason"] for d in view["discoveries"])


def test_the_profile_command_prints_new_for_you(
    built_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "wh.duckdb"
    shutil.copy(built_path, copy)
    with connect(f"duckdb:///{copy}", read_only=True) as wh:
        first = wh.table("discoveries").filter(lambda t: t["rank"] == 1)
        row = wh.execute(first.order_by("customer_id").limit(1)).iloc[0]
    result = CliRunner().invoke(
        app, ["--warehouse", f"duckdb:///{copy}", "profile", row.customer_id]
    )
    assert result.exit_code == 0, result.output
    assert "New for you" in result.output
    assert row.product_id in result.output


def test_a_cache_of_other_settings_is_refused() -> None:
    baskets = history(TRIPS)
    other = SignalCache(TifuParams(groups=1), 1.0)
    with pytest.raises(ConfigError, match="signal cache"):
        Discovery(Context.empty(baskets), TIFU, cache=other)
