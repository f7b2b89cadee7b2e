"""What measurement records: the holdout each campaign or placement reserved."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["MEASURE_HOLDOUTS"]

MEASURE_HOLDOUTS = TableSpec(
    name="measure_holdouts",
    doc=(
        "The holdout share a campaign (or decision placement) reserved, the hash "
        "rule that drew it, and how many members fell on each side, so a readout "
        "can check the split it actually got against the one it asked for."
    ),
    columns={
        "campaign_id": "string",
        "share": "float64",
        "rule": "string",
        "members": "int64",
        "holdout": "int64",
        "assigned_at": "timestamp",
    },
    key=("campaign_id",),
    required=("share", "rule", "members", "holdout", "assigned_at"),
    stage="measure",
)
