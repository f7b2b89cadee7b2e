"""The Spark engine: tables as versioned Parquet folders, seen through temp views.

Spark's default catalog forgets tables when the session ends, and overwriting a
table that the same query reads is refused. So each table is written to a new
folder ``<dir>/<name>/v<n>``, a temp view is pointed at it, and older versions
are removed; a new session re-registers the newest version of every table.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis
import ibis.expr.schema as sch
import ibis.expr.types as ir
import pyarrow as pa
from ibis.common.exceptions import IbisError

from shopkeeper.errors import MissingDependency

__all__ = ["SparkEngine", "spark_session"]


def spark_session(master: str, *, shuffle_partitions: int, checkpoint_dir: str):
    """Build the SparkSession Shopkeeper owns for ``master``, or reuse it.

    Spark allows one active context per process and ``getOrCreate`` returns
    it, so a second connect costs nothing. Configured as Splink does for small
    local work: UI off, UTC, one log level.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the install
        raise MissingDependency("PySpark", "spark") from None
    if master.startswith("local"):
        # Bind to loopback: a local session needs no network, and this skips
        # Spark's hostname lookup warning.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master(master)
        .appName("shopkeeper")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(checkpoint_dir)
    return session


class SparkEngine:
    """Spark through Ibis's pyspark backend over a session we configured."""

    name = "pyspark"

    def __init__(self, master: str, *, warehouse_dir: str, shuffle_partitions: int):
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        self.errors: tuple[type[BaseException], ...] = (
            PySparkException,
            Py4JError,
            IbisError,
        )
        self.root = Path(warehouse_dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.session = spark_session(
            master,
            shuffle_partitions=shuffle_partitions,
            checkpoint_dir=str(self.root / "_checkpoints"),
        )
        self.backend = ibis.pyspark.connect(self.session)
        self._counter = 0
        self._register_existing()

    # -- storage ---------------------------------------------------------
    def _versions(self, name: str) -> list[Path]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if p.name.startswith("v") and p.is_dir()]
        return sorted(found, key=lambda p: int(p.name[1:]))

    def _register_existing(self) -> None:
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith("_") or not folder.is_dir():
                continue
            versions = self._versions(folder.name)
            if versions:
                self._point(folder.name, versions[-1])

    def _point(self, name: str, path: Path) -> None:
        self.session.read.parquet(str(path)).createOrReplaceTempView(name)

    def _frame(self, expr: ir.Table):
        return self.session.sql(self.compile(expr))

    def _empty_frame(self, schema: sch.Schema):
        from ibis.backends.pyspark.datatypes import PySparkSchema

        return self.session.createDataFrame([], PySparkSchema.from_ibis(schema))

    # -- Engine protocol -------------------------------------------------
    def compile(self, expr: ir.Expr) -> str:
        return str(self.backend.compile(expr))

    def list_tables(self) -> list[str]:
        return sorted(
            t.name for t in self.session.catalog.listTables() if t.isTemporary
        )

    def read_parquet(self, path: str) -> ir.Table:
        self._counter += 1
        name = f"_tmp_parquet_{self._counter}"
        self.session.read.parquet(str(path)).createOrReplaceTempView(name)
        return self.backend.table(name)

    def register_arrow(self, name: str, data: pa.Table) -> ir.Table:
        self.session.createDataFrame(data).createOrReplaceTempView(name)
        return self.backend.table(name)

    def create_table(
        self, name: str, expr: ir.Table | None, schema: sch.Schema, *, temp: bool
    ) -> None:
        frame = self._empty_frame(schema) if expr is None else self._frame(expr)
        if temp:
            frame.checkpoint(eager=True).createOrReplaceTempView(name)
            return
        old = self._versions(name)
        number = int(old[-1].name[1:]) + 1 if old else 1
        target = self.root / name / f"v{number}"
        frame.write.mode("overwrite").parquet(str(target))
        self._point(name, target)
        for path in old:
            shutil.rmtree(path, ignore_errors=True)

    def insert(self, name: str, expr: ir.Table) -> None:
        versions = self._versions(name)
        if not versions:
            raise ValueError(f"table {name} has no stored version to insert into")
        columns = self.backend.table(name).columns
        frame = self._frame(expr).select(*columns).checkpoint(eager=True)
        frame.write.mode("append").parquet(str(versions[-1]))
        self._point(name, versions[-1])

    def drop(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        shutil.rmtree(self.root / name, ignore_errors=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Spark has no multi-table transaction; imports validate everything
        # before the first write, so a refused import still writes nothing.
        yield

    def close(self) -> None:
        for table in self.session.catalog.listTables():
            if table.isTemporary:
                self.session.catalog.dropTempView(table.name)
