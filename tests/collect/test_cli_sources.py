"""``shopkeeper sources`` and ``shopkeeper collect load`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.collect.sources import SourceRegistry, hash_key
from shopkeeper.errors import Conflict, Forbidden, InvalidInput, Unauthorized

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPKEEPER_STATE_DIR", str(tmp_path / "state"))
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--warehouse", url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_add_list_rotate_disable(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    added = json.loads(
        cli("sources", "add", "flagship-store", "--channel", "store", "--json")
    )
    key = added["write_key"]
    assert key.startswith("sk_") and added["channel"] == "store"
    registry = SourceRegistry(tmp_path / "state" / "sources.sqlite")
    assert registry.authenticate(key).name == "flagship-store"
    # Only the hash is stored.
    raw = (tmp_path / "state" / "sources.sqlite").read_bytes()
    assert key.encode() not in raw
    assert hash_key(key).encode() in raw

    listed = cli("sources", "list")
    assert "flagship-store" in listed and key not in listed

    rotated = json.loads(cli("sources", "rotate", "flagship-store", "--json"))
    assert rotated["write_key"] != key
    registry = SourceRegistry(tmp_path / "state" / "sources.sqlite")
    with pytest.raises(Unauthorized):
        registry.authenticate(key)
    cli("sources", "disable", "flagship-store")
    with pytest.raises(Forbidden):
        registry.authenticate(rotated["write_key"])
    cli("sources", "enable", "flagship-store")
    registry = SourceRegistry(tmp_path / "state" / "sources.sqlite")  # no cache
    assert registry.authenticate(rotated["write_key"]).status == "active"


def test_bad_channel_and_duplicate_name_are_refused(tmp_path: Path) -> None:
    registry = SourceRegistry(tmp_path / "sources.sqlite")
    with pytest.raises(InvalidInput, match="call_center"):
        registry.add("kiosk", "kiosk")
    registry.add("web", "web")
    with pytest.raises(Conflict, match="already exists"):
        registry.add("web", "app")


def test_collect_load_on_an_empty_log(cli) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(cli("collect", "load", "--json"))
    assert report["records"] == 0 and report["inserted"] == 0
