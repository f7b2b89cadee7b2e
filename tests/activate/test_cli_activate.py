"""``shopkeeper activate``: the commands over the real slice and a real receiver."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopkeeper.activate import OUTBOX_FILE, Outbox
from shopkeeper.cli import app
from shopkeeper.errors import NotFound
from shopkeeper.settings import Settings
from shopkeeper.trust.consents import record_consent
from shopkeeper.warehouse import connect
from tests.activate.conftest import Activated
from tests.activate.receiver import SECRET, first_try_key, running_receiver

runner = CliRunner()


@pytest.fixture
def url(activated: Activated, tmp_path: Path) -> str:
    path = tmp_path / "wh.duckdb"
    shutil.copy(activated.path, path)  # the CLI opens it for writing
    return f"duckdb:///{path}"


def invoke(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--warehouse", url, "activate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_pos_file_and_staff_list(
    url: str, activated: Activated, tmp_path: Path
) -> None:
    done = json.loads(
        invoke(
            url, "pos-file", "--date", "2018-01-02", "--out", str(tmp_path), "--json"
        )
    )
    assert done["folder"] == str(tmp_path / "2018-01-02")
    files = sorted(p.stem for p in (tmp_path / "2018-01-02").glob("*.csv"))
    assert files == sorted(done["rows_by_store"]) and done["rows"] > 0

    args = ["staff-list", "--store", activated.store, "--date", "2018-01-02"]
    listed = json.loads(invoke(url, *args, "--min-rate", "0.07", "--json"))
    assert len(listed) == len(activated.regulars) - 1
    assert all(s["store_id"] == activated.store for s in listed)
    sheet = tmp_path / "staff.csv"
    shown = invoke(url, *args, "--min-rate", "0.07", "--out", str(sheet))
    assert f"Store {activated.store} on 2018-01-02" in shown
    assert len(sheet.read_text().splitlines()) == len(listed) + 1

    refused = runner.invoke(app, ["--warehouse", url, "activate", "staff-list"])
    assert refused.exit_code == 2  # --store is required


def test_outbox_deliver_status_dead_and_replay(
    url: str, activated: Activated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("SHOPKEEPER_STATE_DIR", str(state))
    who = activated.granted
    with connect(url, settings=Settings()) as wh:
        idmap = wh.table("identity_map")
        card = wh.execute(idmap.filter(idmap.customer_id == who).identifier).iloc[0]
        for purpose in ("push", "sms"):  # generated decisions
            record_consent(wh, card, purpose, "granted", source="test")
    with Outbox(state / OUTBOX_FILE, lambda customer, purpose: True) as box:
        box.enqueue("push", "app", who, {"title": "hi"}, first_try_key("ok"))
        box.enqueue("push", "app", "cus_nobody", {"title": "hi"}, "k-no")
        box.enqueue("sms", "sms", who, {"text": "hi"}, "k-sms")
    with running_receiver() as receiver:
        endpoints = tmp_path / "endpoints.json"
        entries = [
            {"name": "app", "channel": "push", "url": receiver.url + "/flaky"},
            {"name": "sms", "channel": "sms", "url": receiver.url + "/reject"},
        ]
        data = {"endpoints": [e | {"secret": SECRET} for e in entries]}
        endpoints.write_text(json.dumps(data))
        deliver = ["outbox", "deliver", "--endpoints", str(endpoints)]
        report = json.loads(invoke(url, *deliver, "--json"))
        assert (report["delivered"], report["suppressed"], report["dead"]) == (1, 1, 1)
        assert set(receiver.bodies) == {first_try_key("ok")}

        status = json.loads(invoke(url, "outbox", "status", "--json"))
        assert {(s["endpoint"], s["status"]) for s in status} == {
            ("app", "delivered"),
            ("app", "suppressed"),
            ("sms", "dead"),
        }
        dead = json.loads(invoke(url, "outbox", "dead", "--json"))
        assert [(d["idempotency_key"], d["error"]) for d in dead] == [
            ("k-sms", "HTTP 400 Bad Request")
        ]
        assert "pending again" in invoke(url, "outbox", "replay", "k-sms")
        assert "k-sms: HTTP 400" in invoke(url, *deliver)

    missing = runner.invoke(
        app, ["--warehouse", url, "activate", "outbox", "replay", "x"]
    )
    assert isinstance(missing.exception, NotFound)
