"""The Segment HTTP Tracking API through real HTTP against a real server.

Events here are generated: the real data sets have no web or app events, and
these tests are about the wire protocol, not about shoppers.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shopkeeper import model
from shopkeeper.collect.sources import Source
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


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("collect")


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    settings = collect_settings(root)
    with running_server(settings, root) as srv:
        yield srv


@pytest.fixture(scope="module")
def web(server: Server) -> Source:
    return registry(server.settings).add("website", "web")


@pytest.fixture
def client(server: Server, web: Source) -> Iterator[httpx.Client]:
    assert web.write_key
    with httpx.Client(base_url=server.url, headers=basic(web.write_key)) as c:
        yield c


def stored(server: Server, message_id: str) -> list[dict[str, Any]]:
    """Load the log, then the events rows with this messageId."""
    load_once(server.settings)
    with connect(settings=server.settings, read_only=True) as wh:
        t = wh.table(model.EVENTS)
        rows = wh.to_arrow(t.filter(t.message_id == message_id)).to_pylist()
    return rows


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


def refused(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    for word in words:
        assert word in body["message"], body
    return str(body["message"])


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("identify", {"userId": "u-1", "traits": {"plan": "gold"}}),
        (
            "track",
            {"userId": "u-1", "event": "Product Viewed", "properties": {"sku": 7}},
        ),
        ("page", {"anonymousId": "a-1", "name": "Home", "category": "Landing"}),
        ("screen", {"userId": "u-1", "name": "Basket"}),
        ("group", {"userId": "u-1", "groupId": "household-9", "traits": {"size": 3}}),
        ("alias", {"previousId": "a-1", "userId": "u-1"}),
    ],
)
def test_each_endpoint_stores_its_message(
    client: httpx.Client, server: Server, web: Source, kind: str, fields: dict[str, Any]
) -> None:
    message_id = f"m-{kind}"
    ok(client.post(f"/v1/{kind}", json={**fields, "messageId": message_id}))
    [row] = stored(server, message_id)
    assert row["type"] == kind
    assert row["source_id"] == web.source_id
    assert row["channel"] == "web"
    assert row["user_id"] == fields.get("userId")
    assert row["anonymous_id"] == fields.get("anonymousId")
    assert row["previous_id"] == fields.get("previousId")
    assert row["group_id"] == fields.get("groupId")
    assert row["event"] == fields.get("event")
    if "properties" in fields:
        assert json.loads(row["properties"]) == fields["properties"]
    if "traits" in fields:
        assert json.loads(row["traits"]) == fields["traits"]
    if kind == "page":  # a field outside the spec is kept, not dropped
        assert json.loads(row["properties"]) == {"category": "Landing"}
    assert row["received_at"] is not None


def test_batch_merges_context_and_integrations(
    client: httpx.Client, server: Server
) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u-2", "event": "A", "messageId": "b-1"},
            {
                "type": "identify",
                "userId": "u-2",
                "messageId": "b-2",
                "context": {"ip": "10.0.0.9"},
            },
        ],
        "context": {"ip": "10.0.0.1", "library": {"name": "test"}},
        "integrations": {"All": False},
    }
    ok(client.post("/v1/batch", json=body))
    [first] = stored(server, "b-1")
    [second] = stored(server, "b-2")
    assert json.loads(first["context"]) == body["context"]
    assert json.loads(first["integrations"]) == {"All": False}
    # The item's own context keys win over the batch's.
    assert json.loads(second["context"])["ip"] == "10.0.0.9"
    assert json.loads(second["context"])["library"] == {"name": "test"}


def test_gzip_body_and_write_key_in_body(server: Server, web: Source) -> None:
    body = {"userId": "u-3", "event": "Zipped", "messageId": "gz-1"}
    body["writeKey"] = web.write_key
    response = httpx.post(
        f"{server.url}/v1/track",
        content=gzip.compress(orjson.dumps(body)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    ok(response)
    [row] = stored(server, "gz-1")
    assert row["event"] == "Zipped"
    assert "writeKey" not in (row["properties"] or "")


def test_integers_beyond_64_bits_are_kept(server: Server, web: Source) -> None:
    # Found by schemathesis: JSON allows them, orjson does not.
    body = b'{"userId": 1, "event": "Big", "messageId": "big-1", "properties": '
    body += (
        b'{"n": 123456789012345678901234567890}, "writeKey": "%s"}'
        % (web.write_key or "").encode()
    )
    ok(httpx.post(f"{server.url}/v1/track", content=body))
    [row] = stored(server, "big-1")
    assert json.loads(row["properties"]) == {"n": 123456789012345678901234567890}
    assert row["user_id"] == "1"


def test_clock_skew_is_corrected(client: httpx.Client, server: Server) -> None:
    # The device clock is a year behind: it stamped the event 5 s before it
    # sent it. The stored time is 5 s before the server received it.
    original = datetime(2025, 1, 1, 12, 0, 0)
    body = {
        "userId": "u-4",
        "event": "Skewed",
        "messageId": "skew-1",
        "timestamp": original.isoformat() + "Z",
        "sentAt": (original + timedelta(seconds=5)).isoformat() + "Z",
    }
    ok(client.post("/v1/track", json=body))
    [row] = stored(server, "skew-1")
    assert row["original_timestamp"] == original
    assert row["received_at"] - row["timestamp"] == timedelta(seconds=5)


def test_an_absurd_clock_falls_back_to_the_receive_time(
    client: httpx.Client, server: Server
) -> None:
    # Found by schemathesis: year 1 stamped, year 9999 sent overflows the
    # correction. The event is kept, at the time the server received it.
    body = {
        "userId": "u-4",
        "event": "Time travel",
        "messageId": "skew-2",
        "timestamp": "0001-01-01T00:00:00Z",
        "sentAt": "9999-12-31T23:59:59Z",
    }
    ok(client.post("/v1/track", json=body))
    [row] = stored(server, "skew-2")
    assert row["timestamp"] == row["received_at"]
    assert row["original_timestamp"] == datetime(1, 1, 1)


def test_retries_with_the_same_message_id_are_stored_once(
    client: httpx.Client, server: Server
) -> None:
    body = {"userId": "u-5", "event": "Retried", "messageId": "retry-1"}
    for _ in range(3):
        ok(client.post("/v1/track", json=body))
    assert len(stored(server, "retry-1")) == 1


@pytest.mark.parametrize(
    ("kind", "body", "words"),
    [
        ("track", b"{not json", ["not valid JSON"]),
        ("track", b'{"event": "x"}', ["userId or anonymousId"]),
        ("track", b'{"userId": "u"}', ["track needs event"]),
        ("alias", b'{"userId": "u"}', ["previousId"]),
        ("group", b'{"userId": "u"}', ["groupId"]),
        (
            "track",
            b'{"userId": "u", "event": "x", "messageId": "' + b"m" * 120 + b'"}',
            ["messageId"],
        ),
        ("track", b"[1, 2]", ["object"]),
        ("batch", b'{"batch": "nope"}', ["batch"]),
    ],
)
def test_bad_input_is_400_naming_the_problem(
    client: httpx.Client, kind: str, body: bytes, words: list[str]
) -> None:
    response = client.post(f"/v1/{kind}", content=body)
    refused(response, 400, *words)


def test_a_batch_with_one_bad_message_stores_nothing(
    client: httpx.Client, server: Server
) -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "ok", "messageId": f"all-{i}"}
        for i in range(4)
    ]
    batch[2] = {"type": "track", "userId": "u", "messageId": "all-2"}
    message = refused(client.post("/v1/batch", json={"batch": batch}), 400, "batch[2]")
    assert "event" in message
    assert stored(server, "all-0") == []


def test_auth_errors(server: Server, web: Source) -> None:
    body = {"userId": "u", "event": "x"}
    refused(httpx.post(f"{server.url}/v1/track", json=body), 401, "missing write key")
    wrong = httpx.post(f"{server.url}/v1/track", json=body, headers=basic("sk_wrong"))
    refused(wrong, 401, "unknown write key")
    assert "sk_wrong" not in wrong.text


def test_disabled_source_is_403_until_enabled(server: Server) -> None:
    sources = registry(server.settings)
    pos = sources.add("till-7", "store")
    assert pos.write_key
    url = f"{server.url}/v1/track"
    body = {"userId": "u", "event": "Scanned"}
    ok(httpx.post(url, json=body, headers=basic(pos.write_key)))
    sources.set_status("till-7", "disabled")
    time.sleep(1.2)  # the server caches keys for up to a second
    refused(httpx.post(url, json=body, headers=basic(pos.write_key)), 403, "disabled")
    rotated = sources.rotate("till-7")
    sources.set_status("till-7", "active")
    time.sleep(1.2)
    refused(httpx.post(url, json=body, headers=basic(pos.write_key)), 401)
    assert rotated.write_key
    ok(httpx.post(url, json=body, headers=basic(rotated.write_key)))


def test_size_limits_are_413(client: httpx.Client) -> None:
    big = {"userId": "u", "event": "x", "properties": {"blob": "x" * 33_000}}
    refused(client.post("/v1/track", json=big), 413, "32 KB")
    in_batch = {
        "batch": [
            {"type": "track", "userId": "u", "event": "a"},
            {**big, "type": "track"},
        ]
    }
    refused(client.post("/v1/batch", json=in_batch), 413, "batch[1]")
    many = {"batch": [{"type": "track", "userId": "u", "event": "a"}] * 2501}
    refused(client.post("/v1/batch", json=many), 413, "2500")
    huge = {"batch": [{**big, "type": "track", "properties": {"b": "y" * 30_000}}] * 20}
    refused(client.post("/v1/batch", json=huge), 413, "500 KB")


def test_consent_updated_events_join_the_ledger(
    client: httpx.Client, server: Server
) -> None:
    bad = {
        "userId": "u-c",
        "event": "Consent Updated",
        "properties": {"purpose": "mail"},
    }
    refused(client.post("/v1/track", json=bad), 400, "properties.purpose")
    for i, status in enumerate(("granted", "revoked")):
        body = {
            "userId": "u-c",
            "event": "Consent Updated",
            "messageId": f"consent-{i}",
            "timestamp": f"2026-11-0{i + 1}T09:00:00Z",
            "properties": {"purpose": "email", "status": status},
        }
        ok(client.post("/v1/track", json=body))
    stored(server, "consent-1")  # runs the loader
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    answer = httpx.get(f"{server.url}/v1/consents/user:u-c", headers=admin)
    assert answer.status_code == 200, answer.text
    [email] = answer.json()["consents"]
    assert (email["purpose"], email["status"]) == ("email", "revoked")
    assert email["source"].startswith("event:src_")
    # Loading again (a replay) adds no second ledger row.
    load_once(server.settings, replay=True)
    with connect(settings=server.settings, read_only=True) as wh:
        assert wh.count("consents") == 2
    assert (
        httpx.get(f"{server.url}/v1/consents/user:nobody", headers=admin).status_code
        == 404
    )


def test_write_keys_read_nothing(server: Server, web: Source) -> None:
    assert web.write_key
    url = f"{server.url}/v1/sources"
    refused(httpx.get(url, headers=basic(web.write_key)), 401, "only write events")
    admin = httpx.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 200
    assert "website" in {s["name"] for s in admin.json()}
    assert web.write_key not in admin.text
    assert "key_sha256" not in admin.text


def test_overload_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = collect_settings(tmp_path, collect_max_pending=1)
    key = registry(settings).add("web", "web").write_key
    assert key
    with running_server(settings, tmp_path) as srv:
        batch = {"batch": [{"type": "track", "userId": "u", "event": "a"}] * 2}
        response = httpx.post(f"{srv.url}/v1/batch", json=batch, headers=basic(key))
        refused(response, 503, "waiting for disk")
        assert response.headers["Retry-After"] == "1"
        ok(
            httpx.post(
                f"{srv.url}/v1/track", json=batch["batch"][0], headers=basic(key)
            )
        )


def test_the_server_survived_every_error(server: Server) -> None:
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    assert "Traceback" not in server.output()
