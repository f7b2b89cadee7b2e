"""Tables the segments stage keeps: definitions and their members over time."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["SEGMENTS_DEFINITIONS", "SEGMENTS_MEMBERS"]

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
