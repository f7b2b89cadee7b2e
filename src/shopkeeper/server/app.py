"""The app factory: settings in, a FastAPI app with every router mounted out.

Every failure leaves as JSON ``{"code": ..., "message": ...}`` with the status
the error tree assigns, so SDKs and people get the same precise reason; an
unexpected exception is logged and answered 500 without killing the worker.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shopkeeper import __version__
from shopkeeper.collect.eventlog import EventLog
from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.collect.suppression import SuppressionList
from shopkeeper.collect.tracking_api import (
    ERROR_RESPONSES,
    TRACKING_PATHS,
    TrackingFastPath,
    error_body,
    tracking_router,
)
from shopkeeper.errors import ShopkeeperError
from shopkeeper.server.auth import check_admin
from shopkeeper.server.cleanroom_api import cleanroom_router
from shopkeeper.server.decide_api import DecideFastPath, decide_router
from shopkeeper.server.preferences import preferences_router
from shopkeeper.server.privacy_api import privacy_router
from shopkeeper.server.profiles_api import profiles_router
from shopkeeper.server.realtime import Realtime
from shopkeeper.server.segments_api import segments_router
from shopkeeper.settings import Settings, load_settings
from shopkeeper.trust.links import LinkSigner
from shopkeeper.trust.requests import PrivacyRequests
from shopkeeper.ui.pages import render_error, wants_json
from shopkeeper.ui.router import install_ui

__all__ = ["create_app", "require_admin", "state_paths"]

log = logging.getLogger(__name__)


def state_paths(settings: Settings) -> dict[str, Path]:
    """Where the server's own files live under ``settings.state_dir``."""
    root = Path(settings.state_dir)
    return {
        "root": root,
        "events": root / "events",
        "sources": root / "sources.sqlite",
        "privacy": root / "privacy.sqlite",
        "suppression": root / "suppression.sqlite",
        "link_key": root / "link.key",
        "cleanroom": root / "cleanroom.sqlite",
        "outbox": root / "outbox.sqlite",
        "ui_key": root / "ui.key",
    }


def require_admin(request: Request) -> None:
    """Admin endpoints take ``Authorization: Bearer <admin token>`` and nothing else."""
    check_admin(request.app.state.settings, request.headers.get("authorization", ""))


_NOT_FOUND = {
    "description": "No customer is known by that identifier.",
    "content": ERROR_RESPONSES[401]["content"],
}


def _error(exc: ShopkeeperError) -> Response:
    """The same refusal body and headers the tracking fast path sends."""
    status, extra, body = error_body(exc)
    headers = {name.decode(): value.decode() for name, value in extra}
    return Response(body, status, headers, media_type="application/json")


_SWITCH_SECONDS = 0.0005


def _telemetry() -> dict[str, bool]:
    """FastAPI's native OpenTelemetry, on only where OpenTelemetry is set up.

    Left on, it asks the global providers whether anyone listens on every
    request: about 30 us, a tenth of a decision. Whoever runs an OpenTelemetry
    SDK configures it through ``OTEL_*`` variables, so their presence turns it
    on.
    """
    wanted = any(name.startswith("OTEL_") for name in os.environ)
    return {"tracing": wanted, "metrics": wanted, "logs": wanted}


class ShopkeeperApp(FastAPI):
    """FastAPI, with the hot paths answered before its middleware stack.

    A request through FastAPI passes five ASGI layers (telemetry, error
    pages, body limits, exceptions, routing) before any route. The tracking
    endpoints and ``POST /v1/decide`` carry nearly all the traffic and answer
    every error themselves, so they are served first, here; their FastAPI
    routes document them in the OpenAPI schema.
    """

    fast_paths: dict[str, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            fast = self.fast_paths.get(scope["path"])
            if fast is not None:
                await fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; uvicorn workers call this with settings from the environment."""
    settings = settings or load_settings()
    paths = state_paths(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        eventlog = EventLog(
            paths["events"],
            segment_bytes=settings.collect_segment_mb * 1024 * 1024,
            max_pending=settings.collect_max_pending,
            fsync=settings.collect_fsync,
        )
        await eventlog.start()
        app.state.eventlog = eventlog
        realtime = Realtime(settings, outbox_path=paths["outbox"], eventlog=eventlog)
        app.state.decider = realtime.decider
        app.state.online_store = realtime.store
        app.state.on_accepted = realtime.on_accepted
        # Everything built at start-up lives as long as the worker: keep the
        # garbage collector from re-scanning it, and let it run less often
        # (a batch request makes thousands of short-lived objects). This
        # cut the collector's p99 latency under load; see benchmarks/collect.py.
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        # The background threads (arm sync, event log, webhooks) hold the GIL
        # for Python work; a request waiting for it waits up to the switch
        # interval, 5 ms by default: half the decide path's p99 budget.
        sys.setswitchinterval(_SWITCH_SECONDS)
        try:
            yield
        finally:
            await eventlog.close()
            realtime.close()

    app = ShopkeeperApp(
        telemetry=_telemetry(),
        title="Shopkeeper",
        version=__version__,
        summary="Omnichannel personalization for retailers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sources = SourceRegistry(paths["sources"])
    app.state.suppression = SuppressionList(paths["suppression"])
    app.state.link_signer = LinkSigner(paths["link_key"])
    app.state.privacy_requests = PrivacyRequests(
        paths["privacy"], app.state.suppression
    )
    app.include_router(tracking_router())
    tracking = TrackingFastPath(app.router, app.state)
    app.fast_paths = dict.fromkeys(TRACKING_PATHS, tracking) | {
        "/v1/decide": DecideFastPath(app.router, app.state)
    }
    admin_errors = {status: ERROR_RESPONSES[status] for status in (400, 401, 503)} | {
        404: _NOT_FOUND
    }
    app.include_router(profiles_router(require_admin, admin_errors))
    app.include_router(privacy_router(require_admin, admin_errors))
    app.include_router(preferences_router(require_admin, admin_errors))
    app.include_router(decide_router(require_admin, admin_errors))
    app.include_router(segments_router(require_admin, admin_errors))
    # Partner keys only: never the admin token, never a write key.
    app.include_router(
        cleanroom_router(
            {status: ERROR_RESPONSES[status] for status in (400, 401, 503)}
        )
    )

    install_ui(app, key_path=paths["ui_key"], events_dir=paths["events"])

    @app.exception_handler(ShopkeeperError)
    async def shopkeeper_error(request: Request, exc: ShopkeeperError) -> Response:
        if request.url.path.startswith("/ui") and not wants_json(request):
            return render_error(request, exc.status, exc.code, str(exc))
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return JSONResponse(
            {"code": "bad_request", "message": f"{where}: {err['msg']}"}, 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        return JSONResponse(
            {"code": code, "message": str(exc.detail)},
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"code": "error", "message": f"internal error: {type(exc).__name__}"}, 500
        )

    @app.get("/health", tags=["service"], summary="Liveness and event log counters")
    async def health(request: Request) -> dict[str, object]:
        eventlog: EventLog = request.app.state.eventlog
        return {
            "status": "ok",
            "version": __version__,
            "events_appended": eventlog.appended,
            "commits": eventlog.commits,
        }

    @app.get(
        "/v1/sources",
        tags=["admin"],
        summary="Registered sources (admin token; never shows keys)",
        responses={401: ERROR_RESPONSES[401]},
    )
    async def list_sources(request: Request) -> list[dict[str, str | None]]:
        require_admin(request)
        registry: SourceRegistry = request.app.state.sources
        return [s.as_dict() for s in registry.list()]

    return app
