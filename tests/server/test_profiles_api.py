"""The customer 360 API over real HTTP, on a real Complete Journey slice."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopkeeper.warehouse import connect
from tests.collect.server import (
    ADMIN_TOKEN,
    Server,
    basic,
    collect_settings,
    registry,
    running_server,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def server(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("profiles-api")
    shutil.copy(built_path, root / "wh.duckdb")
    with running_server(collect_settings(root), root) as srv:
        yield srv


@pytest.fixture(scope="module")
def household(built_path: Path) -> str:
    """The sampled household with the most orders."""
    with connect(f"duckdb:///{built_path}", read_only=True) as wh:
        t = wh.table("orders")
        top = (
            t.group_by("identifier")
            .agg(n=t.count())
            .order_by([t.count().desc(), "identifier"])
        )
        return str(wh.to_arrow(top.limit(1)).column("identifier")[0])


def test_profile_resolves_a_household(server: Server, household: str) -> None:
    response = httpx.get(f"{server.url}/v1/profiles/{household}", headers=ADMIN)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["household_id"] == household
    assert household in view["identifiers"]
    assert view["profile"]["frequency"] > 0
    assert view["recommendations"] and view["recommendations"][0]["reason"]
    assert view["discoveries"] and view["discoveries"][0]["reason"]
    new = {d["product_id"] for d in view["discoveries"]}
    assert not new & {
        r["product_id"]
        for r in view["recommendations"]
        if r["reason"].startswith("you buy this")
    }
    assert view["lifetime_value"]["as_of"] == view["profile"]["as_of"]
    # The same customer by its bare household number and by its customer id.
    bare = household.removeprefix("household:")
    for alias in (bare, view["customer_id"]):
        again = httpx.get(f"{server.url}/v1/profiles/{alias}", headers=ADMIN).json()
        assert again["customer_id"] == view["customer_id"]


def test_timeline_pages_through_real_orders(server: Server, household: str) -> None:
    url = f"{server.url}/v1/profiles/{household}/timeline"
    first = httpx.get(url, params={"limit": 5}, headers=ADMIN).json()
    second = httpx.get(
        url, params={"limit": 5, "cursor": first["next_cursor"]}, headers=ADMIN
    ).json()
    items = first["items"] + second["items"]
    assert len(items) == 10
    assert len({i["item_id"] for i in items}) == 10
    times = [i["at"] for i in items]
    assert times == sorted(times, reverse=True)
    orders = [i for i in items if i["kind"] == "order"]
    assert orders and all(o["lines"] for o in orders)
    assert all(line["sales_value"] is not None for o in orders for line in o["lines"])


def test_profiles_need_the_admin_token(server: Server, household: str) -> None:
    url = f"{server.url}/v1/profiles/{household}"
    assert httpx.get(url).status_code == 401
    key = registry(server.settings).add("web", "web").write_key
    assert key
    refused = httpx.get(url, headers=basic(key))
    assert refused.status_code == 401
    assert "only write events" in refused.json()["message"]


def test_unknown_identifier_and_bad_cursor(server: Server) -> None:
    missing = httpx.get(f"{server.url}/v1/profiles/user:nobody", headers=ADMIN)
    assert missing.status_code == 404
    assert "no customer" in missing.json()["message"]
    bad = httpx.get(
        f"{server.url}/v1/profiles/household:1/timeline",
        params={"cursor": "not-a-cursor"},
        headers=ADMIN,
    )
    assert bad.status_code in (400, 404)


def test_privacy_export_is_a_zip_of_the_household(
    server: Server, household: str
) -> None:
    url = f"{server.url}/v1/privacy/export/{household}"
    response = httpx.get(url, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    export = json.loads(archive.read("export.json"))
    assert {o["identifier"] for o in export["tables"]["orders"]} == {household}
    key = registry(server.settings).add("web-export", "web").write_key
    assert key
    assert httpx.get(url, headers=basic(key)).status_code == 401


def test_put_consent_appends_to_the_ledger(server: Server, household: str) -> None:
    url = f"{server.url}/v1/consents/{household}"
    body = {"purpose": "email", "status": "revoked", "evidence": "preference form v2"}
    response = httpx.put(url, json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    current = {c["purpose"]: c for c in response.json()["consents"]}
    assert current["email"]["status"] == "revoked"
    assert current["email"]["source"] == "api"
    again = httpx.get(url, headers=ADMIN).json()
    assert again == response.json()
    view = httpx.get(f"{server.url}/v1/profiles/{household}", headers=ADMIN).json()
    assert {c["purpose"]: c["status"] for c in view["consents"]}["email"] == "revoked"
    wrong = httpx.put(url, json={**body, "purpose": "mail"}, headers=ADMIN)
    assert wrong.status_code == 400 and "purpose" in wrong.json()["message"]
    key = registry(server.settings).add("web-consent", "web").write_key
    assert key
    assert httpx.put(url, json=body, headers=basic(key)).status_code == 401
