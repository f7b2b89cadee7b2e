"""The same import and build on PySpark and on DuckDB give identical tables.

Kept to one small slice of real households: starting Spark and reading the
promotions file dominate the cost (about a minute on two cores).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopkeeper.collect import import_completejourney
from shopkeeper.pipeline import STAGES
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

from .conftest import duckdb_url, sorted_frame

SLICE = 200  # households whose id is divisible by 200: 12 real households
DERIVED = (
    "identifiers",
    "identity_map",
    "profiles_rfm",
    "profiles_departments",
    "profiles_features",
    "profiles_affinities",
    "profiles_promotions",
    "profiles_life_stage",
    "profiles_demographics",
    "profiles_churn",
    "recommend_personal_top",
)


def _build(wh: Warehouse, settings: Settings) -> None:
    import_completejourney(wh, sample=SLICE)
    run_build(wh, STAGES, settings=settings)


@pytest.mark.spark
def test_profiles_are_identical_on_spark_and_duckdb(
    tmp_path: Path, spark_root: Path
) -> None:
    settings = Settings(spark_warehouse_dir=str(spark_root), spark_shuffle_partitions=1)
    spark = connect("pyspark://local[1]", settings=settings)
    duck = connect(duckdb_url(tmp_path / "duck.duckdb"), settings=settings)
    _build(spark, settings)
    _build(duck, settings)
    assert duck.count("profiles_rfm") == 12
    for table in ("orders", "order_lines", *DERIVED):
        pd.testing.assert_frame_equal(
            sorted_frame(spark, table),
            sorted_frame(duck, table),
            check_dtype=False,
            obj=table,
        )
    scores = sorted_frame(duck, "profiles_rfm")
    assert scores.r_score.nunique() > 1  # the slice exercises the scoring
    # A new session finds the tables Spark stored (they are Parquet folders).
    spark.close()
    reopened = connect("pyspark://local[1]", settings=settings)
    assert reopened.count("profiles_rfm") == 12
    duck.close()
