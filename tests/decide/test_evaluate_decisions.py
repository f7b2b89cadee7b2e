"""``shopkeeper evaluate decisions`` end to end: decisions made over real HTTP
on a real Complete Journey slice, outcome events with the decision ids sent
through the collector, the loader moving both into the warehouse, then the
command's outcome rates and IPS estimates checked by hand.

The outcome events are generated (The Complete Journey has no decisions to
answer); who is decided for, and what they are shown, is real.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.decide.online_rows import export_online
from shopkeeper.decide.online_store import open_store
from shopkeeper.errors import Unavailable
from shopkeeper.server.realtime import online_store_url
from shopkeeper.warehouse import connect
from tests.collect.server import (
    ADMIN_TOKEN,
    Server,
    basic,
    collect_settings,
    registry,
    running_server,
)
from tests.conftest import busiest_households

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
runner = CliRunner()


def _decide(server: Server, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/v1/decide", json=body, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _track(server: Server, key: str, event: str, props: dict[str, Any]) -> None:
    body = {"userId": "shopper", "event": event, "properties": props}
    sent = httpx.post(f"{server.url}/v1/track", json=body, headers=basic(key))
    assert sent.status_code == 200, sent.text


def _loaded(url: str, exposures: int, events: int) -> pd.DataFrame | None:
    """The exposures table once the loader has moved everything, else None."""
    try:
        with connect(url, read_only=True) as wh:
            if not (wh.exists("exposures") and wh.exists("events")):
                return None
            if wh.count(wh.table("events")) < events:
                return None
            frame = wh.execute(wh.table("exposures"))
    except Unavailable:
        return None
    return frame if len(frame) >= exposures else None


def test_evaluate_decisions_from_our_own_exposure_log(
    built_path: Path, tmp_path: Path
) -> None:
    shutil.copy(built_path, tmp_path / "wh.duckdb")
    settings = collect_settings(
        tmp_path, loader_interval_seconds=0.3, decide_daily_caps={}
    )
    store = open_store(online_store_url(settings))
    with connect(settings=settings, read_only=True) as wh:
        export_online(wh, store)
        people = busiest_households(wh, 10)
    store.close()
    decisions: list[dict[str, Any]] = []
    outcomes: set[tuple[str, str]] = set()
    events = 0
    with running_server(settings, tmp_path, loader=True) as server:
        key = registry(settings).add("web-shop", "web").write_key
        assert key is not None
        for n in range(30):
            placement = "home" if n % 3 else "basket"
            decision = _decide(
                server,
                identifier=people[n % len(people)],
                channel="web",
                placement=placement,
                limit=3,
            )
            assert len(decision["items"]) == 3
            decisions.append(decision)
            items = [i["item_id"] for i in decision["items"]]
            did = decision["decision_id"]
            if n % 4 == 0:  # a click on the second item, sent twice (a retry)
                for _ in range(2):
                    _track(
                        server,
                        key,
                        "Product Clicked",
                        {"decision_id": did, "product_id": items[1]},
                    )
                    events += 1
                outcomes.add((did, items[1]))
            if n % 5 == 0:  # a purchase naming no item: the first item's
                _track(server, key, "Order Completed", {"decision_id": did})
                events += 1
                outcomes.add((did, items[0]))
            if n % 7 == 0:  # an item the decision never showed counts for none
                _track(
                    server,
                    key,
                    "Product Added",
                    {"decision_id": did, "product_id": "not-shown"},
                )
                events += 1
        deadline = time.monotonic() + 30
        while (logged := _loaded(settings.warehouse, 90, events)) is None:
            assert time.monotonic() < deadline, "the loader did not load the log"
            time.sleep(0.3)
    url = settings.warehouse
    result = runner.invoke(
        app,
        ["--warehouse", url, "evaluate", "decisions", "--json", "--bootstrap", "200"],
    )
    assert result.exit_code == 0, result.output
    by_placement = {r["placement"]: r for r in json.loads(result.output)}
    assert set(by_placement) == {"home", "basket"}
    logged["reward"] = [
        int((d, i) in outcomes)
        for d, i in zip(logged.decision_id, logged.item_id, strict=True)
    ]
    for placement, rows in logged.groupby("placement"):
        r = by_placement[placement]
        made = [d for d in decisions if d["placement"] == placement]
        assert r["decisions"] == len(made) and r["exposures"] == 3 * len(made)
        assert r["outcomes"] == int(rows.reward.sum()) > 0
        assert r["on_policy"] == pytest.approx(rows.reward.mean())
        # IPS of the uniform policy by hand: each candidate is at a given rank
        # with probability 1/k.
        k = (
            rows.candidates
            if "candidates" in rows
            else pd.Series(rows.item_id.nunique(), index=rows.index)
        )
        by_hand = (rows.reward / k / rows.propensity).mean()
        uniform = r["estimates"]["uniform"]
        assert uniform["ips"]["value"] == pytest.approx(by_hand, rel=1e-9)
        for name in ("ips", "snips", "dm", "dr"):
            e = uniform[name]
            assert e["ci_low"] <= e["value"] <= e["ci_high"]
        recommender = r["estimates"]["recommender"]
        if "base_rank" in rows:
            same = (rows.base_rank == rows["rank"]).astype(float)
            by_hand = (same * rows.reward / rows.propensity).mean()
            assert recommender["ips"]["value"] == pytest.approx(by_hand, rel=1e-9)
        else:
            assert set(recommender.values()) == {None}
            assert any("base_rank" in note for note in r["notes"])
    table = runner.invoke(
        app, ["--warehouse", url, "evaluate", "decisions", "--bootstrap", "50"]
    )
    assert table.exit_code == 0, table.output
    assert "basket:" in table.output and "SNIPS" in table.output
