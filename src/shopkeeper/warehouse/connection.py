"""Turn a warehouse URL into a connected Warehouse."""

from __future__ import annotations

from shopkeeper.errors import ConfigError
from shopkeeper.settings import Settings
from shopkeeper.warehouse.core import Warehouse

__all__ = ["connect"]


def connect(
    url: str | None = None,
    *,
    settings: Settings | None = None,
    read_only: bool = False,
    debug: bool = False,
) -> Warehouse:
    """Open the warehouse at ``url`` (default: ``settings.warehouse``).

    ``duckdb:///relative.duckdb``, ``duckdb:////abs/path.duckdb`` or
    ``duckdb:///:memory:`` open DuckDB; ``pyspark://local[*]`` or
    ``pyspark://spark://host:7077`` build a SparkSession for that master.
    Engines other than DuckDB are imported only when asked for.
    """
    settings = settings or Settings()
    url = url or settings.warehouse
    if url.startswith("duckdb://"):
        from shopkeeper.warehouse._duckdb import DuckDBEngine

        path = url.removeprefix("duckdb://")
        path = path.removeprefix("/") if path != "/:memory:" else ":memory:"
        if not path:
            raise ConfigError(f"warehouse URL {url!r} names no file")
        return Warehouse(DuckDBEngine(path, read_only=read_only), url, debug=debug)
    if url.startswith("pyspark://"):
        from shopkeeper.warehouse._spark import SparkEngine

        master = url.removeprefix("pyspark://") or "local[*]"
        engine = SparkEngine(
            master,
            warehouse_dir=settings.spark_warehouse_dir,
            shuffle_partitions=settings.spark_shuffle_partitions,
        )
        return Warehouse(engine, url, debug=debug)
    raise ConfigError(
        f"unsupported warehouse URL {url!r}",
        hint="use duckdb:///path/file.duckdb or pyspark://local[*]",
    )
