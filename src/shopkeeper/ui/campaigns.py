"""The Campaigns & measurement section: campaigns, readouts, channels, uplift.

The all-channels report reads out every campaign and fits the attribution
model (3-5 s on the full Complete Journey), too slow to run per page view;
:class:`WarehouseResults` keeps it per process until the warehouse file
changes. A single campaign's readout takes 1-2 s there (most of it
pulling the campaign's spend windows) and is kept the same way.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import APIRouter, Request, Response

from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.settings import Settings
from shopkeeper.ui.pages import render
from shopkeeper.ui.router import Session, settings_of
from shopkeeper.ui.views.campaigns import (
    campaign_list,
    campaign_page,
    channels_page,
    parse_costs,
    uplift_page,
)
from shopkeeper.warehouse import Warehouse

__all__ = ["WarehouseResults", "router"]


def warehouse_version(url: str) -> tuple[int, ...] | None:
    """The DuckDB file's and its WAL's modification times; None when the
    warehouse is not a local file (nothing is then kept)."""
    if not url.startswith("duckdb://"):
        return None
    path = url.removeprefix("duckdb://").removeprefix("/")
    if not path or path == ":memory:":
        return None
    stamps = []
    for name in (path, path + ".wal"):
        try:
            stamps.append(os.stat(name).st_mtime_ns)
        except FileNotFoundError:
            stamps.append(0)
    return tuple(stamps)


class WarehouseResults:
    """Slow page results kept until the warehouse changes, owned by a router.

    A result is keyed by what the page asked (``key``) and stored with the
    warehouse file's version (taken before computing, so a write during the
    computation is seen next time); any write to the file (a build, the
    loader) changes the version and the next view computes afresh. One lock
    per key: two people opening the same slow page share one computation,
    while other pages are not held up behind it.
    """

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._entries: OrderedDict[Hashable, tuple[tuple[int, ...], dict[str, Any]]] = (
            OrderedDict()
        )

    def _kept(self, key: Hashable, version: tuple[int, ...] | None) -> Any:
        with self._lock:
            kept = self._entries.get(key)
            if version is None or kept is None or kept[0] != version:
                return None
            self._entries.move_to_end(key)
            return kept[1]

    def get(
        self,
        settings: Settings,
        key: Hashable,
        compute: Callable[[Warehouse], dict[str, Any]],
    ) -> dict[str, Any]:
        """``compute(wh)`` with ``computed_at`` and ``seconds`` added, or the
        kept copy of it if the warehouse has not changed since."""
        full_key = (settings.warehouse, key)
        with self._lock:
            key_lock = self._key_locks.setdefault(full_key, threading.Lock())
        with key_lock:
            version = warehouse_version(settings.warehouse)
            kept = self._kept(full_key, version)
            if kept is not None:
                return dict(kept)
            started = time.perf_counter()
            with read_warehouse(settings) as wh:
                data = compute(wh)
            data["computed_at"] = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
            data["seconds"] = round(time.perf_counter() - started, 2)
            if version is not None:
                with self._lock:
                    self._entries[full_key] = (version, data)
                    while len(self._entries) > self.max_entries:
                        old, _ = self._entries.popitem(last=False)
                        self._key_locks.pop(old, None)
            return dict(data)


def router() -> APIRouter:
    """The section's pages, each with its ``.json`` twin."""
    r = APIRouter(include_in_schema=False)
    results = WarehouseResults()

    @r.get("/ui/campaigns")
    @r.get("/ui/campaigns.json")
    def campaigns(request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = campaign_list(wh)
        return render(
            request,
            "campaigns.html",
            data,
            title="Campaigns",
            section="campaigns",
            session=session,
        )

    @r.get("/ui/campaigns/{campaign_id}")
    @r.get("/ui/campaigns/{campaign_id}.json")
    def campaign(campaign_id: str, request: Request, session: Session) -> Response:
        data = results.get(
            settings_of(request),
            ("readout", campaign_id),
            lambda wh: campaign_page(wh, campaign_id),
        )
        c = data["campaign"]
        return render(
            request,
            "campaigns_readout.html",
            data,
            title=f"{c['name'] or 'Campaign ' + c['campaign_id']}: readout",
            section="campaigns",
            session=session,
        )

    @r.get("/ui/channels")
    @r.get("/ui/channels.json")
    def channels(
        request: Request, session: Session, costs: str | None = None
    ) -> Response:
        """All channels; ``costs`` (``email=0.01, direct_mail=0.45``) is the
        cost per contact by channel, for ROI."""
        per_contact = parse_costs(costs)
        key = ("channels", tuple(sorted(per_contact.items())))
        data = results.get(
            settings_of(request),
            key,
            lambda wh: channels_page(wh, costs=per_contact),
        )
        data = {**data, "costs_text": costs or ""}
        return render(
            request,
            "channels.html",
            data,
            title="All channels",
            section="campaigns",
            session=session,
        )

    @r.get("/ui/uplift")
    @r.get("/ui/uplift.json")
    def uplift(request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = uplift_page(wh)
        return render(
            request,
            "campaigns_uplift.html",
            data,
            title="Uplift models",
            section="campaigns",
            session=session,
        )

    return r
