"""``GET /v1/profiles/{identifier}`` and its timeline: the customer 360 over HTTP.

Admin token only: these answers hold a person's history, and write keys may
only write events. The warehouse is opened read-only for each request and
closed at once, because an embedded DuckDB file admits one writing process at
a time and the loader must still get its turn; a request that finds the file
busy waits briefly, then answers 503 with Retry-After.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from shopkeeper.errors import Unavailable
from shopkeeper.profiles.customer360 import customer_view, timeline
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

__all__ = ["WRITE_LOCK", "profiles_router", "read_warehouse"]

WRITE_LOCK = threading.Lock()
"""One writer per server process: DuckDB shares one database between the
connections of a process, so the loader thread and a request that records a
consent would otherwise conflict on the same table."""


@contextmanager
def read_warehouse(
    settings: Settings, *, wait_seconds: float = 3.0, read_only: bool = True
) -> Iterator[Warehouse]:
    """The warehouse for one request (read-only unless asked), waiting out a
    short lock held by the loader or another command."""
    deadline = time.monotonic() + wait_seconds
    if not read_only and not WRITE_LOCK.acquire(timeout=wait_seconds):
        raise Unavailable("the warehouse is busy writing; try again", retry_after=1)
    try:
        while True:
            try:
                wh = connect(settings=settings, read_only=read_only)
                break
            except Unavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            yield wh
        finally:
            wh.close()
    finally:
        if not read_only:
            WRITE_LOCK.release()


def profiles_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=responses)

    @router.get("/{identifier}", summary="Everything known about a customer")
    def get_profile(identifier: str, request: Request) -> dict[str, Any]:
        """Any identifier resolves: user id, anonymous id, raw or hashed e-mail,
        loyalty card, household or customer id."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            return customer_view(wh, identifier)

    @router.get(
        "/{identifier}/timeline", summary="The customer's history, newest first"
    )
    def get_timeline(
        identifier: str,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
    ) -> dict[str, Any]:
        """Events, orders with lines, campaigns, coupons, decisions and consents."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            return timeline(wh, identifier, limit=limit, cursor=cursor)

    return router
