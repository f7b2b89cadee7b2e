"""The identity graph gives the same map on PySpark and DuckDB.

A chain of 40 links (loyalty cards handed on, as a card-replacement log would
record them) needs several rounds of label propagation, so identical maps
show the iteration converges the same way on both engines. Events are
generated: the real data has no web or app events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shopkeeper.identity import build_identity
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url, sorted_frame
from .events import add_customers, add_events, event

CHAIN = 40


def _fill(wh: Warehouse, events: list[dict[str, Any]]) -> None:
    # Card i was replaced by card i+1; the smallest identifier sits at the far
    # end, so its label has to travel the whole chain.
    add_customers(
        wh,
        [
            {"customer_ref": f"loyalty:c{CHAIN - i:03d}",
             "loyalty_card": f"c{CHAIN - i - 1:03d}", "source": "cards.csv"}
            for i in range(CHAIN)
        ],
    )  # fmt: skip
    add_events(wh, events)


def _events() -> list[dict[str, Any]]:
    # A kiosk shared by two users, a loyalty card in externalIds, a blocked id.
    return [
        event("identify", "2024-01-01T08:00:00", user="u1", anon="kiosk",
              context={"externalIds": [{"id": "c040", "type": "loyalty"}]}),
        event("identify", "2024-01-02T08:00:00", user="u2", anon="kiosk",
              traits={"email": "u2@mail.com"}),
        event("identify", "2024-01-03T08:00:00", user="null", anon="x"),
    ]  # fmt: skip


@pytest.mark.spark
def test_identity_map_is_identical_on_spark_and_duckdb(
    tmp_path: Path, spark_root: Path
) -> None:
    settings = Settings(
        spark_warehouse_dir=str(spark_root / "identity"), spark_shuffle_partitions=1
    )
    # The session is shared with other Spark tests: forget their temp views.
    connect("pyspark://local[1]", settings=settings).close()
    spark = connect("pyspark://local[1]", settings=settings)
    duck = connect(duckdb_url(tmp_path / "duck.duckdb"), settings=settings)
    events = _events()  # once: both engines get the same message ids
    for wh in (spark, duck):
        _fill(wh, events)
        build_identity(wh, settings)
    ids = sorted_frame(duck, "identity_map")
    chain = ids[ids.identifier.str.startswith("loyalty:")]
    assert len(chain) == CHAIN + 1
    assert chain.customer_id.nunique() == 1
    for table in ("identity_map", "identity_links", "identity_refused_links"):
        pd.testing.assert_frame_equal(
            sorted_frame(spark, table),
            sorted_frame(duck, table),
            check_dtype=False,
            obj=table,
        )
    spark.close()
    duck.close()
