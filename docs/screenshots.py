"""Screenshots of the dashboard on a real warehouse, for the README.

    python docs/screenshots.py --warehouse duckdb:////abs/path/shopkeeper.duckdb

Starts ``shopkeeper serve`` on a free loopback port with a throw-away admin
token, logs in with Debian's Chromium (Playwright, never a downloaded
browser), and saves PNGs of the customer 360 page of the busiest household,
the channel report and a campaign readout under docs/images/.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
MAX_HEIGHT = 2400
"""Long pages (a customer's whole timeline) are cut here: the top tells."""
PAGES = {
    "customer-360": "/ui/customers/{household}",
    "channels": "/ui/channels",
    "campaign-readout": "/ui/campaigns/{campaign}",
    "overview": "/ui",
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _busiest(url: str) -> str:
    from shopkeeper.warehouse import connect

    with connect(url, read_only=True) as wh:
        orders = wh.table("orders")
        top = (
            orders.group_by("identifier")
            .agg(n=orders.count())
            .order_by([orders.count().desc(), "identifier"])
            .limit(1)
        )
        return str(wh.execute(top).identifier[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--household", help="default: the one with most orders")
    parser.add_argument("--campaign", default="18")
    parser.add_argument("--out", type=Path, default=HERE / "images")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    household = args.household or _busiest(args.warehouse)
    token = secrets.token_urlsafe(16)
    port = _port()
    state = tempfile.mkdtemp(prefix="sk-shots-")
    env = {
        **os.environ,
        "SHOPKEEPER_WAREHOUSE": args.warehouse,
        "SHOPKEEPER_STATE_DIR": state,
        "SHOPKEEPER_ADMIN_TOKEN": token,
    }
    cmd = [sys.executable, "-m", "shopkeeper", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--no-loader"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://localhost:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/ui/login")
            page.fill("input[name=token]", token)
            page.click("form.login button[type=submit]")
            page.wait_for_url(f"{base}/ui")
            for name, path in PAGES.items():
                url = base + path.format(household=household, campaign=args.campaign)
                page.goto(url, timeout=120_000)
                if name == "customer-360":
                    page.locator("#timeline details").first.click()
                shot = args.out / f"{name}.png"
                height = min(MAX_HEIGHT, page.evaluate("document.body.scrollHeight"))
                page.screenshot(
                    path=str(shot),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": height},
                )
                print(f"{shot.relative_to(HERE.parent)}: {url}")
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


if __name__ == "__main__":
    main()
