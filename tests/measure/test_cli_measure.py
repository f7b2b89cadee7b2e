"""`shopkeeper measure` and `shopkeeper report`, in-process on a copy of the slice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopkeeper.cli import app

runner = CliRunner()


@pytest.fixture
def url(built_path: Path, tmp_path: Path) -> str:
    path = tmp_path / "copy.duckdb"
    shutil.copy(built_path, path)
    return f"duckdb:///{path}"


def _state(url: str) -> Path:
    return Path(url.removeprefix("duckdb:///")).parent / "state"


def run(url: str, *args: str, columns: int = 200):
    env = {"COLUMNS": str(columns), "SHOPKEEPER_STATE_DIR": str(_state(url))}
    return runner.invoke(
        app, ["--warehouse", url, *args], catch_exceptions=False, env=env
    )


def test_measure_campaign_prints_the_matched_readout_then_the_randomized(
    url: str,
) -> None:
    text = run(url, "measure", "campaign", "13", "--resamples", "200")
    assert text.exit_code == 0, text.output
    assert "targeted vs matched non-targeted" in text.output
    assert "not causal proof" in " ".join(text.output.split())
    data = json.loads(run(url, "measure", "campaign", "13", "--json").output)
    assert data["method"] == "observational" and data["matched"]["strata"] > 0
    held = run(url, "measure", "holdout", "13", "--share", "0.5")
    assert held.exit_code == 0 and "held out (share 0.5" in held.output
    # running servers learn the new holdout at once, through the online store
    from shopkeeper.decide.offer_rows import HOLDOUTS
    from shopkeeper.decide.online_store import open_store

    store = open_store(f"sqlite:///{_state(url) / 'online.sqlite'}")
    try:
        (doc,) = store.read_many(HOLDOUTS, ["all"])
    finally:
        store.close()
    assert doc == {"shares": {"13": 0.5}}
    text = run(url, "measure", "campaign", "13", "--resamples", "200")
    assert "treated vs holdout" in text.output and "sample ratio" in text.output
    assert "CUPED" in text.output


def test_report_channels_prints_both_tables_and_json(url: str) -> None:
    text = run(url, "report", "channels", "--no-progress", "--cost", "direct_mail=0.4")
    assert text.exit_code == 0, text.output
    for word in ("Channels", "Campaigns", "store", "direct_mail", "observational"):
        assert word in text.output
    data = json.loads(run(url, "report", "channels", "--json").output)
    assert {r["channel"] for r in data["channels"]} >= {"store", "web", "email"}
    assert len(data["campaigns"]) == 27


def test_a_narrow_terminal_gets_records_with_whole_numbers(url: str) -> None:
    """Eleven columns cannot stand side by side in 80: one block per row,
    every figure on one line, instead of numbers folded digit by digit."""
    data = json.loads(run(url, "report", "channels", "--json").output)
    store = next(r for r in data["channels"] if r["channel"] == "store")
    narrow = run(url, "report", "channels", "--no-progress", columns=80).output
    assert "channel: store" in narrow and "campaign: 13" in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert f"{store['orders']:,}" in narrow.split()
    assert f"{store['sales']:,.2f}" in narrow.split()
    wide = run(url, "report", "channels", "--no-progress").output
    assert "channel: store" not in wide
    assert f"{store['orders']:,}" in wide.split()


def test_bad_cost_is_refused(url: str) -> None:
    from shopkeeper.errors import InvalidInput

    with pytest.raises(InvalidInput, match="CHANNEL=AMOUNT"):
        run(url, "report", "channels", "--cost", "email")


def test_attribution_says_when_there_is_nothing_to_credit(url: str) -> None:
    result = run(url, "measure", "attribution")
    assert result.exit_code == 0 and "no touch paths" in result.output
