"""The Segment HTTP Tracking API: ``POST /v1/{identify,track,...,batch}``.

The handlers read the raw body instead of letting FastAPI parse it: the error
codes must be Segment's (400 for bad input, not FastAPI's 422), the 32 KB and
500 KB limits apply to the bytes actually sent, gzip bodies are accepted, and
skipping FastAPI's per-request model binding keeps the hot path short. The
request schemas are still published in the OpenAPI document (``openapi_extra``)
so clients and schemathesis see the contract.
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from shopkeeper.collect.eventlog import EventLog
from shopkeeper.collect.messages import (
    MAX_BATCH_BYTES,
    batch_schema,
    message_schema,
    validate_request,
    write_record,
)
from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.errors import BadRequest, TooLarge

__all__ = ["ERROR_RESPONSES", "tracking_router"]

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


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BATCH_BYTES:
        raise TooLarge(f"body is {length} bytes; a request may be at most 500 KB")
    body = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        body = _gunzip(body)
    return body


async def _accept(request: Request, kind: str | None) -> Response:
    registry: SourceRegistry = request.app.state.sources
    header_key = _basic_user(request.headers.get("authorization"))
    if header_key is not None:
        # Authenticate before reading a byte of the body: a caller without a
        # valid key learns nothing about what the server would accept.
        source = registry.authenticate(header_key)
    body = await _body(request)
    parsed = validate_request(body, kind)
    if header_key is None:
        key = parsed.get("writeKey")
        source = registry.authenticate(key if isinstance(key, str) else None)
    if "writeKey" in parsed:
        # A key sent in the body must not reach the disk: store the body
        # without it (the rare, slower path; SDKs send Basic auth).
        body = orjson.dumps({k: v for k, v in parsed.items() if k != "writeKey"})
    header = {
        "kind": kind,
        "received_at": time.time_ns() // 1000,
        "source_id": source.source_id,
        "channel": source.channel,
    }
    if kind is None and not parsed["batch"]:
        return Response(_OK, media_type="application/json")
    log: EventLog = request.app.state.eventlog
    await log.append(
        [write_record(header, body)], count=len(parsed.get("batch", ())) or 1
    )
    return Response(_OK, media_type="application/json")


def tracking_router() -> APIRouter:
    """The seven Segment endpoints, each documented in the OpenAPI contract."""
    router = APIRouter(prefix="/v1", tags=["tracking"])
    responses = {**_SUCCESS, **ERROR_RESPONSES}

    def add(kind: str | None, summary: str) -> None:
        path = f"/{kind or 'batch'}"

        async def endpoint(request: Request) -> Response:
            return await _accept(request, kind)

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
