"""Fixtures for the dashboard: a logged-in HTTP client, a real server, a real browser.

The dashboard is tested as a person uses it: a real ``shopkeeper serve``
process, Debian's Chromium driven by Playwright (never ``playwright
install``: nothing can be downloaded here), a real login through the form.
Every page a browser test opens must log no console error; screenshots go to
``test-artifacts/`` (or ``$SHOPKEEPER_TEST_ARTIFACTS``) for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopkeeper.settings import Settings
from tests.collect.server import ADMIN_TOKEN, Server, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SHOPKEEPER_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def ui_root(built_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the built slice (segments get created) and a state dir."""
    root = tmp_path_factory.mktemp("ui")
    shutil.copy(built_path, root / "wh.duckdb")
    return root


@pytest.fixture(scope="session")
def ui_settings(ui_root: Path) -> Settings:
    return Settings(
        warehouse=f"duckdb:///{ui_root / 'wh.duckdb'}",
        state_dir=str(ui_root / "state"),
        admin_token=ADMIN_TOKEN,
    )


class Http:
    """An HTTP client for the real server that keeps the dashboard's cookies.

    The cookies are Secure, and a standard cookie jar only sends those over
    HTTPS; a browser also sends them to http://localhost. This client keeps
    them itself, as such a browser does, so the tests speak plain HTTP.
    """

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = self.http.request(method, path, headers=headers, **kwargs)
        for line in answer.headers.get_list("set-cookie"):
            jar = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return answer

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.http.close()


def login(client: Http, token: str = ADMIN_TOKEN) -> None:
    """Log in through the form, exactly as a browser does."""
    form = client.get("/ui/login").text
    answer = client.post(
        "/ui/login",
        data={"token": token, "csrf": form_token(form), "next": "/ui"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def form_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


@pytest.fixture(scope="session")
def ui_server(ui_settings: Settings, ui_root: Path) -> Iterator[Server]:
    server = start_server(ui_settings, ui_root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anonymous_client(ui_server: Server) -> Iterator[Http]:
    client = Http(ui_server.url)
    yield client
    client.close()


@pytest.fixture
def ui_client(anonymous_client: Http) -> Http:
    login(anonymous_client)
    return anonymous_client


@dataclass
class Browser:
    """A logged-in page that records console errors and uncaught exceptions."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        answer = self.page.goto(self.base + path)
        assert answer is not None and answer.ok, f"{path}: {answer and answer.status}"

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Per module, not per session: Playwright's sync API keeps an event loop
    # running in this thread while it is open, and tests after it that call
    # asyncio.run() would fail.
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: .ci/run installs it (apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: Any, ui_server: Server) -> Iterator[Browser]:
    # localhost, not 127.0.0.1: browsers treat it as a secure context and keep
    # the Secure session cookie over plain HTTP there.
    base = ui_server.url.replace("127.0.0.1", "localhost")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    b = Browser(page, base)
    page.on(
        "console",
        lambda m: (
            b.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda e: b.problems.append(f"page error: {e}"))
    page.goto(f"{base}/ui/login")
    page.fill("input[name=token]", ADMIN_TOKEN)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/ui")
    yield b
    context.close()
    assert not b.problems, b.problems
