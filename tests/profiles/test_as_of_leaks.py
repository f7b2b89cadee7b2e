"""Profiles as of a date leak nothing from after it.

The same real slice is built as of a date twice: once with every later order
present (the future), once from a copy where those orders were deleted. Every
profiles table, models included, must come out identical.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import ibis
import pandas as pd

from shopkeeper import model
from shopkeeper.pipeline import STAGES
from shopkeeper.profiles import STAGE, default_as_of
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

from ..conftest import duckdb_url, sorted_frame


def _cut(wh: Warehouse, as_of: dt.date) -> None:
    """Delete every order on or after ``as_of`` and its lines."""
    orders = wh.table("orders")
    before = orders.ordered_at < ibis.literal(as_of).cast("timestamp")
    past = wh.checkpoint(orders.filter(before), "_tmp_test_orders")
    lines = wh.table("order_lines")
    kept = wh.checkpoint(lines.semi_join(past, "order_id"), "_tmp_test_lines")
    wh.write(model.ORDERS, past)
    wh.write(model.ORDER_LINES, kept)


def test_profiles_as_of_a_date_ignore_later_orders(
    built_path: Path, tmp_path: Path
) -> None:
    with connect(duckdb_url(built_path), read_only=True) as wh:
        as_of = default_as_of(wh) - dt.timedelta(days=120)
    frames = {}
    for name, cut in (("future", False), ("past", True)):
        path = tmp_path / f"{name}.duckdb"
        shutil.copy(built_path, path)
        with connect(duckdb_url(path)) as wh:
            if cut:
                _cut(wh, as_of)
                assert wh.execute(wh.table("orders").ordered_at.max()) < pd.Timestamp(
                    as_of
                )
            run_build(wh, STAGES, ["profiles"], settings=Settings(), as_of=as_of)
            frames[name] = {t: sorted_frame(wh, t) for t in STAGE.output_names}
    for table in STAGE.output_names:
        future, past = frames["future"][table], frames["past"][table]
        assert len(past) > 0, table
        assert list(future.columns) == list(past.columns), table
        for column in past.columns:
            _same(future[column], past[column], f"{table}.{column}")
        if "as_of" in past.columns:
            assert (past.as_of == pd.Timestamp(as_of)).all(), table


def _same(future: pd.Series, past: pd.Series, name: str) -> None:
    if not pd.api.types.is_float_dtype(past):
        assert future.equals(past), name
        return
    # A mean rounded to cents can land one cent apart between two builds: the
    # engine's parallel float sums differ in the last bits. Anything the
    # future could change moves by far more.
    tolerance = 0.0101 if name.rsplit(".", 1)[1] in _CENTS else 1e-9
    assert future.isna().equals(past.isna()), name
    assert (future - past).abs().max() <= tolerance, name


_CENTS = {"avg_basket_value", "avg_basket_units", "avg_basket_items", "monetary"}
