"""Offers: who to send which offer, judged by what it *adds*, within a budget.

Uplift learners estimate each offer's incremental effect per customer from
randomized data; metrics score their rankings with Qini and uplift curves; the
allocator picks at most K offers per customer to maximize incremental margin
under a budget, per-offer caps and consent; policy values are estimated from
a randomized test without bias. Hillstrom's e-mail experiment is the bundled
real benchmark; its evaluation runs, and each plan's per-offer totals, are
kept in the warehouse for the dashboard.
"""

from __future__ import annotations

from shopkeeper.offers.allocate import Plan, allocate, greedy
from shopkeeper.offers.hillstrom import (
    Experiment,
    hashed_sample,
    hillstrom_experiment,
    load_hillstrom,
    split,
)
from shopkeeper.offers.metrics import (
    Interval,
    UpliftEvaluation,
    auuc,
    evaluate_uplift,
    qini_coefficient,
    qini_curve,
    uplift_curve,
)
from shopkeeper.offers.plan_runs import latest_plan, record_plan
from shopkeeper.offers.policy import PolicyValues, best_offer_policy, policy_values
from shopkeeper.offers.uplift import (
    DEFAULT_LEARNER,
    LEARNERS,
    UpliftLearner,
    make_learner,
)
from shopkeeper.offers.uplift_runs import (
    evaluate_hillstrom,
    latest_runs,
    record_comparison,
)

__all__ = [
    "DEFAULT_LEARNER",
    "LEARNERS",
    "Experiment",
    "Interval",
    "Plan",
    "PolicyValues",
    "UpliftEvaluation",
    "UpliftLearner",
    "allocate",
    "auuc",
    "best_offer_policy",
    "evaluate_hillstrom",
    "evaluate_uplift",
    "greedy",
    "hashed_sample",
    "hillstrom_experiment",
    "latest_plan",
    "latest_runs",
    "load_hillstrom",
    "make_learner",
    "policy_values",
    "qini_coefficient",
    "qini_curve",
    "record_comparison",
    "record_plan",
    "split",
    "uplift_curve",
]
