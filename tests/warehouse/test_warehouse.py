"""The Warehouse contract on a real DuckDB file."""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from shopkeeper import model
from shopkeeper.errors import ConfigError, EngineError, InvalidInput, NotFound
from shopkeeper.warehouse import Warehouse, connect

SRC = Path(__file__).parents[2] / "src" / "shopkeeper"


def test_create_tables_from_the_model(wh: Warehouse) -> None:
    created = wh.create_tables()
    assert set(created) == set(model.TABLES)
    assert wh.create_tables() == []
    for name, spec in model.TABLES.items():
        assert wh.table(name).columns == tuple(spec.columns)


def test_write_conforms_to_the_spec(wh: Warehouse) -> None:
    data = pa.table({"store_id": ["1", "2"], "extra": [1, 2], "latitude": [1, 2]})
    staged = wh.stage_arrow("_tmp_stores", data)
    with pytest.raises(InvalidInput, match="missing columns"):
        wh.write(model.STORES, staged)
    staged = staged.mutate(
        name=ibis.literal("x"),
        city=ibis.null("string"),
        postal_code=ibis.null("string"),
        longitude=ibis.null("float64"),
    )
    table = wh.write(model.STORES, staged)
    assert table.columns == tuple(model.STORES.columns)
    assert table.schema()["latitude"].is_floating()
    assert wh.count("stores") == 2


def test_a_table_from_an_older_version_gets_the_new_columns(wh: Warehouse) -> None:
    """A stored table without a column its spec declares now (as exposures
    gained candidates and base_rank) gets it, null, and keeps its rows."""
    old_columns = {
        k: v
        for k, v in model.EXPOSURES.columns.items()
        if k not in ("candidates", "base_rank")
    }
    old = model.TableSpec(
        name="exposures", doc="as it was", columns=old_columns, key=("exposure_id",)
    )
    row = {k: None for k in old_columns} | {
        "exposure_id": "x1",
        "decision_id": "d1",
        "identifier": "user:1",
        "channel": "web",
        "item_id": "p1",
    }
    staged = wh.stage_arrow(
        "_tmp_old", pa.Table.from_pylist([row], schema=old.schema.to_pyarrow())
    )
    wh.write(old, staged)
    assert "candidates" not in wh.table("exposures").columns
    wh.create_tables([model.EXPOSURES])
    stored = wh.execute(wh.table("exposures"))
    assert list(stored.columns) == list(model.EXPOSURES.columns)
    assert stored.exposure_id.tolist() == ["x1"]
    assert stored.candidates.isna().all() and stored.base_rank.isna().all()


def test_upsert_is_idempotent_and_replaces_changed_rows(wh: Warehouse) -> None:
    first = wh.stage_arrow(
        "_tmp_a",
        pa.table(
            {
                "campaign_id": ["1", "2"],
                "identifier": ["household:1"] * 2,
                "member_group": ["treatment", "holdout"],
            }
        ),
    )
    assert wh.upsert(model.CAMPAIGN_MEMBERS, first).inserted == 2
    again = wh.upsert(model.CAMPAIGN_MEMBERS, first)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    changed = wh.stage_arrow(
        "_tmp_b",
        pa.table(
            {
                "campaign_id": ["2", "3"],
                "identifier": ["household:1"] * 2,
                "member_group": ["treatment", "treatment"],
            }
        ),
    )
    result = wh.upsert(model.CAMPAIGN_MEMBERS, changed)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    rows = wh.execute(wh.table("campaign_members").order_by("campaign_id"))
    assert rows.member_group.tolist() == ["treatment", "treatment", "treatment"]


def test_engine_errors_name_the_table_and_the_sql(wh: Warehouse) -> None:
    staged = wh.stage_arrow("_tmp_bad", pa.table({"x": ["not a number"]}))
    with pytest.raises(EngineError) as info:
        wh.checkpoint(staged.mutate(y=staged.x.cast("int64")), "_tmp_cast")
    assert info.value.table == "_tmp_cast"
    assert "SELECT" in info.value.sql and "CAST" in info.value.sql
    assert "_tmp_cast" in str(info.value) and "compiled SQL" in str(info.value)


def test_missing_table_says_how_to_get_it(wh: Warehouse) -> None:
    with pytest.raises(NotFound) as info:
        wh.table("profiles_rfm")
    assert "shopkeeper build profiles" in (info.value.hint or "")


def test_transaction_rolls_back_every_write(wh: Warehouse) -> None:
    wh.create_tables([model.STORES])
    rows = wh.stage_arrow("_tmp_s", pa.table({"store_id": ["9"]}))
    rows = rows.mutate(
        name=ibis.null("string"),
        city=ibis.null("string"),
        postal_code=ibis.null("string"),
        latitude=ibis.null("float64"),
        longitude=ibis.null("float64"),
    )
    with pytest.raises(RuntimeError), wh.transaction():
        wh.append(model.STORES, rows)
        assert wh.count("stores") == 1
        raise RuntimeError("interrupted")
    assert wh.count("stores") == 0


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db", "duckdb://", "postgres://localhost/db"]
)
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        connect(url)


def test_only_the_warehouse_imports_engines() -> None:
    """Stages talk Ibis; only the two adapters may import duckdb or pyspark."""
    allowed = {SRC / "warehouse" / "_duckdb.py", SRC / "warehouse" / "_spark.py"}
    pattern = re.compile(r"^\s*(import|from)\s+(duckdb|pyspark)\b", re.M)
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p not in allowed and pattern.search(p.read_text())
    ]
    assert offenders == []
