"""The Segment HTTP Tracking API's messages: validation, and the stored record.

Existing Segment and RudderStack SDKs must work unchanged, so the accepted
shapes are Segment's, not ours: camelCase fields, any extra fields kept, ids
that may arrive as numbers.

Validation runs once, at the edge, in pydantic-core straight from the request
bytes (``validate_json`` on TypedDicts: no Python objects are built for what
is only checked). The durable log then keeps the request body as it came,
behind a small header (who sent it, when it arrived); turning a message into
an ``events`` row (:func:`to_record`) is the loader's job, off the request
path. That split is what lets one server core accept tens of thousands of
events a second while every 200 still means "validated and on disk".

A batch is all-or-nothing: one bad message refuses the whole request with a
400 that names the message index and field. The SDKs drop a batch on 400 and
log the reason, which is louder and easier to fix than a 200 that silently
kept only part of it (docs/collect.md explains the choice).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from shopkeeper.collect.consent_events import CONSENT_EVENT, check_consent
from shopkeeper.errors import BadRequest, TooLarge

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "MESSAGE_TYPES",
    "LogRecord",
    "batch_schema",
    "dump_json",
    "message_schema",
    "read_record",
    "record_rows",
    "to_record",
    "validate_request",
    "write_record",
]

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")

Id = Annotated[str, Field(max_length=255)] | int
JsonObject = dict[str, Any]


class _Message(TypedDict, total=False):
    """One Segment message; which fields each type needs is checked in ``_rules``."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    type: Literal["identify", "track", "page", "screen", "group", "alias"]
    messageId: Annotated[str, Field(max_length=99)] | int | None
    userId: Id | None
    anonymousId: Id | None
    previousId: Id | None
    groupId: Id | None
    event: Annotated[str, Field(max_length=255)] | None
    name: Annotated[str, Field(max_length=255)] | None
    category: str | None
    timestamp: datetime | None
    originalTimestamp: datetime | None
    sentAt: datetime | None
    properties: JsonObject | None
    traits: JsonObject | None
    context: JsonObject | None
    integrations: JsonObject | None
    writeKey: str | None


def dump_json(value: Any) -> bytes:
    """JSON bytes for anything a request could hold.

    orjson refuses integers beyond 64 bits, which JSON allows and a client
    may send; those (rare) values take the standard library's slower path
    instead of failing a request or, worse, a loader pass.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, default=str, separators=(",", ":")).encode()


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _rules(kind: str | None) -> AfterValidator:
    """Segment's per-type requirements; ``kind`` is the endpoint's, if not batch."""

    def check(message: _Message) -> _Message:
        this = kind or message.get("type")
        if this is None:
            raise ValueError(
                f"type: field required (one of {', '.join(MESSAGE_TYPES)})"
            )
        if this == "alias":
            if not _present(message.get("previousId")):
                raise ValueError("alias needs previousId")
            if not _present(message.get("userId")):
                raise ValueError("alias needs userId")
            return message
        if not (
            _present(message.get("userId")) or _present(message.get("anonymousId"))
        ):
            raise ValueError(f"{this} needs userId or anonymousId")
        if this == "track" and not _present(message.get("event")):
            raise ValueError("track needs event")
        if this == "track" and message.get("event") == CONSENT_EVENT:
            check_consent(message.get("properties"))
        if this == "group" and not _present(message.get("groupId")):
            raise ValueError("group needs groupId")
        return message

    return AfterValidator(check)


class _Batch(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    batch: Annotated[
        list[Annotated[_Message, _rules(None)]], Field(max_length=MAX_BATCH_MESSAGES)
    ]
    context: JsonObject | None
    integrations: JsonObject | None
    sentAt: datetime | None
    writeKey: str | None


_SINGLE = {
    kind: TypeAdapter(Annotated[_Message, _rules(kind)]) for kind in MESSAGE_TYPES
}
_BATCH = TypeAdapter(_Batch)


def message_schema() -> dict[str, Any]:
    """JSON schema of a single-message body, for the OpenAPI document."""
    schema = TypeAdapter(_Message).json_schema()
    schema["properties"].pop("type")
    return schema


def batch_schema() -> dict[str, Any]:
    """JSON schema of a ``/v1/batch`` body, for the OpenAPI document."""
    schema = TypeAdapter(_Batch).json_schema()
    schema["required"] = ["batch"]
    return schema


_UNION_TAGS = {"constrained-str", "str", "int", "none", "typed-dict"}


def _problem(exc: ValidationError) -> str:
    """``batch[2].event: ...``: where the first problem is, as a person writes it."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "json_invalid":
        return f"body is not valid JSON: {err['msg']}"
    where = ""
    for part in err["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part not in _UNION_TAGS and not str(part).startswith("function-"):
            where += f".{part}" if where else str(part)
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where or 'body'}: {msg}"


def validate_request(body: bytes, kind: str | None) -> dict[str, Any]:
    """Check a request body; return it parsed. Raise 400/413 naming the problem.

    ``kind`` is the endpoint (``track``...) or None for ``/v1/batch``. The
    32 KB per-message limit needs each message's size, so it is measured only
    when the body is big enough for one message to exceed it.
    """
    limit = MAX_MESSAGE_BYTES if kind else MAX_BATCH_BYTES
    if len(body) > limit:
        what = "message" if kind else "batch"
        raise TooLarge(
            f"{what} is {len(body)} bytes; a {what} may be at most "
            f"{'32 KB' if kind else '500 KB'}"
        )
    adapter = _SINGLE[kind] if kind else _BATCH
    try:
        parsed: dict[str, Any] = adapter.validate_json(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if err["type"] == "too_long" and err["loc"] == ("batch",):
            raise TooLarge(
                f"batch has too many messages; at most {MAX_BATCH_MESSAGES}"
            ) from None
        raise BadRequest(_problem(exc)) from None
    if kind is None:
        if "batch" not in parsed:
            raise BadRequest("batch: field required (a list of messages)")
        if len(body) > MAX_MESSAGE_BYTES:
            for i, item in enumerate(parsed["batch"]):
                size = len(dump_json(item))
                if size > MAX_MESSAGE_BYTES:
                    raise TooLarge(
                        f"batch[{i}] is {size} bytes; a message may be at most 32 KB"
                    )
    return parsed


# -- the durable log's record ----------------------------------------------------
LogRecord = tuple[dict[str, Any], bytes]
"""A log record: its header (kind, received_at, source_id, channel) and body."""


def write_record(header: dict[str, Any], body: bytes) -> bytes:
    """Header as one JSON line, then the body exactly as validated."""
    return orjson.dumps(header) + b"\n" + body


def read_record(data: bytes) -> LogRecord:
    head, _, body = data.partition(b"\n")
    return orjson.loads(head), body


def _utc(value: datetime | None) -> datetime | None:
    """Naive UTC, as the warehouse stores every timestamp."""
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


_EPOCH = datetime(1970, 1, 1)


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=value)


def _text(value: JsonObject | None) -> str | None:
    return None if value is None else dump_json(value).decode()


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


_KNOWN = set(_Message.__annotations__)


def to_record(
    msg: dict[str, Any],
    *,
    kind: str,
    received_at: datetime,
    source_id: str,
    channel: str,
    fallback_id: str,
) -> dict[str, Any]:
    """The ``events`` row for one validated message, times as epoch microseconds.

    Clock skew is corrected as Segment does: when the client says when it sent
    the message, ``timestamp = receivedAt - (sentAt - originalTimestamp)``, so
    a phone whose clock is an hour off still lands at the right time.
    ``fallback_id`` names a message that came without a messageId; it is
    derived from the log record, so a replay gives the same id.
    """
    original = _utc(msg.get("timestamp") or msg.get("originalTimestamp"))
    sent_at = _utc(msg.get("sentAt"))
    timestamp = original or received_at
    if original is not None and sent_at is not None:
        try:
            timestamp = received_at - (sent_at - original)
        except OverflowError:
            # A clock so wrong that the correction leaves the calendar: the
            # only time we can vouch for is when the server received it.
            timestamp = received_at
    traits = msg.get("traits")
    context = msg.get("context")
    if traits is None and kind == "identify" and context:
        # RudderStack's SDKs send an identify's traits as context.traits.
        found = context.get("traits")
        traits = found if isinstance(found, dict) else None
    # Fields outside the spec are kept, never dropped: a page's or screen's
    # ``category`` is a property in Segment's spec; anything else (an SDK's
    # own keys such as RudderStack's ``channel``) goes to context.extra.
    properties = msg.get("properties")
    if msg.get("category") is not None:
        properties = {"category": msg["category"], **(properties or {})}
    extras = {k: v for k, v in msg.items() if k not in _KNOWN}
    if extras:
        context = {**(context or {}), "extra": extras}
    return {
        "message_id": _id(msg.get("messageId")) or fallback_id,
        "type": kind,
        "event": msg.get("event"),
        "user_id": _id(msg.get("userId")),
        "anonymous_id": _id(msg.get("anonymousId")),
        "previous_id": _id(msg.get("previousId")),
        "group_id": _id(msg.get("groupId")),
        "name": msg.get("name"),
        "timestamp": _micros(timestamp),
        "original_timestamp": _micros(original),
        "sent_at": _micros(sent_at),
        "received_at": _micros(received_at),
        "source_id": source_id,
        "channel": channel,
        "properties": _text(properties),
        "traits": _text(traits),
        "context": _text(context),
        "integrations": _text(msg.get("integrations")),
    }


def record_rows(data: bytes) -> list[dict[str, Any]]:
    """Every ``events`` row in one log record (one request).

    The body is validated again with the same rules, which re-parses its
    timestamps; a batch's top-level context, integrations and sentAt are
    merged into each message here, item keys winning, as Segment does.
    """
    header, body = read_record(data)
    kind: str | None = header["kind"]
    received_at = _from_micros(header["received_at"])
    parsed = (_SINGLE[kind] if kind else _BATCH).validate_json(body)
    if kind is not None:
        items = [(kind, parsed)]
    else:
        shared_context = parsed.get("context")
        shared_integrations = parsed.get("integrations")
        items = []
        for item in parsed["batch"]:
            if shared_context:
                item["context"] = {**shared_context, **(item.get("context") or {})}
            if shared_integrations:
                item["integrations"] = {
                    **shared_integrations,
                    **(item.get("integrations") or {}),
                }
            if parsed.get("sentAt") and item.get("sentAt") is None:
                item["sentAt"] = parsed["sentAt"]
            items.append((item["type"], item))
    # A record scrubbed by an erasure keeps its original digest in the header.
    digest = header.get("digest") or hashlib.sha256(data).hexdigest()[:24]
    return [
        to_record(
            msg,
            kind=this,
            received_at=received_at,
            source_id=header["source_id"],
            channel=header["channel"],
            fallback_id=f"sk-{digest}-{i}",
        )
        for i, (this, msg) in enumerate(items)
    ]
