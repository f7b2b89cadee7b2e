"""POST /v1/decide over real HTTP on a real Complete Journey slice: reasons and
propensities, consent, quiet hours, caps under concurrency, feedback that
the policy learns from, and exposures that reach the warehouse.

The consent decisions and feedback events are generated (The Complete
Journey has none); the customers, their baskets and recommendations are real.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

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


@pytest.fixture(scope="module")
def server(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("decide")
    shutil.copy(built_path, root / "wh.duckdb")
    settings = collect_settings(
        root,
        loader_interval_seconds=0.3,
        decide_daily_caps={"email": 1, "push": 2},
        decide_quiet_hours=(22, 7),
    )
    store = open_store(online_store_url(settings))
    with connect(settings=settings, read_only=True) as wh:
        counts = export_online(wh, store)
    store.close()
    assert counts["customer"] > 50
    with running_server(settings, root, loader=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def households(built_path: Path) -> list[str]:
    with connect(f"duckdb:///{built_path}", read_only=True) as wh:
        return busiest_households(wh, 6)


def _decide(server: Server, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/v1/decide", json=body, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_known_customer_gets_personal_items_with_reasons(
    server: Server, households: list[str]
) -> None:
    decision = _decide(
        server, identifier=households[0], channel="web", placement="home", limit=5
    )
    assert decision["personalized"] and decision["customer_id"].startswith("cus_")
    assert len(decision["items"]) == 5
    assert [i["rank"] for i in decision["items"]] == [1, 2, 3, 4, 5]
    assert all(0 < i["propensity"] <= 1 for i in decision["items"])
    assert any(not i["reason"].startswith("popular") for i in decision["items"])
    assert decision["decision_id"].startswith("dec_")
    # The cart's items are not offered again.
    cart = [i["item_id"] for i in decision["items"]]
    again = _decide(
        server,
        identifier=households[0],
        channel="web",
        placement="home",
        context={"cart": cart},
    )
    assert not set(cart) & {i["item_id"] for i in again["items"]}


def test_anonymous_visitor_gets_popular_items(server: Server) -> None:
    decision = _decide(
        server, anonymous_id="never-seen", channel="web", placement="home"
    )
    assert decision["customer_id"] is None and not decision["personalized"]
    assert all(i["reason"].startswith("popular") for i in decision["items"])


def test_new_for_you_shows_products_the_customer_never_bought(
    server: Server, households: list[str], built_path: Path
) -> None:
    decision = _decide(
        server,
        identifier=households[1],
        channel="app",
        placement="new-for-you",
        kind="new",
        limit=4,
    )
    assert decision["personalized"] and decision["kind"] == "new"
    with connect(f"duckdb:///{built_path}", read_only=True) as wh:
        found = wh.table("discoveries")
        mine = wh.execute(
            found.filter(found.customer_id == decision["customer_id"]).product_id
        )
        orders, lines = wh.table("orders"), wh.table("order_lines")
        people = wh.table("identity_map")
        bought = wh.execute(
            orders.join(lines, "order_id")
            .join(people, orders.identifier == people.identifier)
            .filter(people.customer_id == decision["customer_id"])
            .product_id
        )
    shown = [i["item_id"] for i in decision["items"]]
    assert len(mine) >= 4 and len(shown) == 4
    assert set(shown) <= set(mine) and not set(shown) & set(bought)
    assert all(i["reason"] and 0 < i["propensity"] <= 1 for i in decision["items"])
    # A stranger has no history to be new to: best sellers stand in.
    stranger = _decide(
        server, anonymous_id="someone-new", channel="web", placement="new", kind="new"
    )
    assert all(i["reason"].startswith("popular") for i in stranger["items"])


def test_bad_requests_are_refused_precisely(server: Server) -> None:
    answer = httpx.post(
        f"{server.url}/v1/decide",
        json={"channel": "fax", "placement": "x"},
        headers=ADMIN,
    )
    assert answer.status_code == 400 and "channel" in answer.text
    no_token = httpx.post(
        f"{server.url}/v1/decide", json={"channel": "web", "placement": "x"}
    )
    assert no_token.status_code == 401


def test_email_needs_consent_and_a_revocation_stops_it_within_a_second(
    server: Server, households: list[str]
) -> None:
    who = households[1]
    refused = _decide(server, identifier=who, channel="email", placement="weekly")
    assert refused["items"] == [] and refused["refused"] == "no email consent granted"
    granted = httpx.put(
        f"{server.url}/v1/consents/{who}",
        json={"purpose": "email", "status": "granted"},
        headers=ADMIN,
    )
    assert granted.status_code == 200, granted.text
    sent = _decide(server, identifier=who, channel="email", placement="weekly")
    assert sent["items"] and sent["refused"] is None
    # The shopper revokes in the app, signed in as user "app-<n>": a tracked
    # Consent Updated event. (The app login is generated: the identity build
    # would link it; here its alias is written to the online store directly.)
    user = f"app-{time.monotonic_ns()}"
    store = open_store(online_store_url(server.settings))
    store.write_batch("alias", [(f"user:{user}", {"customer_id": sent["customer_id"]})])
    store.close()
    key = registry(server.settings).add(user, "app").write_key
    assert key is not None
    event = {
        "userId": user,
        "event": "Consent Updated",
        "properties": {"purpose": "email", "status": "revoked"},
    }
    started = time.monotonic()
    assert (
        httpx.post(f"{server.url}/v1/track", json=event, headers=basic(key)).status_code
        == 200
    )
    while True:
        again = _decide(server, identifier=who, channel="email", placement="weekly2")
        if again["refused"] == "no email consent granted":
            break
        assert time.monotonic() - started < 1.0, again
        time.sleep(0.05)


def test_daily_cap_holds_under_concurrent_requests(
    server: Server, households: list[str]
) -> None:
    who = households[2]
    httpx.put(
        f"{server.url}/v1/consents/{who}",
        json={"purpose": "push", "status": "granted"},
        headers=ADMIN,
    )
    body = {
        "identifier": who,
        "channel": "push",
        "placement": "offers",
        "context": {"local_hour": 12},
    }
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _decide(server, **body), range(16)))
    sent = [a for a in answers if a["items"]]
    assert len(sent) == 2  # the push cap is 2 a day
    assert {a["refused"] for a in answers if not a["items"]} == {
        "daily cap of 2 push decision(s) reached"
    }


def test_quiet_hours_hold_for_push(server: Server, households: list[str]) -> None:
    who = households[3]
    httpx.put(
        f"{server.url}/v1/consents/{who}",
        json={"purpose": "push", "status": "granted"},
        headers=ADMIN,
    )
    night = _decide(
        server,
        identifier=who,
        channel="push",
        placement="p",
        context={"local_hour": 23},
    )
    assert night["refused"] == "quiet hours (22:00-07:00)"


def test_feedback_is_learned_and_exposures_reach_the_warehouse(
    server: Server, households: list[str]
) -> None:
    who = households[4]
    decision = _decide(server, identifier=who, channel="app", placement="feed")
    clicked = decision["items"][-1]["item_id"]
    key = registry(server.settings).add(f"web-{time.monotonic_ns()}", "web").write_key
    assert key is not None
    click = {
        "userId": "someone",
        "event": "Product Clicked",
        "properties": {"decision_id": decision["decision_id"], "product_id": clicked},
    }
    for _ in range(3):  # retries and double clicks count once
        httpx.post(f"{server.url}/v1/track", json=click, headers=basic(key))
    store = open_store(online_store_url(server.settings))
    deadline = time.monotonic() + 5
    while store.incr(f"arm:clicks:feed|{clicked}", 0) != 1:
        assert time.monotonic() < deadline, "the click was not learned"
        time.sleep(0.1)
    time.sleep(1.5)  # one more sync: still exactly one click
    assert store.incr(f"arm:clicks:feed|{clicked}", 0) == 1
    assert store.incr(f"arm:shows:feed|{clicked}", 0) >= 1
    store.close()
    # The exposures are in the warehouse with their propensities and reasons.
    deadline = time.monotonic() + 20
    while True:
        try:
            with connect(settings=server.settings, read_only=True) as wh:
                t = wh.table("exposures") if wh.exists("exposures") else None
                rows = (
                    wh.execute(t.filter(t.decision_id == decision["decision_id"]))
                    if t is not None
                    else None
                )
        except Unavailable:
            rows = None
        if rows is not None and len(rows) == len(decision["items"]):
            break
        assert time.monotonic() < deadline, "exposures did not reach the warehouse"
        time.sleep(0.2)
    by_item = rows.set_index("item_id")
    for item in decision["items"]:
        row = by_item.loc[item["item_id"]]
        assert row.propensity == pytest.approx(item["propensity"])
        assert row.reason == item["reason"] and row.placement == "feed"
        assert row.identifier == decision["customer_id"]
