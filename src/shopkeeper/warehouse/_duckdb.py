"""The embedded DuckDB engine: one file, real transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import ibis
import ibis.expr.schema as sch
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.common.exceptions import IbisError

from shopkeeper.errors import Unavailable

__all__ = ["DuckDBEngine"]


def _quote(name: str) -> str:
    return sg.to_identifier(name, quoted=True).sql("duckdb")


class DuckDBEngine:
    """Tables live in one DuckDB file; writes run as plain SQL so they can share
    one transaction (Ibis's own create_table issues several statements)."""

    name = "duckdb"
    errors: tuple[type[BaseException], ...] = (duckdb.Error, IbisError)

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.backend = ibis.duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            # One process may write a DuckDB file at a time; say so plainly,
            # as a retryable condition rather than a crash.
            pid = re.search(r"\(PID (\d+)\)", str(exc))
            holder = f" (PID {pid.group(1)})" if pid else ""
            raise Unavailable(
                f"the warehouse {path} is in use by another process{holder}; "
                "try again when it finishes",
                retry_after=2,
            ) from None
        except (duckdb.BinderException, duckdb.ConnectionException) as exc:
            text = str(exc)
            if "already attached" not in text and "different configuration" not in text:
                raise
            # The same process holds the file open in another mode (the
            # server's loader thread writing while a request reads).
            raise Unavailable(
                f"the warehouse {path} is busy in this process; try again shortly",
                retry_after=1,
            ) from None
        self._raw = self.backend.con
        self._raw.execute("SET TimeZone = 'UTC'")
        # DuckDB draws its own progress bar on stdout; the CLI owns the screen.
        self._raw.execute("SET enable_progress_bar = false")

    def compile(self, expr: ir.Expr) -> str:
        return str(self.backend.compile(expr))

    def list_tables(self) -> list[str]:
        return sorted(self.backend.list_tables())

    def read_parquet(self, path: str) -> ir.Table:
        literal = sge.Literal.string(str(path)).sql("duckdb")
        return self.backend.sql(f"SELECT * FROM read_parquet({literal})")

    def register_arrow(self, name: str, data: pa.Table) -> ir.Table:
        self._raw.register(f"_arrow_{name}", data)
        self._raw.execute(
            f"CREATE OR REPLACE TEMP TABLE {_quote(name)} AS "
            f"SELECT * FROM {_quote('_arrow_' + name)}"
        )
        self._raw.unregister(f"_arrow_{name}")
        return self.backend.table(name)

    def create_table(
        self, name: str, expr: ir.Table | None, schema: sch.Schema, *, temp: bool
    ) -> None:
        kind = "TEMP TABLE" if temp else "TABLE"
        if expr is None:
            columns = ", ".join(
                c.sql("duckdb") for c in schema.to_sqlglot_column_defs("duckdb")
            )
            self._raw.execute(f"CREATE OR REPLACE {kind} {_quote(name)} ({columns})")
        else:
            sql = self.compile(expr)
            self._raw.execute(f"CREATE OR REPLACE {kind} {_quote(name)} AS {sql}")

    def insert(self, name: str, expr: ir.Table) -> None:
        self._raw.execute(f"INSERT INTO {_quote(name)} BY NAME {self.compile(expr)}")

    def drop(self, name: str) -> None:
        self._raw.execute(f"DROP TABLE IF EXISTS {_quote(name)}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._raw.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._raw.execute("ROLLBACK")
            raise
        else:
            self._raw.execute("COMMIT")

    def close(self) -> None:
        self.backend.disconnect()
