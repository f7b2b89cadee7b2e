"""``shopkeeper segment`` in-process, on a copy of the segmented real slice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner, Result

from shopkeeper.cli import app
from shopkeeper.collect.personal import hash_email
from shopkeeper.segments.build import STAGE
from shopkeeper.settings import Settings
from shopkeeper.warehouse import connect, run_build

from .conftest import PEOPLE

runner = CliRunner()


def _cli(path: Path, *args: str) -> Result:
    return runner.invoke(app, ["--warehouse", f"duckdb:///{path}", "segment", *args])


def test_preview_prints_size_and_a_sample(segmented_path: Path) -> None:
    result = _cli(
        segmented_path,
        "preview",
        'clv_52w > 300 and affinity.department["PRODUCE"] > 1.3',
        "--sample",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert " customers (" in result.output and "Sample of 3" in result.output
    data = json.loads(
        _cli(segmented_path, "preview", "monetary > 1000", "--json").output
    )
    assert data["size"] > 0 and 0 < data["share"] < 1
    assert all(r["monetary"] > 1000 for r in data["sample"])


def test_a_bad_definition_is_one_error_with_its_position(segmented_path: Path) -> None:
    result = _cli(segmented_path, "preview", "clv52 > 3")
    assert result.exit_code == 1
    assert "unknown field 'clv52' at 1:1; did you mean clv_52w?" in str(
        result.exception
    )


def test_create_list_show_and_export(segmented_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    shutil.copy(segmented_path, path)
    made = _cli(path, "create", "regulars", "frequency >= 2", "--description", "x")
    assert made.exit_code == 0 and "version 1" in made.output
    with connect(f"duckdb:///{path}") as wh:
        run_build(wh, [STAGE], settings=Settings())
    listed = json.loads(_cli(path, "list", "--json").output)
    assert listed[0]["name"] == "regulars" and listed[0]["members"] > 0
    shown = _cli(path, "show", "regulars")
    assert shown.exit_code == 0 and "Membership changes" in shown.output
    out = tmp_path / "audience.csv"
    exported = _cli(
        path, "export", "regulars", "--format", "audience", "--out", str(out)
    )
    assert exported.exit_code == 0, exported.output
    assert "left out for lack of consent" in exported.output
    lines = out.read_text().splitlines()
    assert lines[0] == "Email"
    assert set(lines[1:]) <= {hash_email(p["email"]) for p in PEOPLE.values()}
    assert hash_email(PEOPLE["bob"]["email"]) not in lines  # bob denied ads
    csv_out = tmp_path / "members.csv"
    done = _cli(
        path,
        "export",
        "regulars",
        "--out",
        str(csv_out),
        "--fields",
        "customer_id,clv_52w",
        "--require-consent",
        "personalization",
    )
    assert done.exit_code == 0, done.output
    assert csv_out.read_text().splitlines()[0] == "customer_id,clv_52w"
