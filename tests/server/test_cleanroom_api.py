"""``POST /v1/cleanroom/query`` over HTTP: only partner keys, reasons on refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.server.app import create_app, state_paths
from shopkeeper.server.cleanroom_api import cleanroom_router
from shopkeeper.settings import Settings
from shopkeeper.trust.cleanroom import CleanRoom
from shopkeeper.trust.cleanroom_registry import PartnerRegistry
from shopkeeper.warehouse import connect
from tests.collect.server import ADMIN_TOKEN, basic
from tests.trust.test_cleanroom import MANUFACTURER, N, grant_sharing, store_with_few

TOTAL = {"view": "brand_sales", "measures": ["sum(sales_value)"]}


def _mounted(app: FastAPI) -> bool:
    return any(
        getattr(r, "path", None) == "/v1/cleanroom/query" for r in app.router.routes
    )


@pytest.fixture(scope="module")
def app(built_path: Path, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    root = tmp_path_factory.mktemp("cleanroom-api")
    granted = grant_sharing(built_path, root / "wh.duckdb")
    with connect(f"duckdb:///{root / 'wh.duckdb'}", read_only=True) as wh:
        store = store_with_few(wh, granted, shop_elsewhere=False)
    settings = Settings(
        warehouse=f"duckdb:///{root / 'wh.duckdb'}",
        state_dir=str(root / "state"),
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        collect_fsync=False,
    )
    app = create_app(settings)
    # The slice is small: the same rules with a crowd of 10 instead of 50.
    app.state.cleanroom = CleanRoom(
        PartnerRegistry(state_paths(settings)["root"] / "cleanroom.sqlite"),
        min_crowd=N,
    )
    app.state.few_store = store
    if not _mounted(app):
        app.include_router(cleanroom_router({}))
    return app


class Client:
    """Requests straight into the app (ASGI, no socket): the clean room's
    thresholds are set on the app object, which a server process cannot see."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://shopkeeper"
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Client:
    return Client(app)


def _partner(app: FastAPI, name: str) -> dict[str, str]:
    room: CleanRoom = app.state.cleanroom
    key = room.registry.add(name, [MANUFACTURER]).key
    return {"Authorization": f"Bearer {key}"}


def _post(client: Client, headers: dict[str, str], body: Any) -> Any:
    return client.post("/v1/cleanroom/query", json=body, headers=headers)


def test_a_partner_key_gets_an_aggregate(app: FastAPI, client: Client) -> None:
    response = _post(client, _partner(app, "Answered"), TOTAL)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["partner"] == "Answered" and answer["min_crowd"] == N
    assert answer["columns"] == ["customers", "sum_sales_value"]
    assert answer["rows"][0]["customers"] >= N
    assert answer["rows"][0]["sum_sales_value"] > 0
    views = client.get("/v1/cleanroom/views", headers=_partner(app, "Views"))
    assert {v["view"] for v in views.json()} == {"brand_sales", "brand_buyers"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing partner key"),
        ({"Authorization": "Bearer nope"}, "unknown partner key"),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}"}, "admin token does not open"),
    ],
)
def test_only_partner_keys_open_it(
    client: Client, headers: dict[str, str], reason: str
) -> None:
    response = _post(client, headers, TOTAL)
    assert response.status_code == 401
    assert reason in response.json()["message"]


def test_a_write_key_is_refused(app: FastAPI, client: Client) -> None:
    registry: SourceRegistry = app.state.sources
    write_key = registry.add("web-cleanroom", "web").write_key
    assert write_key
    response = _post(client, basic(write_key), TOTAL)
    assert response.status_code == 401
    assert "write keys can only write events" in response.json()["message"]


def test_a_disabled_partner_is_refused(app: FastAPI, client: Client) -> None:
    headers = _partner(app, "Gone")
    app.state.cleanroom.registry.set_status("Gone", "disabled")
    response = _post(client, headers, TOTAL)
    assert response.status_code == 403
    assert "disabled" in response.json()["message"]


def test_refusals_say_why(app: FastAPI, client: Client) -> None:
    headers = _partner(app, "Attacker")
    identifier = _post(
        client, headers, {"view": "brand_sales", "dimensions": ["customer_id"]}
    )
    assert identifier.status_code == 422
    assert "customer_id is an identifier" in identifier.json()["message"]
    small = _post(client, headers, TOTAL | {"dimensions": ["store_id"]})
    assert small.status_code == 403
    assert f"fewer than {N} distinct customers" in small.json()["message"]
    assert _post(client, headers, TOTAL).status_code == 200
    store = app.state.few_store
    pair = TOTAL | {"filters": [{"column": "store_id", "op": "!=", "value": store}]}
    overlapping = _post(client, headers, pair)
    assert overlapping.status_code == 403
    assert "isolate a group smaller than" in overlapping.json()["message"]
    not_object = _post(client, headers, ["brand_sales"])
    assert not_object.status_code == 400
    log = app.state.cleanroom.registry.queries(
        app.state.cleanroom.registry.get("Attacker")
    )
    outcomes = ["refused", "answered", "refused", "invalid"]
    assert [e["outcome"] for e in log] == outcomes
