"""The Segment HTTP Tracking API's messages: validation and the stored record.

Existing Segment and RudderStack SDKs must work unchanged, so the accepted
shapes are Segment's, not ours: camelCase fields, any extra fields kept, ids
that may arrive as numbers. Validation happens here, once, at the edge; what
comes out is a flat ``events`` row (as a dict) ready for the durable log.

A batch is all-or-nothing: one bad message refuses the whole request with a
400 that names the message index and field. The SDKs drop a batch on 400 and
log the reason, which is louder and easier to fix than a 200 that silently
kept only part of it (docs/collect.md explains the choice).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from shopkeeper.errors import BadRequest, TooLarge

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "MESSAGE_TYPES",
    "BatchEnvelope",
    "Message",
    "parse_batch",
    "parse_message",
    "to_record",
]

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")


def _id_text(value: Any) -> Any:
    """SDKs send numeric user ids as numbers; Segment stores them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


Id = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=255)]
JsonObject = dict[str, Any]


class Message(BaseModel):
    """One Segment message of any type; the per-type rules are in ``_check``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["identify", "track", "page", "screen", "group", "alias"]
    messageId: Annotated[str, BeforeValidator(_id_text)] | None = Field(
        None, max_length=99, description="Makes retries idempotent (under 100 chars)."
    )
    userId: Id | None = None
    anonymousId: Id | None = None
    previousId: Id | None = None
    groupId: Id | None = None
    event: str | None = Field(None, max_length=255)
    name: str | None = Field(None, max_length=255)
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    properties: JsonObject | None = None
    traits: JsonObject | None = None
    context: JsonObject | None = None
    integrations: JsonObject | None = None

    @model_validator(mode="after")
    def _check(self) -> Message:
        if self.type == "alias":
            if not self.previousId:
                raise ValueError("alias needs previousId")
            if not self.userId:
                raise ValueError("alias needs userId")
            return self
        if not (self.userId or self.anonymousId):
            raise ValueError(f"{self.type} needs userId or anonymousId")
        if self.type == "track" and not self.event:
            raise ValueError("track needs event")
        if self.type == "group" and not self.groupId:
            raise ValueError("group needs groupId")
        return self


class BatchEnvelope(BaseModel):
    """``POST /v1/batch``: top-level context and integrations apply to every item."""

    model_config = ConfigDict(extra="allow")

    batch: list[JsonObject] = Field(max_length=MAX_BATCH_MESSAGES)
    context: JsonObject | None = None
    integrations: JsonObject | None = None
    sentAt: datetime | None = None
    writeKey: str | None = None


_MESSAGE = TypeAdapter(Message)
_KNOWN = set(Message.model_fields) | {"writeKey"}


def _load(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None


def _where(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(p) for p in loc)
    return f"{prefix}.{path}" if path else prefix


def _validate(item: Any, kind: str | None, where: str) -> Message:
    if not isinstance(item, dict):
        raise BadRequest(f"{where}: a message must be a JSON object")
    if kind is not None:
        item = {**item, "type": kind}
    elif "type" not in item:
        raise BadRequest(f"{where}.type: field required (one of {MESSAGE_TYPES})")
    try:
        return _MESSAGE.validate_python(item)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise BadRequest(f"{_where(where, err['loc'])}: {msg}") from None


def _check_size(item: Any, where: str) -> None:
    size = len(orjson.dumps(item))
    if size > MAX_MESSAGE_BYTES:
        raise TooLarge(f"{where} is {size} bytes; a message may be at most 32 KB")


def parse_message(body: bytes, kind: str) -> tuple[Message, dict[str, Any]]:
    """Validate a single-message request body (``/v1/track`` and friends).

    Returns the message and the raw object (for its ``writeKey`` and extras).
    """
    if len(body) > MAX_MESSAGE_BYTES:
        raise TooLarge(f"message is {len(body)} bytes; a message may be at most 32 KB")
    raw = _load(body, "body")
    return _validate(raw, kind, "body"), raw


def parse_batch(
    body: bytes,
) -> tuple[list[tuple[Message, dict[str, Any]]], BatchEnvelope]:
    """Validate a ``/v1/batch`` body, merging its context into every item.

    Item-level context keys win over the batch's, as in Segment's own
    gateway; every item is checked before anything is accepted.
    """
    if len(body) > MAX_BATCH_BYTES:
        raise TooLarge(f"batch is {len(body)} bytes; a batch may be at most 500 KB")
    raw = _load(body, "body")
    if not isinstance(raw, dict) or not isinstance(raw.get("batch"), list):
        raise BadRequest("body.batch: field required (a list of messages)")
    if len(raw["batch"]) > MAX_BATCH_MESSAGES:
        raise TooLarge(
            f"batch has {len(raw['batch'])} messages; at most {MAX_BATCH_MESSAGES}"
        )
    try:
        envelope = BatchEnvelope.model_validate({**raw, "batch": []})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise BadRequest(f"{_where('body', err['loc'])}: {err['msg']}") from None
    out = []
    for i, item in enumerate(raw["batch"]):
        where = f"batch[{i}]"
        _check_size(item, where)
        if isinstance(item, dict):
            if envelope.context:
                item = {
                    **item,
                    "context": {**envelope.context, **(item.get("context") or {})},
                }
            if envelope.integrations:
                merged = {**envelope.integrations, **(item.get("integrations") or {})}
                item = {**item, "integrations": merged}
            if envelope.sentAt and "sentAt" not in item:
                item = {**item, "sentAt": raw["sentAt"]}
        out.append((_validate(item, None, where), item))
    return out, envelope


def _utc(value: datetime | None) -> datetime | None:
    """Naive UTC, as the warehouse stores every timestamp."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value - _EPOCH).total_seconds() * 1_000_000)


_EPOCH = datetime(1970, 1, 1)


def _text(value: JsonObject | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def to_record(
    msg: Message,
    raw: dict[str, Any],
    *,
    received_at: datetime,
    source_id: str,
    channel: str,
) -> dict[str, Any]:
    """The ``events`` row for one message, timestamps as UTC epoch microseconds.

    Clock skew is corrected as Segment does: when the client says when it sent
    the message, ``timestamp = receivedAt - (sentAt - originalTimestamp)``, so
    a phone whose clock is an hour off still lands at the right time.
    """
    original = _utc(msg.timestamp or msg.originalTimestamp)
    sent_at = _utc(msg.sentAt)
    if original is None:
        timestamp = received_at
    elif sent_at is not None:
        timestamp = received_at - (sent_at - original)
    else:
        timestamp = original
    traits = msg.traits
    if traits is None and msg.type == "identify" and msg.context:
        # RudderStack's SDKs send an identify's traits as context.traits.
        found = msg.context.get("traits")
        traits = found if isinstance(found, dict) else None
    # Fields outside the spec are kept, never dropped: a page's or screen's
    # ``category`` is a property in Segment's spec; anything else (an SDK's
    # own keys such as RudderStack's ``channel``) goes to context.extra.
    extras = {k: v for k, v in raw.items() if k not in _KNOWN}
    properties = msg.properties
    if "category" in extras:
        properties = {"category": extras.pop("category"), **(properties or {})}
    context = msg.context
    if extras:
        context = {**(context or {}), "extra": extras}
    return {
        "message_id": msg.messageId or f"sk-{uuid.uuid4()}",
        "type": msg.type,
        "event": msg.event,
        "user_id": msg.userId,
        "anonymous_id": msg.anonymousId,
        "previous_id": msg.previousId,
        "group_id": msg.groupId,
        "name": msg.name,
        "timestamp": _micros(timestamp),
        "original_timestamp": _micros(original),
        "sent_at": _micros(sent_at),
        "received_at": _micros(received_at),
        "source_id": source_id,
        "channel": channel,
        "properties": _text(properties),
        "traits": _text(traits),
        "context": _text(context),
        "integrations": _text(msg.integrations),
    }
