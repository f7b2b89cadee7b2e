"""The few things an engine adapter must do; everything else is Ibis."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import ibis.expr.schema as sch
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

__all__ = ["Engine"]


class Engine(Protocol):
    """An Ibis backend plus the storage verbs Ibis leaves to each engine.

    Kept this small on purpose (Splink's DatabaseAPI has four methods): stage
    logic is Ibis, and only how tables are stored differs between engines.
    """

    name: str
    backend: BaseBackend
    errors: tuple[type[BaseException], ...]

    def compile(self, expr: ir.Expr) -> str: ...

    def list_tables(self) -> list[str]: ...

    def read_parquet(self, path: str) -> ir.Table: ...

    def register_arrow(self, name: str, data: pa.Table) -> ir.Table: ...

    def create_table(
        self, name: str, expr: ir.Table | None, schema: sch.Schema, *, temp: bool
    ) -> None: ...

    def insert(self, name: str, expr: ir.Table) -> None: ...

    def drop(self, name: str) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...
