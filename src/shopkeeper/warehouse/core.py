"""The Warehouse: the one object through which stages read and write tables."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from shopkeeper.errors import EngineError, InvalidInput, NotFound
from shopkeeper.model import TABLES, TableSpec
from shopkeeper.warehouse.engine import Engine

__all__ = ["UpsertResult", "Warehouse", "hint_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpsertResult:
    """How an upsert changed a table: rows added, rows replaced, rows kept."""

    table: str
    inserted: int
    updated: int
    unchanged: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated


class Warehouse:
    """Named tables on one engine, created from the canonical model.

    Stages hand it Ibis expressions; it conforms them to the declared schema,
    materialises them, and turns engine failures into ``EngineError`` naming
    the table and the compiled SQL (Splink's lesson: the SQL is the first thing
    anyone debugging a pipeline asks for).
    """

    def __init__(self, engine: Engine, url: str, *, debug: bool = False) -> None:
        self.engine = engine
        self.url = url
        self.debug = debug

    # -- reading ---------------------------------------------------------
    @property
    def engine_name(self) -> str:
        return self.engine.name

    def tables(self) -> list[str]:
        """Stored tables, without intermediates."""
        return [t for t in self.engine.list_tables() if not t.startswith("_")]

    def exists(self, name: str) -> bool:
        return name in self.engine.list_tables()

    def table(self, name: str | TableSpec) -> ir.Table:
        name = name.name if isinstance(name, TableSpec) else name
        if not self.exists(name):
            raise NotFound(
                f"table {name!r} is not in the warehouse ({self.url})",
                hint=hint_for(name),
            )
        with self._errors(name, None):
            return self.engine.backend.table(name)

    def read_parquet(self, path: str) -> ir.Table:
        with self._errors(str(path), None):
            return self.engine.read_parquet(path)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        with self._errors(_name_of(expr), expr):
            return self.engine.backend.to_pyarrow(expr)

    def execute(self, expr: ir.Expr) -> Any:
        """Run ``expr`` and return a Python value (scalars) or pandas object."""
        with self._errors(_name_of(expr), expr):
            return self.engine.backend.execute(expr)

    def count(self, expr: ir.Table | str) -> int:
        table = self.table(expr) if isinstance(expr, str) else expr
        return int(self.execute(table.count()))

    def sql(self, expr: ir.Expr) -> str:
        """The SQL this engine runs for ``expr``."""
        return self.engine.compile(expr)

    # -- writing ---------------------------------------------------------
    def create_tables(self, specs: list[TableSpec] | None = None) -> list[str]:
        """Create every declared table that does not exist yet; returns them.

        A table stored by an older version that lacks columns the spec now
        declares gets them, empty (null), by rewriting it from itself: the
        one way every engine can add a column, and once per new column.
        """
        created = []
        for spec in specs if specs is not None else list(TABLES.values()):
            if not self.exists(spec.name):
                with self._errors(spec.name, None):
                    self.engine.create_table(spec.name, None, spec.schema, temp=False)
                created.append(spec.name)
                continue
            stored = self.table(spec.name)
            missing = [c for c in spec.columns if c not in stored.columns]
            if missing:
                log.info("adding column(s) %s to %s", missing, spec.name)
                self.write(
                    spec,
                    stored.mutate(
                        **{c: ibis.null().cast(spec.schema[c]) for c in missing}
                    ),
                )
        return created

    def conform(self, spec: TableSpec, expr: ir.Table) -> ir.Table:
        """Select the declared columns, in order, cast to the declared types."""
        missing = [c for c in spec.columns if c not in expr.columns]
        if missing:
            raise InvalidInput(
                f"cannot write table {spec.name!r}: missing columns {missing}"
            )
        return expr.select(
            [expr[c].cast(dtype).name(c) for c, dtype in spec.schema.items()]
        )

    def write(self, spec: TableSpec, expr: ir.Table) -> ir.Table:
        """Replace table ``spec.name`` with ``expr`` (conformed to the spec)."""
        conformed = self.conform(spec, expr)
        if self.debug:
            log.info("writing %s:\n%s", spec.name, self.sql(conformed))
        with self._errors(spec.name, conformed):
            self.engine.create_table(spec.name, conformed, spec.schema, temp=False)
        return self.table(spec.name)

    def append(self, spec: TableSpec, expr: ir.Table) -> None:
        """Add the rows of ``expr`` to ``spec.name``, creating it if needed."""
        self.create_tables([spec])
        conformed = self.conform(spec, expr)
        with self._errors(spec.name, conformed):
            self.engine.insert(spec.name, conformed)

    def insert_new(self, spec: TableSpec, staged: ir.Table) -> int:
        """Append the rows of ``staged`` whose key is not stored yet; return how many.

        The first copy of a key wins and is never rewritten: for events, a
        retried message must not replace what was already loaded. Unlike
        :meth:`upsert` this never rewrites the table, so it stays cheap as the
        table grows. ``staged`` must already have unique keys.
        """
        self.create_tables([spec])
        staged = self.conform(spec, staged)
        target = self.conform(spec, self.table(spec.name))
        fresh = self.checkpoint(
            staged.anti_join(target, list(spec.key)), f"_tmp_new_{spec.name}"
        )
        try:
            n_new = self.count(fresh)
            if n_new:
                self.append(spec, fresh)
            return n_new
        finally:
            self.drop_temp(f"_tmp_new_{spec.name}")

    def upsert(self, spec: TableSpec, staged: ir.Table) -> UpsertResult:
        """Make ``spec.name`` hold every row of ``staged``, keyed by ``spec.key``.

        Rows identical to stored ones change nothing, so loading the same data
        twice is a no-op; a row whose key exists with other values replaces it.
        ``staged`` must already have unique keys (importers check that first).
        """
        self.create_tables([spec])
        staged = self.conform(spec, staged)
        target = self.conform(spec, self.table(spec.name))
        stored = self.count(target)
        if stored == 0:
            staged_n = self.count(staged)
            self.append(spec, staged)
            return UpsertResult(spec.name, staged_n, 0, 0)
        changed = self.checkpoint(staged.difference(target), f"_tmp_upsert_{spec.name}")
        try:
            n_changed = self.count(changed)
            n_staged = self.count(staged)
            if n_changed == 0:
                return UpsertResult(spec.name, 0, 0, n_staged)
            key = list(spec.key)
            updated = self.count(changed.semi_join(target, key))
            merged = target.anti_join(changed, key).union(changed)
            merged = self.checkpoint(merged, f"_tmp_merged_{spec.name}")
            self.write(spec, merged)
            self.drop_temp(f"_tmp_merged_{spec.name}")
            return UpsertResult(
                spec.name, n_changed - updated, updated, n_staged - n_changed
            )
        finally:
            self.drop_temp(f"_tmp_upsert_{spec.name}")

    def checkpoint(self, expr: ir.Table, name: str) -> ir.Table:
        """Materialise ``expr`` as a temporary table: a deliberate stage break."""
        schema = expr.schema()
        with self._errors(name, expr):
            self.engine.create_table(name, expr, schema, temp=True)
            stored = self.engine.backend.table(name)
        # Engines may widen types on storage (timestamp -> timestamp(6)); give
        # back exactly the schema that went in so set operations line up.
        return stored if stored.schema() == schema else stored.cast(schema)

    def stage_arrow(self, name: str, data: pa.Table) -> ir.Table:
        """Make in-memory Arrow data (a parsed file) queryable as ``name``."""
        with self._errors(name, None):
            return self.engine.register_arrow(name, data)

    def drop_temp(self, name: str) -> None:
        """Drop an intermediate (``_tmp_*``) table; a missing one is fine."""
        with self._errors(name, None):
            self.engine.drop(name)

    def transaction(self) -> AbstractContextManager[None]:
        """All-or-nothing writes where the engine has transactions (DuckDB)."""
        return self.engine.transaction()

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({self.url!r})"

    @contextmanager
    def _errors(self, table: str, expr: ir.Expr | None) -> Iterator[None]:
        try:
            yield
        except self.engine.errors as exc:
            sql = None
            if expr is not None:
                try:
                    sql = self.sql(expr)
                except Exception:  # the SQL is a courtesy; never mask the cause
                    sql = None
            raise EngineError(table, sql, exc) from exc


def _name_of(expr: ir.Expr) -> str:
    try:
        return expr.get_name()
    except Exception:
        return "<query>"


def hint_for(name: str) -> str:
    """What to run to get table ``name``: the import or the stage that writes it."""
    spec = TABLES.get(name)
    if spec is None:
        return "run `shopkeeper tables` to see what the warehouse holds"
    if spec.stage == "collect":
        return "load data first, e.g. `shopkeeper import completejourney`"
    if spec.stage == "offers":
        return "run `shopkeeper offers evaluate-uplift`"
    return f"run `shopkeeper build {spec.stage}`"
