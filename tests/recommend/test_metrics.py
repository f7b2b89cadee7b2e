"""The protocol on a tiny hand-made history gives hand-computed figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from shopkeeper.errors import InvalidInput
from shopkeeper.recommend.baselines import PTopFreq
from shopkeeper.recommend.evaluate import evaluate_baskets
from shopkeeper.recommend.metrics import (
    basket_metrics,
    household_metrics,
    lead_interval,
)
from tests.recommend.history import history

# Items sort by id, so their indexes are a=0, b=1, c=2, d=3, e=4.
TRIPS = {
    "h1": [["a", "b"], ["a", "c"], ["a"], ["a", "b", "e"]],
    "h2": [["d", "e"], ["c", "d"], ["b", "d"], ["d", "c"]],
}


def test_splits_follow_time_order() -> None:
    baskets = history(TRIPS)
    test, valid = baskets.phase("test"), baskets.phase("valid")
    assert [sorted(baskets.items[t]) for t in test.truth()] == [
        ["a", "b", "e"],
        ["c", "d"],
    ]
    assert [sorted(baskets.items[t]) for t in valid.truth()] == [["a"], ["b", "d"]]
    assert (test.stop - test.start).tolist() == [3, 3]
    assert (valid.stop - valid.start).tolist() == [2, 2]
    earlier = baskets.phase("earlier")
    assert [sorted(baskets.items[t]) for t in earlier.truth()] == [
        ["a", "c"],
        ["c", "d"],
    ]
    assert (earlier.stop - earlier.start).tolist() == [1, 1]
    # Validation history never holds the validation or test basket.
    assert valid.counts().toarray().tolist() == [[2, 1, 1, 0, 0], [0, 0, 1, 2, 1]]


def test_each_metric_and_the_repeat_explore_split_by_hand() -> None:
    baskets = history(TRIPS)
    test = baskets.phase("test")
    ranked = PTopFreq().rank(test, 20)
    # h1 bought a 3 times, b once, c once -> [a, b, c]; h2: d 3, b, c, e once.
    assert ranked[:, :4].tolist() == [[0, 1, 2, -1], [3, 1, 2, 4]]
    got = basket_metrics(ranked, test.truth(), test.counts())
    # h1: truth {a, b, e}: hits at ranks 1 and 2; e (h2 bought it, h1 never)
    # is an explore item.
    # h2: truth {c, d}: hits at ranks 1 and 3; both repeat items.
    log = math.log2
    ndcg_h1 = (1 + 1 / log(3)) / (1 + 1 / log(3) + 1 / log(4))
    ndcg_h2 = (1 + 1 / log(4)) / (1 + 1 / log(3))
    expected = {
        "recall@10": (2 / 3 + 1) / 2,
        "recall@20": (2 / 3 + 1) / 2,
        "ndcg@10": (ndcg_h1 + ndcg_h2) / 2,
        "ndcg@20": (ndcg_h1 + ndcg_h2) / 2,
        "phr@10": 1.0,
        "repeat_recall@10": 1.0,
        "repeat_ndcg@10": (1.0 + ndcg_h2) / 2,
        "repeat_phr@10": 1.0,
        "explore_recall@10": 0.0,
        "explore_ndcg@10": 0.0,
        "explore_phr@10": 0.0,
    }
    assert got == pytest.approx(expected)


def test_ndcg_uses_the_ideal_of_min_k_and_truth() -> None:
    # 30 true items, all 10 recommendations hit: NDCG@10 is exactly 1 (the
    # paper's code would divide by the ideal DCG of 30 items instead).
    truth = [np.arange(30)]
    ranked = np.arange(20)[None, :]
    got = basket_metrics(ranked, truth, sp.csr_matrix((1, 30)))
    assert got["ndcg@10"] == pytest.approx(1.0)
    assert got["recall@10"] == pytest.approx(10 / 30)
    assert got["explore_recall@10"] == pytest.approx(10 / 30)
    assert "repeat_recall@10" not in got


def test_filters_drop_rare_items_and_short_or_long_histories() -> None:
    baskets = history({**TRIPS, "short": [["a"], ["b"]]})
    assert baskets.customers.tolist() == ["h1", "h2"]
    assert history(
        {"h": [["a"]] * 51, "k": [["a"], ["b"], ["a"]]}
    ).customers.tolist() == ["k"]
    # "z" is only ever in a last (test) basket: it is not an item at all.
    assert "z" not in history({"h": [["a"], ["a"], ["a", "z"]]}).items


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown method"):
        evaluate_baskets(history(TRIPS), methods=["DeepMagic"])


def test_evaluation_is_deterministic_on_hand_made_data() -> None:
    methods = ["G-TopFreq", "P-TopFreq", "GP-TopFreq", "TIFU-KNN"]
    first = evaluate_baskets(history(TRIPS), methods=methods, tifu_trials=2)
    again = evaluate_baskets(history(TRIPS), methods=methods, tifu_trials=2)
    assert [r.metrics for r in first.results] == [r.metrics for r in again.results]
    assert first.households == 2 and first.items == 5


def test_household_metrics_mark_who_does_not_count() -> None:
    baskets = history(TRIPS)
    test = baskets.phase("test")
    rows = household_metrics(PTopFreq().rank(test, 20), test.truth(), test.counts())
    # From the hand count above: h1 finds 2 of 3, h2 both; only h1 has an
    # explore item (e), so h2's explore entry is NaN, not 0.
    assert rows["recall@10"].tolist() == pytest.approx([2 / 3, 1.0])
    assert rows["explore_recall@10"][0] == 0.0
    assert np.isnan(rows["explore_recall@10"][1])


def test_lead_interval_is_paired() -> None:
    # Generated on purpose: a known 10% lead on every household, whatever the
    # household's own level, gives exactly +10% in every bootstrap draw.
    theirs = np.random.default_rng(1).uniform(0.1, 0.9, 500)
    lead, low, high = lead_interval(theirs * 1.1, theirs)
    assert (lead, low, high) == pytest.approx((0.1, 0.1, 0.1))
    # Noise around no lead: the interval straddles 0.
    noisy = theirs + np.random.default_rng(2).normal(0, 0.2, 500)
    lead, low, high = lead_interval(noisy, theirs)
    assert low < 0 < high and low < lead < high
    # Households either method skips (NaN) are left out of both.
    assert lead_interval(np.array([np.nan, 2.0]), np.array([5.0, 1.0]))[0] == 1.0
    assert math.isnan(lead_interval(np.ones(3), np.zeros(3))[0])
