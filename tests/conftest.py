"""Shared fixtures: fresh DuckDB files, one real-data build, one Spark session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from shopkeeper.collect import import_completejourney
from shopkeeper.pipeline import STAGES
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

SAMPLE = 25
"""Households whose id is divisible by this form the shared real-data slice."""


def duckdb_url(path: Path) -> str:
    return f"duckdb:///{path}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        warehouse=duckdb_url(tmp_path / "wh.duckdb"),
        spark_warehouse_dir=str(tmp_path / "spark"),
    )


@pytest.fixture
def wh(settings: Settings) -> Iterator[Warehouse]:
    """A fresh, empty DuckDB warehouse file for one test."""
    warehouse = connect(settings=settings)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def built_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with a real slice of The Complete Journey, imported and built.

    Built once per run; tests open it read-only (``built``) or copy it.
    """
    path = tmp_path_factory.mktemp("built") / "cj.duckdb"
    warehouse = connect(duckdb_url(path), settings=Settings())
    import_completejourney(warehouse, sample=SAMPLE)
    run_build(warehouse, STAGES, settings=Settings())
    warehouse.close()
    return path


@pytest.fixture
def built(built_path: Path) -> Iterator[Warehouse]:
    warehouse = connect(duckdb_url(built_path), read_only=True)
    yield warehouse
    warehouse.close()


def sorted_frame(wh: Warehouse, table: str) -> pd.DataFrame:
    """A table as pandas, times in microseconds and rows sorted, so two engines'
    copies of one table compare equal exactly when their contents do."""
    frame = wh.execute(wh.table(table))
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def snapshot(warehouse: Warehouse) -> dict[str, pa.Table]:
    """Every table's full content, sorted, to prove a warehouse did not change."""
    tables = {}
    for name in warehouse.tables():
        data = warehouse.to_arrow(warehouse.table(name))
        keys = [(c, "ascending") for c in data.column_names]
        tables[name] = data.sort_by(keys) if data.num_rows else data
    return tables


@pytest.fixture(scope="session")
def spark_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the session's Spark tables (one SparkSession per run)."""
    pytest.importorskip("pyspark")
    return tmp_path_factory.mktemp("spark")


def busiest_households(wh: Warehouse, n: int = 1) -> list[str]:
    """The identifiers with the most orders (ties by identifier): real
    households with enough history for a test to see its effect."""
    orders = wh.table("orders")
    busiest = orders.group_by("identifier").agg(n=orders.count())
    top = busiest.order_by([busiest.n.desc(), busiest.identifier]).limit(n)
    return [str(i) for i in wh.execute(top).identifier]
