"""The budgeted allocator on cases with a known optimum, consent and bad input."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.allocate import allocate, greedy


def frame(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["customer_id", "offer_id", "incremental_margin", "cost"]
    )


def chosen(plan_rows: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(plan_rows["customer_id"], plan_rows["offer_id"], strict=True))


def test_budget_knapsack_beats_greedy() -> None:
    # Greedy takes a's best ratio (7/6) and then nothing else fits in 10;
    # the optimum is b + c = 10.
    cands = frame([("a", "x", 7, 6), ("b", "x", 5, 5), ("c", "x", 5, 5)])
    plan = allocate(cands, budget=10)
    assert chosen(plan.assignments) == {("b", "x"), ("c", "x")}
    assert plan.expected_incremental_margin == 10
    assert plan.total_cost == 10
    assert plan.optimal
    assert greedy(cands, budget=10).expected_incremental_margin == 7


def test_caps_and_k_interact() -> None:
    # Offer x may go to one customer. Greedy gives x to customer 1 (10) and
    # then is stuck; the optimum gives 1 offer y and 2 offer x: 9 + 8.
    cands = frame([("1", "x", 10, 1), ("1", "y", 9, 1), ("2", "x", 8, 1)])
    plan = allocate(cands, max_per_customer=1, caps={"x": 1})
    assert chosen(plan.assignments) == {("1", "y"), ("2", "x")}
    assert plan.expected_incremental_margin == 17
    assert (
        greedy(cands, max_per_customer=1, caps={"x": 1}).expected_incremental_margin
        == 10
    )
    # With K = 2 customer 1 may take both, but x is still capped at one customer.
    assert (
        allocate(cands, max_per_customer=2, caps={"x": 1}).expected_incremental_margin
        == 19
    )


def test_matches_brute_force_on_a_small_random_case() -> None:
    # Generated data: a brute-force optimum needs a case small enough to
    # enumerate (2^12 plans), which no real campaign is.
    rng = np.random.default_rng(7)
    customers, offers = ["c1", "c2", "c3", "c4"], ["o1", "o2", "o3"]
    cands = frame(
        [
            (c, o, float(rng.integers(1, 20)), float(rng.integers(1, 8)))
            for c in customers
            for o in offers
        ]
    )
    budget, k, caps = 15.0, 2, {"o1": 2, "o3": 1}
    best = 0.0
    rows = list(cands.itertuples(index=False))
    for pick in itertools.product((0, 1), repeat=len(rows)):
        sent = [r for r, p in zip(rows, pick, strict=True) if p]
        per_customer = Counter(r.customer_id for r in sent)
        per_offer = Counter(r.offer_id for r in sent)
        if (
            sum(r.cost for r in sent) <= budget
            and max(per_customer.values(), default=0) <= k
            and all(per_offer[o] <= cap for o, cap in caps.items())
        ):
            best = max(best, sum(r.incremental_margin for r in sent))
    plan = allocate(cands, budget=budget, max_per_customer=k, caps=caps, mip_gap=0.0)
    assert plan.optimal
    assert plan.expected_incremental_margin == pytest.approx(best)
    assert plan.total_cost <= budget
    assert plan.assignments.groupby("customer_id").size().max() <= k


def test_customers_without_consent_for_the_channel_are_never_sent() -> None:
    cands = frame(
        [
            ("ann", "mail-a", 50, 1),
            ("ann", "sms-a", 5, 1),
            ("bob", "mail-a", 40, 1),
            ("cy", "mail-a", 30, 1),
        ]
    )
    consent = pd.DataFrame(
        {"customer_id": ["ann", "bob", "cy"], "channel": ["sms", "email", "email"]}
    )
    plan = allocate(
        cands,
        consent=consent,
        offer_channels={"mail-a": "email", "sms-a": "sms"},
    )
    # ann has the best e-mail margin but only allowed SMS.
    assert chosen(plan.assignments) == {
        ("ann", "sms-a"),
        ("bob", "mail-a"),
        ("cy", "mail-a"),
    }
    assert plan.excluded_no_consent == 1
    assert plan.expected_incremental_margin == 75


def test_non_positive_margins_are_dropped() -> None:
    plan = allocate(frame([("a", "x", -1, 0), ("b", "x", 0, 0), ("c", "x", 2, 0)]))
    assert chosen(plan.assignments) == {("c", "x")}
    assert plan.dropped_non_positive == 2


def test_scales_to_a_campaign() -> None:
    # Generated margins: 5,000 customers x 2 offers with a binding budget,
    # a cap and K = 1, where the MILP alone stalls in presolve.
    rng = np.random.default_rng(0)
    n = 5000
    cands = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(n), 2),
            "offer_id": np.tile(["m", "w"], n),
            "incremental_margin": rng.gamma(1.0, 1.0, 2 * n),
            "cost": 1.0,
        }
    )
    plan = allocate(cands, budget=1500, caps={"w": 400})
    assert plan.optimal
    assert len(plan.assignments) == 1500
    assert (plan.assignments["offer_id"] == "w").sum() <= 400
    assert plan.expected_incremental_margin >= plan.bound * (1 - 1e-4)
    assert (
        plan.expected_incremental_margin
        > greedy(cands, budget=1500, caps={"w": 400}).expected_incremental_margin
        * 0.999
    )


@pytest.mark.parametrize(
    ("cands", "kwargs", "message"),
    [
        (frame([("a", "x", 1, 1)]).drop(columns="cost"), {}, "lack columns"),
        (frame([("a", "x", 1, 1), ("a", "x", 2, 1)]), {}, "appears more than once"),
        (frame([("a", "x", 1, -1)]), {}, "cost must not be negative"),
        (frame([("a", "x", float("nan"), 1)]), {}, "finite number"),
        (frame([("a", "x", 1, 1)]), {"budget": -1}, "budget"),
        (frame([("a", "x", 1, 1)]), {"max_per_customer": 0}, "at least 1"),
        (frame([("a", "x", 1, 1)]), {"caps": {"y": 1}}, "no candidates"),
        (
            frame([("a", "x", 1, 1)]),
            {"consent": pd.DataFrame({"customer_id": ["a"], "channel": ["email"]})},
            "offer_channels",
        ),
    ],
)
def test_bad_input_is_refused(
    cands: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        allocate(cands, **kwargs)  # type: ignore[arg-type]
