"""Every baseline on a known-answer case."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.recommend.als import Als, AlsParams
from shopkeeper.recommend.baselines import GPTopFreq, GTopFreq, PTopFreq
from shopkeeper.recommend.complements import CoPurchase
from shopkeeper.recommend.tifuknn import TifuKnn, TifuParams, history_vectors
from tests.recommend.history import history

# Items: a=0, b=1, c=2, d=3. The last basket of each is the (unused) target.
TRIPS = {
    "h1": [["a", "b"], ["a"], ["a", "c"], ["b"]],
    "h2": [["c"], ["c", "d"], ["c"], ["d"]],
    "h3": [["b"], ["b", "c"], ["d"], ["a"]],
}


def test_p_topfreq_returns_each_households_most_frequent_items() -> None:
    test = history(TRIPS).phase("test")
    ranked = PTopFreq().rank(test, 3)
    # h1: a 3, b 1, c 1; h2: c 3, d 1; h3: b 2, c 1, d 1 (ties: lower index).
    assert ranked.tolist() == [[0, 1, 2], [2, 3, -1], [1, 2, 3]]


def test_g_topfreq_is_global_popularity_for_everyone() -> None:
    test = history(TRIPS).phase("test")
    # Baskets with: a 3, b 3, c 5, d 2 -> c, then a and b (tie: a), then d.
    assert GTopFreq().rank(test, 4).tolist() == [[2, 0, 1, 3]] * 3


def test_gp_topfreq_fills_personal_with_global() -> None:
    test = history(TRIPS).phase("test")
    assert GPTopFreq().rank(test, 3).tolist()[1] == [2, 3, 0]


def test_tifu_vectors_follow_the_papers_group_decay() -> None:
    test = history({"h": [["a"], ["b"], ["a", "b"], ["a"], ["b"]]}).phase("test")
    # 4 history baskets in 2 groups: {a}, {b} | {a, b}, {a}.
    # group 1: (0.5 * a + 1 * b) / 2, times group decay 0.25; group 2:
    # (0.5 * (a + b) + 1 * a) / 2. User vector = (g1 + g2) / 2 groups.
    params = TifuParams(groups=2, within_decay=0.5, group_decay=0.25)
    vec = history_vectors(test, params).toarray()[0]
    a = (0.25 * 0.5 / 2 + 1.5 / 2) / 2
    b = (0.25 * 1.0 / 2 + 0.5 / 2) / 2
    assert vec.tolist() == pytest.approx([a, b])


def test_tifu_knn_without_decay_or_neighbours_is_personal_frequency() -> None:
    test = history(TRIPS).phase("test")
    flat = TifuKnn(TifuParams(groups=1, within_decay=1, group_decay=1, alpha=1))
    assert flat.rank(test, 2).tolist() == PTopFreq().rank(test, 2).tolist()


def test_tifu_knn_borrows_from_neighbours() -> None:
    test = history(TRIPS).phase("test")
    # alpha 0 with 2 neighbours: h2 (c, d) is nearest to h3 (b, c, d), so
    # h2's list gains b, which h2 never bought.
    knn = TifuKnn(
        TifuParams(groups=1, within_decay=1, group_decay=1, alpha=0, neighbors=2)
    )
    assert 1 in knn.rank(test, 3)[1]


def test_als_separates_two_disjoint_tastes() -> None:
    # Households 0-5 buy only a-e; 6-11 only f-j (implicit's checkerboard idea).
    left, right = list("abcde"), list("fghij")
    trips = {
        f"h{u:02d}": [[left[(u + n) % 5], left[(u + n + 1) % 5]] for n in range(4)]
        for u in range(6)
    } | {
        f"h{u:02d}": [[right[(u + n) % 5], right[(u + n + 1) % 5]] for n in range(4)]
        for u in range(6, 12)
    }
    test = history(trips).phase("test")
    ranked = Als(AlsParams(factors=4, iterations=10)).rank(test, 3)
    assert (ranked[:6] < 5).all() and (ranked[6:] >= 5).all()


def test_lift_corrects_for_popularity() -> None:
    # "a" is in every basket; "b" and "c" always go together.
    trips = {"h": [["a", "b", "c"], ["a"], ["a"], ["a", "b", "c"], ["a"], ["a", "d"]]}
    baskets = history(trips)
    lift = CoPurchase.fit(baskets.matrix(), smoothing=0)
    # c_bc = 2, support b = c = 2, N = 6: lift 3; c_ba = 2 with a everywhere: 1.
    assert lift.lift[1, 2] == pytest.approx(3.0)
    assert lift.lift[1, 0] == pytest.approx(1.0)
    assert lift.complete(np.array([1]), 2).tolist() == [2, 0]
