"""Merchandising insights on a real Complete Journey slice, checked by hand
(pandas over the same raw tables)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest

from shopkeeper.pipeline import STAGES
from shopkeeper.segments import create_segment
from shopkeeper.segments.insights import (
    affinity_by_segment,
    category_rules,
    promotion_response,
)
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

from ..conftest import duckdb_url


@pytest.fixture(scope="module")
def wh(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    path = tmp_path_factory.mktemp("insights") / "wh.duckdb"
    shutil.copy(built_path, path)
    warehouse = connect(duckdb_url(path))
    create_segment(warehouse, "frequent", "frequency >= 20")
    run_build(warehouse, STAGES, ["segments"], settings=Settings())
    yield warehouse
    warehouse.close()


def _lines(wh: Warehouse) -> pd.DataFrame:
    orders = wh.execute(wh.table("orders"))
    lines = wh.execute(wh.table("order_lines"))
    products = wh.execute(wh.table("products"))[
        ["product_id", "department", "category"]
    ]
    people = wh.execute(wh.table("identity_map"))
    j = lines.merge(orders, on="order_id").merge(people, on="identifier")
    j = j.merge(products, on="product_id", how="left")
    return j.fillna({"department": "UNKNOWN", "category": "UNKNOWN"})


def test_affinity_index_is_the_segments_share_over_everyones(wh: Warehouse) -> None:
    got = wh.execute(affinity_by_segment(wh, min_population_share=0.01))
    lines = _lines(wh)
    members = wh.execute(wh.table("segments_members"))
    mine = lines[lines.customer_id.isin(members.customer_id)]
    population = lines.groupby("department").sales_value.sum() / lines.sales_value.sum()
    segment = mine.groupby("department").sales_value.sum() / mine.sales_value.sum()
    row = got[got.department == "GROCERY"].iloc[0]
    expected = segment["GROCERY"] / population["GROCERY"]
    assert row["index"] == pytest.approx(expected, abs=0.002)
    assert set(got.segment) == {"frequent"}
    assert (got.population_share >= 0.01 - 1e-4).all()


def test_rules_have_the_textbook_support_confidence_and_lift(wh: Warehouse) -> None:
    rules = wh.execute(category_rules(wh, min_support=0.05))
    assert len(rules) > 0
    lines = _lines(wh)
    baskets = lines.groupby("order_id").category.apply(set)
    n = len(baskets)
    top = rules.iloc[0]
    a, b = top.antecedent, top.consequent
    both = sum(1 for s in baskets if a in s and b in s)
    with_a = sum(1 for s in baskets if a in s)
    with_b = sum(1 for s in baskets if b in s)
    assert top.baskets == both
    assert top.support == pytest.approx(both / n, abs=1e-4)
    assert top.confidence == pytest.approx(both / with_a, abs=1e-4)
    assert top.lift == pytest.approx((both / with_a) / (with_b / n), abs=1e-3)
    # Every frequent pair appears, both ways round.
    frequent = {
        c for c in lines.category.unique() if sum(c in s for s in baskets) >= 0.05 * n
    }
    pairs = {
        (x, y)
        for x, y in combinations(sorted(frequent), 2)
        if sum(1 for s in baskets if x in s and y in s) >= 0.05 * n
    }
    found = set(zip(rules.antecedent, rules.consequent, strict=True))
    assert found == pairs | {(y, x) for x, y in pairs}


def test_promotion_response_has_the_population_and_each_segment(wh: Warehouse) -> None:
    got = wh.execute(promotion_response(wh)).set_index("segment")
    assert set(got.index) == {"everyone", "frequent"}
    for _, row in got.iterrows():
        assert 0 <= row.display_share <= row.promoted_share <= 1
        assert row.mailer_share <= row.promoted_share
    assert got.loc["everyone"].spend == pytest.approx(
        wh.execute(wh.table("order_lines").sales_value.sum()), rel=1e-6
    )


def test_promotion_response_from_profiles_equals_matching_every_line(
    wh: Warehouse,
) -> None:
    """The fast path (the profiles' per-customer promotion shares) and the
    slow one (every purchase line matched to the promotions here) agree."""
    from shopkeeper.profiles.purchases import default_as_of

    fast = wh.execute(promotion_response(wh)).set_index("segment").sort_index()
    slow = wh.execute(promotion_response(wh, as_of=default_as_of(wh)))
    slow = slow.set_index("segment").sort_index()
    pd.testing.assert_frame_equal(fast, slow, atol=1e-4, check_exact=False)


def test_the_rules_stage_keeps_what_category_rules_finds(wh: Warehouse) -> None:
    kept = wh.execute(wh.table("insights_category_rules"))
    assert len(kept) and (kept.support >= 0.01).all()
    found = wh.execute(category_rules(wh, min_support=0.01))
    pd.testing.assert_frame_equal(
        kept.drop(columns=["min_support", "as_of"])
        .sort_values(["antecedent", "consequent"])
        .reset_index(drop=True),
        found.sort_values(["antecedent", "consequent"]).reset_index(drop=True),
        check_dtype=False,
    )


def test_the_cli_prints_each_insight(built_path: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from shopkeeper.cli import app

    path = tmp_path / "wh.duckdb"
    shutil.copy(built_path, path)
    with connect(duckdb_url(path)) as warehouse:
        create_segment(warehouse, "frequent", "frequency >= 20")
        run_build(warehouse, STAGES, ["segments"], settings=Settings())
    runner = CliRunner()
    base = ["--warehouse", duckdb_url(path), "insights"]
    rules = runner.invoke(app, [*base, "rules", "--min-support", "0.05", "--json"])
    assert rules.exit_code == 0, rules.output
    assert {"antecedent", "consequent", "lift"} <= set(json.loads(rules.output)[0])
    affinity = runner.invoke(app, [*base, "affinity", "--top", "2"])
    assert affinity.exit_code == 0 and "frequent" in affinity.output
    promotions = runner.invoke(app, [*base, "promotions"])
    assert promotions.exit_code == 0 and "everyone" in promotions.output
