"""A real ``shopkeeper serve`` in a subprocess, on a free loopback port.

The collector's promises (durable before 200, survives SIGKILL, works with the
official SDKs) are about the real server process, so the tests start one
instead of calling the app in-process.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.server.app import state_paths
from shopkeeper.server.serve import settings_env
from shopkeeper.settings import Settings

__all__ = [
    "ADMIN_TOKEN",
    "Server",
    "basic",
    "collect_settings",
    "free_port",
    "registry",
    "running_server",
    "start_server",
]

ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def basic(key: str) -> dict[str, str]:
    """Segment's auth header: the write key as the Basic user name."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@dataclass
class Server:
    url: str
    settings: Settings
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the server and all its workers: no shutdown code runs."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    settings: Settings, workdir: Path, *, workers: int = 1, loader: bool = False
) -> Server:
    port = free_port()
    log = workdir / f"server-{port}.log"
    env = {**os.environ, **settings_env(settings)}
    cmd = [
        sys.executable,
        "-m",
        "shopkeeper",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loader" if loader else "--no-loader",
    ]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", settings, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.output()}")


@contextmanager
def running_server(
    settings: Settings, workdir: Path, *, workers: int = 1, loader: bool = False
) -> Iterator[Server]:
    server = start_server(settings, workdir, workers=workers, loader=loader)
    try:
        yield server
    finally:
        server.stop()


def collect_settings(root: Path, **overrides: object) -> Settings:
    """Settings whose warehouse and state live under ``root``."""
    return Settings(
        warehouse=f"duckdb:///{root / 'wh.duckdb'}",
        state_dir=str(root / "state"),
        admin_token=ADMIN_TOKEN,
        **overrides,  # type: ignore[arg-type]
    )


def registry(settings: Settings) -> SourceRegistry:
    return SourceRegistry(state_paths(settings)["sources"])
