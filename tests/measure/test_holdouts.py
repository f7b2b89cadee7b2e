"""Holdout assignment: reproducible, the same on every engine, independent
across campaigns, and recorded in the warehouse."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from shopkeeper.errors import Conflict, InvalidInput, NotFound
from shopkeeper.measure import (
    assign_holdouts,
    holdout_expr,
    holdout_share,
    holdout_unit,
    in_holdout,
)
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url

# Generated ids: the real slice has ~100 customers, too few for a
# chi-square test to have power; the rule only ever sees the id strings.
IDS = [f"cus_{i:06d}" for i in range(20_000)]


def _engine_assignment(wh: Warehouse, ids: list[str], campaign: str) -> list[bool]:
    staged = wh.stage_arrow("_tmp_test_ids", pa.table({"customer_id": ids}))
    expr = staged.select(
        "customer_id", held=holdout_expr(staged.customer_id, campaign, 0.3)
    ).order_by("customer_id")
    return wh.to_arrow(expr)["held"].to_pylist()


def test_python_rule_is_a_fixed_function_of_the_ids() -> None:
    first = [in_holdout(i, "c1", 0.3) for i in IDS[:500]]
    assert first == [in_holdout(i, "c1", 0.3) for i in IDS[:500]]
    assert first == [holdout_unit(i, "c1") < 0.3 for i in IDS[:500]]
    assert not any(in_holdout(i, "c1", 0.0) for i in IDS[:500])
    share = np.mean([in_holdout(i, "c1", 0.3) for i in IDS])
    assert share == pytest.approx(0.3, abs=0.01)  # sd 0.0032


def test_duckdb_gives_the_python_assignment(wh: Warehouse) -> None:
    ids = sorted(IDS[:3000])
    assert _engine_assignment(wh, ids, "c1") == [in_holdout(i, "c1", 0.3) for i in ids]


def test_campaigns_draw_independent_holdouts() -> None:
    a = np.array([in_holdout(i, "campaign-a", 0.3) for i in IDS])
    b = np.array([in_holdout(i, "campaign-b", 0.3) for i in IDS])
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    _, p, _, expected = stats.chi2_contingency(table)
    assert p > 0.01, table
    assert table[0][0] == pytest.approx(expected[0][0], rel=0.08)
    assert not np.array_equal(a, b)


@pytest.fixture
def copy(built_path: Path, tmp_path: Path) -> Iterator[Warehouse]:
    """A writable copy of the real slice."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(built_path, path)
    warehouse = connect(duckdb_url(path))
    yield warehouse
    warehouse.close()


def test_assignment_is_recorded_and_rerunnable(copy: Warehouse) -> None:
    members = copy.execute(copy.table("campaign_members"))
    campaign = members.campaign_id.value_counts().index[0]
    mine = members[members.campaign_id == campaign]
    done = assign_holdouts(copy, campaign, 0.5)
    after = copy.execute(copy.table("campaign_members"))
    assert len(after) == len(members)  # nothing added or lost
    ours = after[after.campaign_id == campaign].merge(
        copy.execute(copy.table("identity_map")), on="identifier"
    )
    expected = [in_holdout(c, campaign, 0.5) for c in ours.customer_id]
    assert list(ours.member_group == "holdout") == expected
    assert done.members == len(mine) and done.holdout == sum(expected)
    assert 0 < done.holdout < done.members
    others = after[after.campaign_id != campaign]
    assert set(others.member_group) == {"treatment"}  # other campaigns untouched
    assert holdout_share(copy, campaign) == 0.5
    again = assign_holdouts(copy, campaign, 0.5)
    assert again == done
    with pytest.raises(Conflict, match="already has a 0.5 holdout"):
        assign_holdouts(copy, campaign, 0.2)
    assert assign_holdouts(copy, campaign, 0.2, force=True).share == 0.2
    with pytest.raises(NotFound, match="no members"):
        assign_holdouts(copy, "no-such-campaign", 0.1)
    with pytest.raises(InvalidInput, match="share"):
        assign_holdouts(copy, campaign, 1.0)


@pytest.mark.spark
def test_spark_gives_the_python_assignment(spark_root: Path) -> None:
    settings = Settings(spark_warehouse_dir=str(spark_root), spark_shuffle_partitions=1)
    spark = connect("pyspark://local[1]", settings=settings)
    ids = sorted(IDS[:500])
    assert _engine_assignment(spark, ids, "c1") == [
        in_holdout(i, "c1", 0.3) for i in ids
    ]
