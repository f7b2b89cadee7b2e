"""Importing The Complete Journey: exact counts, exact money, idempotent, atomic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shopkeeper.collect import import_completejourney
from shopkeeper.collect.completejourney import SOURCE_TABLES, source_path
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url, snapshot

# canonical table <- source table it must match row for row
SAME_ROWS = {
    "order_lines": "transactions",
    "products": "products",
    "households": "demographics",
    "campaign_members": "campaigns",
    "campaigns": "campaign_descriptions",
    "coupon_redemptions": "coupon_redemptions",
    "promotions": "promotions",
}


def source(table: str):
    with source_path(table) as path:
        return pq.read_table(path)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The whole data set, imported once for this module (about 20 s)."""
    path = tmp_path_factory.mktemp("full") / "full.duckdb"
    wh = connect(duckdb_url(path))
    wh.first_report = import_completejourney(wh)  # type: ignore[attr-defined]
    yield wh
    wh.close()


def test_row_counts_equal_the_source(full: Warehouse) -> None:
    for table, src in SAME_ROWS.items():
        assert full.count(table) == source(src).num_rows, table
    tx = source("transactions")
    assert full.count("orders") == len(pc.unique(tx["basket_id"]))
    assert full.count("orders") == 155_848


def test_duplicate_coupon_rows_are_collapsed_and_reported(full: Warehouse) -> None:
    """The source repeats 4,872 coupon rows exactly; the link table is a set."""
    coupons = source("coupons")
    distinct = coupons.group_by(coupons.column_names).aggregate([]).num_rows
    assert full.count("coupons") == distinct == 111_332
    assert coupons.num_rows - distinct == 4_872
    assert any("4,872 exact duplicate" in n for n in full.first_report.notes)


def test_sales_value_total_to_the_cent(full: Warehouse) -> None:
    expected = pc.sum(source("transactions")["sales_value"]).as_py()
    got = full.execute(full.table("order_lines").sales_value.sum())
    assert round(got, 2) == round(expected, 2) == 4_596_039.58


def test_reimport_adds_nothing(full: Warehouse) -> None:
    before = {t: full.count(t) for t in full.tables()}
    report = import_completejourney(full)
    assert report.written == 0
    assert all(r.unchanged > 0 for r in report.results)
    assert {t: full.count(t) for t in full.tables()} == before


def test_interrupted_import_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    """Ctrl-C in the middle of the writes rolls the whole import back."""
    wh = connect(duckdb_url(tmp_path / "wh.duckdb"))
    import_completejourney(wh, sample=200)
    before = snapshot(wh)

    def interrupt(description: str, done: int, total: int) -> None:
        if description == "load order_lines":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_completejourney(wh, sample=40, progress=interrupt)
    assert snapshot(wh).keys() == before.keys()
    for name, table in snapshot(wh).items():
        assert table.equals(before[name]), name
    wh.close()


def test_every_source_table_is_read() -> None:
    assert len(SOURCE_TABLES) == 8
    for table in SOURCE_TABLES:
        assert source(table).num_rows > 0
