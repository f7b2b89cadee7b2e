"""``/v1/segments`` in-process on a copy of the real slice."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopkeeper.segments.build import STAGE
from shopkeeper.server.app import create_app, require_admin
from shopkeeper.server.segments_api import segments_router
from shopkeeper.settings import Settings
from shopkeeper.warehouse import connect, run_build

TOKEN = "segments-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Client:
    """Requests straight into the ASGI app (no lifespan: these routes need none)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test"
            ) as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def client(built_path: Path, tmp_path: Path) -> Client:
    shutil.copy(built_path, tmp_path / "wh.duckdb")
    settings = Settings(
        warehouse=f"duckdb:///{tmp_path / 'wh.duckdb'}",
        admin_token=TOKEN,
        state_dir=str(tmp_path / "state"),
    )
    app = create_app(settings)
    if not any(getattr(r, "path", "") == "/v1/segments" for r in app.routes):
        # Until server/app.py mounts the router, mount it the same way here.
        app.include_router(segments_router(require_admin, {}))
    return Client(app)


def test_create_list_show_and_preview(client: Client) -> None:
    made = client.post(
        "/v1/segments",
        json={"name": "big_spenders", "definition": "monetary > 2000"},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 1
    listed = client.get("/v1/segments", headers=ADMIN).json()
    assert [(s["name"], s["members"]) for s in listed] == [("big_spenders", None)]
    settings = client.app.state.settings
    with connect(settings=settings) as wh:
        run_build(wh, [STAGE], settings=settings)
        rfm = wh.table("profiles_rfm")
        spenders = wh.count(rfm.filter(rfm.monetary > 2000))
    shown = client.get("/v1/segments/big_spenders", headers=ADMIN).json()
    assert shown["members"] == spenders > 0
    assert shown["history"][0]["entered"] == spenders
    preview = client.post(
        "/v1/segments/preview",
        json={"definition": "monetary > 2000", "sample": 3},
        headers=ADMIN,
    ).json()
    assert preview["size"] == spenders and len(preview["sample"]) == 3
    assert all(r["monetary"] > 2000 for r in preview["sample"])


def test_errors_name_the_position_and_need_the_token(client: Client) -> None:
    bad = client.post(
        "/v1/segments/preview", json={"definition": "clv52 > 3"}, headers=ADMIN
    )
    assert bad.status_code == 400
    assert "unknown field 'clv52' at 1:1; did you mean clv_52w?" in bad.text
    assert client.get("/v1/segments").status_code == 401
    assert client.get("/v1/segments/nobody", headers=ADMIN).status_code == 404
    refused = client.post(
        "/v1/segments",
        json={"name": "Bad Name", "definition": "frequency > 1"},
        headers=ADMIN,
    )
    assert refused.status_code == 400 and "segment name" in refused.text
