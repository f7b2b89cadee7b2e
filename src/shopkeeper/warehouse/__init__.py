"""The engine: one Warehouse over DuckDB (default) or Spark, and the build graph."""

from __future__ import annotations

from shopkeeper.warehouse.connection import connect
from shopkeeper.warehouse.core import UpsertResult, Warehouse
from shopkeeper.warehouse.graph import (
    BuildContext,
    Progress,
    Stage,
    StageResult,
    plan,
    run_build,
)

__all__ = [
    "BuildContext",
    "Progress",
    "Stage",
    "StageResult",
    "UpsertResult",
    "Warehouse",
    "connect",
    "plan",
    "run_build",
]
