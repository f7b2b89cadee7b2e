"""Tables the segments stages keep: definitions, members over time, and the
basket rules merchandisers read."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["INSIGHTS_RULES", "SEGMENTS_DEFINITIONS", "SEGMENTS_MEMBERS"]

SEGMENTS_DEFINITIONS = TableSpec(
    name="segments_definitions",
    doc=(
        "Append-only: every version of every segment definition, as written, "
        "with its description and when it was created. The latest version of "
        "a name is the one that is built."
    ),
    columns={
        "name": "string",
        "version": "int32",
        "definition": "string",
        "description": "string",
        "created_at": "timestamp",
    },
    key=("name", "version"),
    required=("definition", "created_at"),
    stage="segments",
)

SEGMENTS_MEMBERS = TableSpec(
    name="segments_members",
    doc=(
        "Segment membership over time: a customer entered a segment (under one "
        "version of its definition) at entered_at and left it at exited_at "
        "(null while still a member). A rebuild closes and opens rows, never "
        "rewrites them, so every change stays auditable."
    ),
    columns={
        "segment": "string",
        "version": "int32",
        "customer_id": "string",
        "entered_at": "timestamp",
        "exited_at": "timestamp",
    },
    key=("segment", "version", "customer_id", "entered_at"),
    subject="customer_id",
    stage="segments",
)

INSIGHTS_RULES = TableSpec(
    name="insights_category_rules",
    doc=(
        "Association rules between product categories over baskets before "
        "as_of: support, confidence and lift of antecedent -> consequent, "
        "for pairs in at least min_support of baskets."
    ),
    columns={
        "antecedent": "string",
        "consequent": "string",
        "baskets": "int64",
        "support": "float64",
        "confidence": "float64",
        "lift": "float64",
        "min_support": "float64",
        "as_of": "date",
    },
    key=("antecedent", "consequent"),
    stage="insights",
)
