"""What uplift runs and offer plans record: scores, curves, per-offer plan totals."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = [
    "OFFERS_PLANS",
    "OFFERS_PLAN_OFFERS",
    "OFFERS_POLICY_VALUES",
    "OFFERS_UPLIFT_CURVES",
    "OFFERS_UPLIFT_RUNS",
]

OFFERS_UPLIFT_RUNS = TableSpec(
    name="offers_uplift_runs",
    doc=(
        "One row per learner of an uplift evaluation run (`shopkeeper offers "
        "evaluate-uplift`): its Qini coefficient and AUUC on the held-out split "
        "with bootstrap intervals, so the dashboard shows what was measured "
        "without refitting models. Runs accumulate; the latest per outcome is "
        "the one shown."
    ),
    columns={
        "run_id": "string",
        "run_at": "timestamp",
        "dataset": "string",
        "sample": "float64",
        "outcome": "string",
        "learner": "string",
        "chosen": "boolean",
        "cv_qini": "float64",
        "qini": "float64",
        "qini_low": "float64",
        "qini_high": "float64",
        "auuc": "float64",
        "auuc_low": "float64",
        "auuc_high": "float64",
        "n_train": "int64",
        "n_test": "int64",
        "n_boot": "int64",
        "folds": "int64",
        "seed": "int64",
    },
    key=("run_id", "learner"),
    required=("run_at", "dataset", "sample", "outcome", "chosen", "n_train", "n_test"),
    stage="offers",
)

OFFERS_UPLIFT_CURVES = TableSpec(
    name="offers_uplift_curves",
    doc=(
        "Qini and uplift curves of each learner of a run, per offer against the "
        "control, downsampled to evenly spaced shares of the held-out customers "
        "targeted (x, 0..1) with the gain there (y, outcome units); the full "
        "curves need every customer's score, which is not kept."
    ),
    columns={
        "run_id": "string",
        "outcome": "string",
        "learner": "string",
        "offer": "string",
        "curve": "string",
        "point": "int64",
        "x": "float64",
        "y": "float64",
    },
    key=("run_id", "learner", "offer", "curve", "point"),
    required=("outcome", "x", "y"),
    stage="offers",
)

OFFERS_POLICY_VALUES = TableSpec(
    name="offers_policy_values",
    doc=(
        "IPS value per customer of each targeting policy in a run (the chosen "
        "learner's uplift policy and every 'everyone gets arm a'), with its "
        "bootstrap interval, estimated on the held-out split."
    ),
    columns={
        "run_id": "string",
        "outcome": "string",
        "policy": "string",
        "value": "float64",
        "low": "float64",
        "high": "float64",
    },
    key=("run_id", "policy"),
    required=("outcome", "value"),
    stage="offers",
)

OFFERS_PLANS = TableSpec(
    name="offers_plans",
    doc=(
        "One row per budgeted next-best-offer plan (`shopkeeper offers plan`): "
        "the budget and what the plan spends, its expected incremental margin, "
        "customers reached and offers sent, so the dashboard shows the latest "
        "plan. Which customer gets which offer is written only to the CSV the "
        "command was asked for; no customer data is copied here."
    ),
    columns={
        "plan_id": "string",
        "planned_at": "timestamp",
        "budget": "float64",
        "spent": "float64",
        "expected_incremental_margin": "float64",
        "customers": "int64",
        "assignments": "int64",
        "max_per_customer": "int64",
        "source": "string",
    },
    key=("plan_id",),
    required=(
        "planned_at",
        "spent",
        "expected_incremental_margin",
        "customers",
        "assignments",
        "max_per_customer",
    ),
    stage="offers",
)

OFFERS_PLAN_OFFERS = TableSpec(
    name="offers_plan_offers",
    doc=(
        "Per-offer summary of a kept plan: its channel (when given), customers "
        "assigned, cap, total cost and expected incremental margin. Aggregates "
        "only, with no per-customer rows."
    ),
    columns={
        "plan_id": "string",
        "offer_id": "string",
        "channel": "string",
        "assigned": "int64",
        "cap": "int64",
        "cost": "float64",
        "expected_incremental_margin": "float64",
    },
    key=("plan_id", "offer_id"),
    required=("assigned", "cost", "expected_incremental_margin"),
    stage="offers",
)
