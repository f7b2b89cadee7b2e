"""``shopkeeper serve``: uvicorn workers plus the loader that feeds the warehouse.

Workers are separate processes (uvicorn spawns them), so they get the settings
through ``SHOPKEEPER_*`` environment variables and each opens its own event
log segment, and each listens on a socket of its own (``SO_REUSEPORT``) so the
kernel spreads connections across them. The loader runs as a thread in the
supervising process: it opens the warehouse only for the moment of a
micro-batch, so `shopkeeper build` and other commands can still use the DuckDB
file between loads; when the file is busy the loader simply tries again at the
next tick (the log keeps the events).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import Any

from shopkeeper.activate.outbox import Outbox
from shopkeeper.collect.eventloader import EventLoadReport, load_events
from shopkeeper.collect.suppression import SuppressionList
from shopkeeper.decide.online_store import open_store
from shopkeeper.errors import ConfigError, ShopkeeperError, Unavailable
from shopkeeper.server.app import state_paths
from shopkeeper.server.profiles_api import WRITE_LOCK
from shopkeeper.server.realtime import online_store_url
from shopkeeper.settings import Settings
from shopkeeper.trust.requests import PrivacyRequests, run_request

__all__ = [
    "LoaderThread",
    "load_once",
    "run_privacy_requests",
    "serve",
    "settings_env",
]

log = logging.getLogger("shopkeeper.loader")


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables a spawned worker reads back."""
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, dict | list | tuple):
            value = json.dumps(value)  # how pydantic-settings reads complex fields
        env[f"SHOPKEEPER_{name.upper()}"] = str(value)
    return env


def load_once(settings: Settings, *, replay: bool = False) -> EventLoadReport:
    """One loader pass: open the warehouse, load new log records, close it."""
    from shopkeeper.warehouse import connect

    with connect(settings=settings) as wh:
        return load_events(wh, state_paths(settings)["events"], replay=replay)


def run_privacy_requests(settings: Settings) -> list[str]:
    """Carry out every pending privacy request; returns the ids finished.

    A request about someone the warehouse cannot find still suppresses and
    scrubs the log; one that fails for a reason of its own is closed as
    failed with that reason, while a busy warehouse leaves it pending.
    """
    from shopkeeper.warehouse import connect

    paths = state_paths(settings)
    if not paths["privacy"].exists():
        return []
    requests = PrivacyRequests(paths["privacy"], SuppressionList(paths["suppression"]))
    todo = requests.pending()
    if not todo:
        return []
    done = []
    online = open_store(online_store_url(settings))
    outbox = Outbox(paths["outbox"], None) if paths["outbox"].exists() else None
    with connect(settings=settings) as wh:
        for request_id, type_, identifier in todo:
            try:
                result = run_request(
                    wh,
                    requests,
                    paths["events"],
                    request_id,
                    type_,
                    identifier,
                    online=online,
                    outbox=outbox,
                )
            except ShopkeeperError as exc:
                if isinstance(exc, Unavailable):
                    raise
                requests.finish(request_id, result=None, error=exc.message)
            else:
                requests.finish(request_id, result=result, error=None)
            done.append(request_id)
            log.info("privacy request %s (%s) finished", request_id, type_)
    online.close()
    if outbox is not None:
        outbox.close()
    return done


class LoaderThread(threading.Thread):
    """Runs :func:`load_once` every ``loader_interval_seconds`` until stopped.

    A loader pass that fails (the DuckDB file held by another command, a full
    disk) is logged and retried at the next tick; the thread never dies of it.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="shopkeeper-loader", daemon=True)
        self.settings = settings
        self.stopping = threading.Event()
        self.loaded = 0

    def run(self) -> None:
        while not self.stopping.wait(self.settings.loader_interval_seconds):
            self.tick()

    def tick(self) -> None:
        with WRITE_LOCK:
            self._tick()

    def _tick(self) -> None:
        try:
            run_privacy_requests(self.settings)
        except Exception as exc:  # as for loading: retried at the next tick
            log.warning("privacy: will retry next tick: %s", str(exc).splitlines()[0])
        try:
            report = load_once(self.settings)
        except Exception as exc:  # a loader must outlive any one bad pass
            log.warning("loader: will retry next tick: %s", str(exc).splitlines()[0])
            return
        self.loaded += report.inserted
        if report.records:
            log.info(
                "loader: %d events read, %d new, %d duplicates",
                report.records,
                report.inserted,
                report.duplicates,
            )

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.tick()


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    loader: bool = True,
    access_log: bool = False,
) -> None:
    """Run the service until interrupted; a last loader pass runs on the way out."""
    import uvicorn

    os.environ.update(settings_env(settings))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    thread = LoaderThread(settings) if loader else None
    if thread is not None:
        thread.start()
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": access_log,
        "timeout_graceful_shutdown": 10,
    }
    # uvicorn's own httptools protocol (uvicorn[standard] installs httptools),
    # but a response's head and body leave in one write (http_protocol.py).
    options["http"] = "shopkeeper.server.http_protocol:OneWriteHttpToolsProtocol"
    try:
        if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
            from uvicorn.supervisors import Multiprocess

            # Bound here first, so a port already taken fails now with a
            # clear error instead of failing in every worker uvicorn restarts;
            # held, not listened on, so it takes no connections.
            try:
                (reserved,) = reuse_port_socket(host, port)
            except OSError as exc:
                raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
            with reserved:
                config = uvicorn.Config("shopkeeper.server.app:create_app", **options)
                Multiprocess(config, sockets=OwnSocket(host, port)).run()
        else:
            uvicorn.run("shopkeeper.server.app:create_app", **options)
    finally:
        if thread is not None:
            thread.stop()


class OwnSocket(list):  # type: ignore[type-arg]
    """The listening sockets handed to each uvicorn worker: a fresh one each.

    uvicorn's workers share one listening socket, and whichever wakes first
    accepts every connection waiting: the 20 keep-alive connections of a
    load generator all went to one of two workers, and the other idled. With
    a socket of its own per worker, bound with ``SO_REUSEPORT``, the kernel
    spreads connections across the workers. uvicorn's supervisor passes the
    same sockets to every worker it starts or restarts, pickled; this list is
    empty in the supervisor and unpickles, in each worker, as one new socket.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, ...]:
        return reuse_port_socket, (self.host, self.port)


def reuse_port_socket(host: str, port: int) -> list[socket.socket]:
    """A socket bound to (host, port) that other workers may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return [sock]
