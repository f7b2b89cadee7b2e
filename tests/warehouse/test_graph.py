"""The build graph: ordering, missing inputs and rerunnable stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopkeeper.errors import InvalidInput, NotFound
from shopkeeper.pipeline import STAGES
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Stage, Warehouse, connect, plan, run_build

from ..conftest import duckdb_url, snapshot


def test_plan_orders_by_declared_tables() -> None:
    order = [s.name for s in plan(list(reversed(STAGES)))]
    assert order[0] == "identity"  # every later stage reads identity_map
    assert order.index("profiles") < order.index("segments")  # segments read profiles
    assert sorted(order[1:]) == ["insights", "profiles", "recommend", "segments"]
    assert [s.name for s in plan(STAGES, ["recommend", "identity"])] == [
        "identity",
        "recommend",
    ]


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown stage"):
        plan(STAGES, ["nope"])


def test_cycles_are_refused() -> None:
    from shopkeeper.model import TableSpec

    ta = TableSpec("t_a", {"x": "int64"}, ("x",), "")
    tb = TableSpec("t_b", {"x": "int64"}, ("x",), "")
    a = Stage("a", ("t_b",), (ta,), lambda ctx: None, "")
    b = Stage("b", ("t_a",), (tb,), lambda ctx: None, "")
    with pytest.raises(InvalidInput, match="depends on itself"):
        plan([a, b])


def test_missing_inputs_fail_before_any_work(wh: Warehouse, settings: Settings) -> None:
    with pytest.raises(NotFound, match="orders") as info:
        run_build(wh, STAGES, settings=settings)
    assert "shopkeeper import" in (info.value.hint or "")
    assert wh.tables() == []


def test_building_twice_gives_identical_tables(
    built_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(built_path.read_bytes())
    wh = connect(duckdb_url(copy))
    before = snapshot(wh)
    results = run_build(wh, STAGES, settings=Settings())
    after = snapshot(wh)
    wh.close()
    assert [r.stage for r in results] == [s.name for s in plan(STAGES)]
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].equals(after[name]), name
