"""Deleting a customer reaches every table, the durable event log and the
model outputs; their identifiers stay suppressed; the audit record remains.

The household and its store baskets are real (The Complete Journey); its app
and web events are generated, because the data set has none, and arrive
through the real collector over HTTP.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from shopkeeper import model
from shopkeeper.activate.outbox import Outbox
from shopkeeper.collect.eventloader import load_events
from shopkeeper.collect.eventlog import segments
from shopkeeper.collect.personal import hash_email
from shopkeeper.decide.online_rows import export_online
from shopkeeper.decide.online_store import open_store
from shopkeeper.errors import Unavailable
from shopkeeper.pipeline import STAGES
from shopkeeper.profiles.customer360 import resolve
from shopkeeper.server.app import state_paths
from shopkeeper.server.realtime import online_store_url
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect, run_build

from ..collect.server import (
    ADMIN_TOKEN,
    basic,
    collect_settings,
    registry,
    running_server,
)
from ..conftest import busiest_households

EMAIL = "Erase.Me@Mailbox.NET"
KEEP_EMAIL = "stay@mailbox.net"


def _journey(user: str, anon: str, email: str, household: str) -> dict[str, Any]:
    return {
        "batch": [
            {"type": "page", "anonymousId": anon, "name": "Home"},
            {
                "type": "identify",
                "userId": user,
                "anonymousId": anon,
                "traits": {"email": email, "firstName": user},
                "context": {
                    "externalIds": [
                        {
                            "id": household.removeprefix("household:"),
                            "type": "household",
                        }
                    ]
                },
            },
            {"type": "track", "userId": user, "event": "Product Viewed"},
        ]
    }


def _mentions(wh: Warehouse, names: set[str]) -> dict[str, int]:
    """Rows of every table with any string column equal to any of ``names``."""
    found = {}
    for name in wh.tables():
        t = wh.table(name)
        columns = [c for c, dtype in t.schema().items() if dtype.is_string()]
        if not columns:
            continue
        condition = None
        for column in columns:
            hit = t[column].isin(sorted(names)).fill_null(False)
            condition = hit if condition is None else condition | hit
        n = wh.count(t.filter(condition))
        if n:
            found[name] = n
    return found


def _wait_done(client: httpx.Client, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/v1/privacy/requests/{request_id}").json()
        if status["status"] != "pending":
            return status
        time.sleep(0.2)
    raise AssertionError("the privacy request did not finish in 60 s")


def test_delete_reaches_every_copy_and_suppresses_the_return(
    built_path: Path, tmp_path: Path
) -> None:
    settings = collect_settings(tmp_path, loader_interval_seconds=0.2)
    # SHOPKEEPER_ERASURE_WAREHOUSE runs the same test on another built file,
    # e.g. the full Complete Journey (the acceptance run).
    source = os.environ.get("SHOPKEEPER_ERASURE_WAREHOUSE") or built_path
    shutil.copy(source, tmp_path / "wh.duckdb")
    with connect(settings=settings) as wh:
        (household,) = busiest_households(wh)
        other_household = str(
            wh.execute(
                wh.table("orders")
                .filter(wh.table("orders").identifier != household)
                .identifier.min()
            )
        )
    key = registry(settings).add("web", "web").write_key
    assert key is not None
    events = state_paths(settings)["events"]

    # 1. The person and a neighbour shop online; the collector logs it all.
    with running_server(settings, tmp_path) as server:
        with httpx.Client(base_url=server.url, headers=basic(key)) as client:
            for body in (
                _journey("erase-1", "anon-erase", EMAIL, household),
                _journey("keep-1", "anon-keep", KEEP_EMAIL, other_household),
            ):
                assert client.post("/v1/batch", json=body).status_code == 200
    with connect(settings=settings) as wh:
        assert load_events(wh, events).inserted == 6
        run_build(wh, STAGES, settings=Settings())
        who = resolve(wh, EMAIL)
        assert who.household_id == household
        names = {*who.identifiers, who.customer_id}
        assert {"user:erase-1", "anon:anon-erase", household} <= names
        # Events keep the raw user and anonymous ids; search those too.
        names |= {i.split(":", 1)[1] for i in names if i[:5] in ("user:", "anon:")}
        before = _mentions(wh, names)
        # The customer is everywhere: orders, lines (through orders), events,
        # identity, profiles and recommendations.
        assert {"orders", "events", "identity_map", "profiles_rfm"} <= set(before)
        assert any(t.startswith("recommend") for t in before)
        lines_before = wh.count("order_lines")
        kept_customer = resolve(wh, KEEP_EMAIL).customer_id
        # The online store holds their row, and a push waits in the outbox.
        online = open_store(online_store_url(settings))
        export_online(wh, online)
        assert online.read_many("customer", [who.customer_id]) != [None]
        online.close()
        # (The push consent is generated: The Complete Journey has none.)
        with Outbox(state_paths(settings)["outbox"], lambda c, p: True) as outbox:
            outbox.enqueue("push", "provider", who.customer_id, {"hi": 1}, "k-erase")
            outbox.enqueue("push", "provider", kept_customer, {"hi": 1}, "k-keep")

    # 2. Delete through the API; the server's loader thread does the work.
    with running_server(settings, tmp_path, loader=True) as server:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url, headers=admin) as client:
            refused = client.post(
                "/v1/privacy/requests",
                json={"type": "delete", "identifier": EMAIL},
                headers=basic(key),
            )
            assert refused.status_code == 401  # a write key cannot erase people
            accepted = client.post(
                "/v1/privacy/requests", json={"type": "delete", "identifier": EMAIL}
            )
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["status"] == "pending"
            done = _wait_done(client, accepted.json()["request_id"])
        assert done["status"] == "done", done
        assert done["result"]["tables"]["orders"] == before["orders"]
        assert done["result"]["event_log"]["messages"] == 3
        # 3. The same e-mail comes back from a new device: suppressed, while
        # the neighbour's events still arrive.
        with httpx.Client(base_url=server.url, headers=basic(key)) as client:
            back = {
                "batch": [
                    {
                        "type": "identify",
                        "anonymousId": "new-phone",
                        "traits": {"email": "  erase.me@mailbox.net"},
                    },
                    {"type": "track", "userId": "keep-1", "event": "Cart Viewed"},
                ]
            }
            assert client.post("/v1/batch", json=back).status_code == 200
            single = {"userId": "erase-1", "event": "Order Completed"}
            assert client.post("/v1/track", json=single).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with connect(settings=settings, read_only=True) as wh:
                    if wh.count("events") == 4:
                        break
            except Unavailable:  # the server's loader is writing right now
                pass
            time.sleep(0.2)

    with connect(settings=settings, read_only=True) as wh:
        assert _mentions(wh, names | {"anon:new-phone", "new-phone"}) == {}
        assert wh.count("order_lines") < lines_before
        events_left = wh.execute(wh.table("events"))
        assert set(events_left.user_id.dropna()) == {"keep-1"}
        assert resolve(wh, KEEP_EMAIL).customer_id == kept_customer
        # Rebuilding does not bring the person back.
        assert {t for t in _mentions(wh, names)} == set()
    with connect(settings=settings) as wh:
        run_build(wh, STAGES, ["identity"], settings=Settings())
        assert _mentions(wh, names) == {}
    # Nor do the online store and the outbox; the neighbour's copies stay.
    online = open_store(online_store_url(settings))
    assert online.read_many("customer", [who.customer_id]) == [None]
    assert online.read_many("alias", sorted(names)) == [None] * len(names)
    assert online.read_many("customer", [kept_customer]) != [None]
    online.close()
    with Outbox(state_paths(settings)["outbox"], None) as outbox:
        assert {m.customer_id for m in outbox.messages()} == {kept_customer}
    # The durable log holds nothing of them, in any form.
    raw = b"".join(p.read_bytes() for p in segments(events))
    for needle in ("erase-1", "anon-erase", "new-phone", "Erase.Me", "erase.me"):
        assert needle.encode() not in raw, needle
    assert b"keep-1" in raw
    # The audit keeps the request, but not who it was about.
    privacy_db = state_paths(settings)["privacy"].read_bytes()
    assert b"erase" not in privacy_db.lower()
    assert hash_email(EMAIL).encode() not in privacy_db
    # A replay of the scrubbed log loads the neighbour again, and nobody else.
    with connect(settings=settings) as wh:
        report = load_events(wh, events, replay=True)
        assert report.inserted == 0
        assert report.duplicates == 4


def test_every_table_with_people_declares_its_subjects() -> None:
    """Erasure follows the registry, so a table holding customer data that
    declares no subject would silently keep people after a delete."""
    people_columns = {"identifier", "customer_id", "user_id", "anonymous_id", "subject"}
    for spec in model.TABLES.values():
        named = people_columns & set(spec.columns)
        if named:
            assert spec.subject_columns or spec.subject_via, spec.name
