"""``POST /v1/decide``: a ranked answer for one customer, channel and placement.

Each answer's items are logged as exposures (with their propensities and
reasons) in the durable event log, in the same group commit as the events
arriving with it, and reach the warehouse's ``exposures`` table through the
loader; off-policy evaluation and the measurement stage read them there. A
refusal is logged the same way, as one row of the ``refusals`` table.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from shopkeeper.collect.tracking_api import error_body, read_body, send_json
from shopkeeper.decide.decisions import (
    CHANNELS,
    KINDS,
    Decider,
    DecisionRequest,
)
from shopkeeper.decide.feedback import remember
from shopkeeper.errors import BadRequest, ShopkeeperError
from shopkeeper.server.auth import check_admin
from shopkeeper.server.exposures import log_decision

__all__ = ["DecideBody", "DecideFastPath", "answer", "decide_router"]

log = logging.getLogger(__name__)


class DecideContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    page: str | None = Field(None, max_length=2000)
    cart: list[str] = Field(default_factory=list, max_length=500)
    store_id: str | None = Field(
        None, max_length=100, description="Offers must be valid in this store."
    )
    local_hour: int | None = Field(None, ge=0, le=23)
    date: dt.date | None = Field(
        None,
        description=(
            "The day the answer is for (offers must be valid on it); default "
            "today (UTC). A past day replays a historical data set."
        ),
    )


class DecideBody(BaseModel):
    """Who (any identifier, or an anonymous id), where, and what is around."""

    model_config = ConfigDict(extra="forbid")

    identifier: str | None = Field(None, min_length=1, max_length=500)
    anonymous_id: str | None = Field(None, min_length=1, max_length=500)
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    placement: str = Field(min_length=1, max_length=100)
    limit: int = Field(5, ge=1, le=50)
    kind: Literal[KINDS] = Field(  # type: ignore[valid-type]
        "items",
        description=(
            "'items' (products: recommendations, complements of the cart, "
            "popular), 'new' (products the customer has never bought and is "
            "likely to try: discoveries, then popular ones they do not buy) or "
            "'offers' (coupons of the customer's campaigns that are eligible "
            "today, in the store, outside the campaign's holdout)."
        ),
    )
    context: DecideContext = Field(default_factory=DecideContext)


async def answer(state: Any, body: DecideBody) -> dict[str, Any]:
    """Decide, remember the decision for feedback, and log its exposures (or
    its refusal)."""
    decider: Decider = state.decider
    req = DecisionRequest(
        channel=body.channel,
        placement=body.placement,
        identifier=body.identifier,
        anonymous_id=body.anonymous_id,
        limit=body.limit,
        cart=tuple(body.context.cart),
        store_id=body.context.store_id,
        local_hour=body.context.local_hour,
        kind=body.kind,
        today=body.context.date,
    )
    decision = decider.decide(req)
    anon = f"anon:{body.anonymous_id}" if body.anonymous_id else None
    if decision.items:
        remember(decider.arms, decision)
    log_decision(state.eventlog, decision, body.identifier or anon)
    return decision.as_dict()


def decide_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["decide"], responses=responses)

    @router.post("/decide", summary="Decide what to show or send to one customer")
    async def decide(body: DecideBody, request: Request) -> dict[str, Any]:
        """Ranked items (products or, with ``kind: "offers"``, coupons), each
        with a plain-language reason and the propensity it was chosen with; or
        no items and the reason (consent, quiet hours, cap, no eligible offer).
        Every shown item is logged as an exposure, every refusal as a refusal."""
        # Reached only without the fast path below (it answers this first).
        require_admin(request)
        return await answer(request.app.state, body)

    return router


_BODY = TypeAdapter(DecideBody)
_MAX_BODY = 64 * 1024


class DecideFastPath:
    """ASGI middleware that answers ``POST /v1/decide`` without the framework.

    A decision must come back in a few milliseconds at a thousand a second on
    two cores; FastAPI's routing, request objects and response encoding cost
    more than the decision itself, so this path validates the same pydantic
    model from the raw bytes (in Rust), checks the admin token the same way,
    and writes the answer with orjson. The FastAPI route documents it.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path") != "/v1/decide"
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        status, extra, payload = 200, [], b""
        try:
            check_admin(self.state.settings, headers.get("authorization", ""))
            body = await read_body(receive, headers, limit=_MAX_BODY)
            try:
                parsed = _BODY.validate_json(body)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "body"
                raise BadRequest(f"{where}: {err['msg']}") from None
            payload = orjson.dumps(await answer(self.state, parsed))
        except ShopkeeperError as exc:
            status, extra, payload = error_body(exc)
        except Exception:
            log.exception("unexpected error on POST /v1/decide")
            status, payload = 500, b'{"code":"error","message":"internal error"}'
        await send_json(send, status, extra, payload)
