"""The official Segment and RudderStack Python SDKs, unchanged, against a real server.

The calls are generated (the real data sets hold no web or app events); what
is real is the SDK code, its gzip batching, its auth and the server.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from shopkeeper import model
from shopkeeper.server.serve import load_once
from shopkeeper.warehouse import connect
from tests.collect.server import Server, collect_settings, registry, running_server


def events_of(server: Server, source_id: str) -> list[dict[str, Any]]:
    load_once(server.settings)
    with connect(settings=server.settings, read_only=True) as wh:
        t = wh.table(model.EVENTS)
        return wh.to_arrow(t.filter(t.source_id == source_id)).to_pylist()


def send_everything(client: Any, user: str) -> None:
    """One call of each kind, as a shop's instrumentation would make them."""
    client.identify(
        user,
        {"email": f"{user}@shop.test", "plan": "loyalty"},
        anonymous_id=f"anon-{user}",
    )
    client.track(user, "Order Completed", {"order_id": "o-1", "total": 42.5})
    client.page(user, "Grocery", "Fresh produce", {"path": "/fresh"})
    client.screen(user, "Shop app", "Basket", {"items": 3})
    client.group(user, f"household-{user}", {"size": 4})
    client.alias(f"anon-{user}", user)


def check(rows: list[dict[str, Any]], user: str, channel: str, library: str) -> None:
    by_type = {r["type"]: r for r in rows if r["user_id"] == user}
    assert set(by_type) == {"identify", "track", "page", "screen", "group", "alias"}
    assert len(rows) == 6
    identify = by_type["identify"]
    assert identify["anonymous_id"] == f"anon-{user}"
    assert json.loads(identify["traits"])["plan"] == "loyalty"
    track = by_type["track"]
    assert track["event"] == "Order Completed"
    assert json.loads(track["properties"]) == {"order_id": "o-1", "total": 42.5}
    assert by_type["page"]["name"] == "Fresh produce"
    assert json.loads(by_type["page"]["properties"])["category"] == "Grocery"
    assert by_type["screen"]["name"] == "Basket"
    assert by_type["group"]["group_id"] == f"household-{user}"
    assert by_type["alias"]["previous_id"] == f"anon-{user}"
    for row in rows:
        assert row["channel"] == channel
        assert row["message_id"]
        assert row["sent_at"] is not None
        assert library in json.loads(row["context"])["library"]["name"]
        # The SDK stamped the event a moment before it sent the batch.
        assert row["timestamp"] <= row["received_at"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("sdks")
    with running_server(collect_settings(root), root) as srv:
        yield srv


def test_segment_analytics_python(server: Server) -> None:
    from segment.analytics import Client

    source = registry(server.settings).add("web-shop", "web")
    failures: list[Exception] = []
    client = Client(
        source.write_key,
        host=server.url,
        gzip=True,
        on_error=lambda error, _batch: failures.append(error),
    )
    send_everything(client, "seg-1")
    client.flush()
    client.join()
    assert failures == []
    check(events_of(server, source.source_id), "seg-1", "web", "analytics-python")


def test_rudder_sdk_python(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import rudderstack.analytics as rudder

    source = registry(server.settings).add("shop-app", "app")
    failures: list[Exception] = []
    # The SDK's documented module-level set-up, as a shop's code would do it.
    monkeypatch.setattr(rudder, "write_key", source.write_key)
    monkeypatch.setattr(rudder, "dataPlaneUrl", server.url)
    monkeypatch.setattr(rudder, "gzip", True)
    monkeypatch.setattr(rudder, "on_error", lambda e, _b: failures.append(e))
    monkeypatch.setattr(rudder, "default_client", None)
    logging.getLogger("rudder").setLevel(logging.WARNING)
    send_everything(rudder, "rudder-1")
    rudder.flush()
    rudder.shutdown()
    assert failures == []
    check(events_of(server, source.source_id), "rudder-1", "app", "analytics-python")
