"""The store-zone trigger end to end: an app reports that a shopper entered a
store's zone through the collector, and a signed push leaves through the
webhook outbox within a second, within consent, quiet hours and caps.

The shopper and their recommendations are a real Complete Journey household;
the app login, the consent and the zone entry are generated (the data set has
no app), and the push provider is a real local HTTP receiver.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopkeeper.activate.signing import verify
from shopkeeper.decide.online_rows import export_online
from shopkeeper.decide.online_store import open_store
from shopkeeper.server.realtime import online_store_url
from shopkeeper.server.serve import load_once
from shopkeeper.warehouse import connect
from tests.collect.server import (
    ADMIN_TOKEN,
    Server,
    basic,
    collect_settings,
    registry,
    running_server,
)

SECRET = "whsec_store_zone_0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Pushes:
    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.bad = 0
        self.lock = threading.Lock()


@pytest.fixture(scope="module")
def pushes() -> Iterator[tuple[str, Pushes]]:
    state = Pushes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("Shopkeeper-Signature")
            with state.lock:
                if verify(SECRET, header, body):
                    state.received.append((time.monotonic(), json.loads(body)))
                else:
                    state.bad += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/push", state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(
    built_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pushes: tuple[str, Pushes],
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("zone")
    shutil.copy(built_path, root / "wh.duckdb")
    endpoints = root / "endpoints.json"
    endpoints.write_text(
        json.dumps(
            {
                "endpoints": [
                    {
                        "name": "push-provider",
                        "channel": "push",
                        "url": pushes[0],
                        "secret": SECRET,
                    }
                ]
            }
        )
    )
    settings = collect_settings(
        root,
        webhook_endpoints=str(endpoints),
        webhook_interval_seconds=5.0,  # the trigger must wake it, not the timer
        decide_daily_caps={"push": 1},
        decide_quiet_hours=(22, 7),
    )
    store = open_store(online_store_url(settings))
    with connect(settings=settings, read_only=True) as wh:
        export_online(wh, store)
        household = str(wh.execute(wh.table("orders").identifier.min()))
        (alias,) = store.read_many("alias", [household])
    # The app's login for this household (the identity build would link it).
    store.write_batch("alias", [("user:app-zone-1", alias)])
    store.close()
    with running_server(settings, root) as srv:
        srv.household = household  # type: ignore[attr-defined]
        yield srv


def _enter(server: Server, key: str, **props: Any) -> None:
    event = {
        "userId": "app-zone-1",
        "event": "Store Zone Entered",
        "properties": {"store_id": "412", **props},
    }
    answer = httpx.post(f"{server.url}/v1/track", json=event, headers=basic(key))
    assert answer.status_code == 200


def test_zone_entry_sends_a_push_within_a_second(
    server: Server, pushes: tuple[str, Pushes]
) -> None:
    _, state = pushes
    key = registry(server.settings).add("app", "app").write_key
    assert key is not None
    # No push consent yet: nothing is sent.
    _enter(server, key, local_hour=12)
    time.sleep(1.0)
    assert state.received == []
    household = server.household  # type: ignore[attr-defined]
    answer = httpx.put(
        f"{server.url}/v1/consents/{household}",
        json={"purpose": "push", "status": "granted"},
        headers=ADMIN,
    )
    assert answer.status_code == 200
    # At night, quiet hours hold.
    _enter(server, key, local_hour=23)
    time.sleep(1.0)
    assert state.received == []
    # In the afternoon the push leaves within a second, signed.
    started = time.monotonic()
    _enter(server, key, local_hour=15)
    while not state.received:
        assert time.monotonic() - started < 1.0, "no push within a second"
        time.sleep(0.02)
    arrived, push = state.received[0]
    assert arrived - started < 1.0
    assert state.bad == 0
    assert push["channel"] == "push"
    payload = push["payload"]
    assert payload["store_id"] == "412" and payload["items"]
    assert all(item["reason"] for item in payload["items"])
    # The daily push cap (1) holds for the next entry.
    _enter(server, key, local_hour=16)
    time.sleep(1.0)
    assert len(state.received) == 1
    # Each refusal was logged, with its kind, for the dashboard.
    load_once(server.settings)
    with connect(settings=server.settings, read_only=True) as wh:
        t = wh.table("refusals")
        kinds = wh.execute(t.filter(t.placement == "store_zone").reason_kind)
    assert sorted(kinds) == ["cap", "consent", "quiet_hours"]
