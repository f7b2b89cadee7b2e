"""The Segment HTTP Tracking API: ``POST /v1/{identify,track,...,batch}``.

These endpoints carry nearly all of a collector's traffic, so they are served
by a small ASGI middleware (``TrackingFastPath``) in front of the FastAPI app:
it reads the raw body, authenticates, validates in pydantic-core and appends
to the durable log, without routing, request objects or response classes.
Reading the raw body is also what Segment compatibility needs: its error codes
(400 for bad input, not FastAPI's 422), limits on the bytes actually sent, and
gzip bodies. FastAPI routes for the same paths publish the request schemas in
the OpenAPI document, so clients and schemathesis see the contract, and serve
the requests themselves if the middleware is not installed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import zlib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shopkeeper.collect.eventlog import EventLog
from shopkeeper.collect.messages import (
    MAX_BATCH_BYTES,
    MESSAGE_TYPES,
    batch_schema,
    dump_json,
    message_schema,
    validate_request,
    write_record,
)
from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.collect.suppression import SuppressionList
from shopkeeper.errors import BadRequest, ShopkeeperError, TooLarge, Unavailable

__all__ = [
    "TRACKING_PATHS",
    "ERROR_RESPONSES",
    "TrackingFastPath",
    "accept",
    "error_body",
    "tracking_router",
]

log = logging.getLogger(__name__)

_OK = b'{"success":true}'

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": text,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }
    for status, text in {
        400: "Bad JSON or a message missing a required field (names which).",
        401: "Missing or unknown write key.",
        403: "The source is disabled.",
        413: "Over 32 KB per message, or 500 KB / 2,500 messages per batch.",
        503: "Overloaded or the disk refused the write; retry after Retry-After.",
    }.items()
}
_SUCCESS = {
    200: {
        "description": "Every message is durably stored.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"success": {"type": "boolean"}},
                }
            }
        },
    }
}


def _request_schema(kind: str | None) -> dict[str, Any]:
    schema = batch_schema() if kind is None else message_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _basic_user(header: str | None) -> str | None:
    """The write key from ``Authorization: Basic base64(key:)``."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BATCH_BYTES + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from None
    if len(out) > MAX_BATCH_BYTES or inflater.unconsumed_tail:
        raise TooLarge("body is over 500 KB once decompressed")
    return out


async def accept(
    state: Any, kind: str | None, headers: Mapping[str, str], body: bytes
) -> None:
    """Authenticate, validate and durably log one request; raise on refusal.

    Shared by the ASGI fast path and the FastAPI routes, so both behave the
    same; ``state`` carries the app's source registry and event log.
    """
    registry: SourceRegistry = state.sources
    header_key = _basic_user(headers.get("authorization"))
    if header_key is not None:
        # Authenticate before looking at the body: a caller without a valid
        # key learns nothing about what the server would accept.
        source = registry.authenticate(header_key)
    if headers.get("content-encoding", "").lower() == "gzip":
        body = _gunzip(body)
    parsed = validate_request(body, kind)
    if header_key is None:
        key = parsed.get("writeKey")
        source = registry.authenticate(key if isinstance(key, str) else None)
    suppression: SuppressionList | None = getattr(state, "suppression", None)
    dropped = suppression is not None and _drop_suppressed(parsed, kind, suppression)
    if dropped and (kind is not None or not parsed["batch"]):
        return
    if dropped or "writeKey" in parsed:
        # A key sent in the body must not reach the disk: store the body
        # without it (the rare, slower path; SDKs send Basic auth).
        body = dump_json({k: v for k, v in parsed.items() if k != "writeKey"})
    count = len(parsed["batch"]) if kind is None else 1
    if count == 0:
        return
    header = {
        "kind": kind,
        "received_at": time.time_ns() // 1000,
        "source_id": source.source_id,
        "channel": source.channel,
    }
    log: EventLog = state.eventlog
    await log.append([write_record(header, body)], count=count)
    # Durable first; then what real time needs (decision feedback, consent).
    on_accepted = getattr(state, "on_accepted", None)
    if on_accepted is not None:
        on_accepted(parsed, kind)


def _drop_suppressed(
    parsed: dict[str, Any], kind: str | None, suppression: SuppressionList
) -> bool:
    """Remove messages that name a suppressed identifier; True if any were.

    They are answered 200 like the rest (Segment does the same): the sender
    cannot tell, and must not learn, who asked to be forgotten.
    """
    if not suppression.digests():
        return False
    if kind is not None:
        return suppression.suppressed(parsed)
    shared = {"context": parsed.get("context")} if parsed.get("context") else {}
    kept = [
        item
        for item in parsed["batch"]
        if not suppression.suppressed(item)
        and not (shared and suppression.suppressed(shared))
    ]
    if len(kept) == len(parsed["batch"]):
        return False
    parsed["batch"] = kept
    return True


def error_body(exc: ShopkeeperError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, extra headers and JSON body for a refusal, as every endpoint sends it."""
    extra = []
    if isinstance(exc, Unavailable):
        extra.append((b"retry-after", str(exc.retry_after).encode()))
    return exc.status, extra, orjson.dumps({"code": exc.code, "message": exc.message})


_PATHS = {f"/v1/{kind}": kind for kind in MESSAGE_TYPES} | {"/v1/batch": None}
TRACKING_PATHS = tuple(_PATHS)
"""The paths :class:`TrackingFastPath` answers (POST only)."""


class TrackingFastPath:
    """ASGI middleware that serves the tracking endpoints without the framework.

    These endpoints take nearly all of a collector's traffic. Answering them
    here skips routing, request objects and response classes, which is most
    of the per-request cost; every other path goes on to the FastAPI app,
    whose routes for the same endpoints document them in the OpenAPI schema.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or path not in _PATHS or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        status, extra, payload = 200, [], _OK
        try:
            body = await read_body(receive, headers)
            await accept(self.state, _PATHS[path], headers, body)
        except ShopkeeperError as exc:
            status, extra, payload = error_body(exc)
        except Exception:
            log.exception("unexpected error on POST %s", path)
            status, payload = 500, b'{"code":"error","message":"internal error"}'
        await send_json(send, status, extra, payload)


async def send_json(
    send: Send, status: int, extra: list[tuple[bytes, bytes]], payload: bytes
) -> None:
    """A complete JSON response, as every ASGI fast path answers."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def read_body(
    receive: Receive, headers: Mapping[str, str], *, limit: int = MAX_BATCH_BYTES
) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    most = f"{limit // 1024} KB"
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"body is {length} bytes; a request may be at most {most}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is over {most}; a request may be at most {most}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def tracking_router() -> APIRouter:
    """The seven Segment endpoints, each documented in the OpenAPI contract."""
    router = APIRouter(prefix="/v1", tags=["tracking"])
    responses = {**_SUCCESS, **ERROR_RESPONSES}

    def add(kind: str | None, summary: str) -> None:
        path = f"/{kind or 'batch'}"

        async def endpoint(request: Request) -> Response:
            # Reached only without the fast path (it answers these first).
            await accept(request.app.state, kind, request.headers, await request.body())
            return Response(_OK, media_type="application/json")

        endpoint.__name__ = f"{kind or 'batch'}_endpoint"
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            summary=summary,
            responses=responses,
            openapi_extra=_request_schema(kind),
            response_class=Response,
        )

    add("identify", "Tie a user to their traits")
    add("track", "Record an action the user performed")
    add("page", "Record a page view")
    add("screen", "Record an app screen view")
    add("group", "Associate a user with a group (a household, a company)")
    add("alias", "Merge two user identities (previousId into userId)")
    add(None, "Send many messages at once (all-or-nothing)")
    return router
