"""``POST /v1/decide``: a ranked answer for one customer, channel and placement.

Each answer's items are logged as exposures (with their propensities and
reasons) in the durable event log before the response leaves, like an
accepted event, and reach the warehouse's ``exposures`` table through the
loader; off-policy evaluation and the measurement stage read them there.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from shopkeeper.collect.eventlog import EventLog
from shopkeeper.decide.decisions import (
    CHANNELS,
    Decider,
    DecisionRequest,
)
from shopkeeper.decide.feedback import remember
from shopkeeper.server.exposures import exposure_record

__all__ = ["DecideBody", "decide_router"]


class DecideContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    page: str | None = Field(None, max_length=2000)
    cart: list[str] = Field(default_factory=list, max_length=500)
    store_id: str | None = Field(None, max_length=100)
    local_hour: int | None = Field(None, ge=0, le=23)


class DecideBody(BaseModel):
    """Who (any identifier, or an anonymous id), where, and what is around."""

    model_config = ConfigDict(extra="forbid")

    identifier: str | None = Field(None, min_length=1, max_length=500)
    anonymous_id: str | None = Field(None, min_length=1, max_length=500)
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    placement: str = Field(min_length=1, max_length=100)
    limit: int = Field(5, ge=1, le=50)
    context: DecideContext = Field(default_factory=DecideContext)


def decide_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["decide"], responses=responses)

    @router.post("/decide", summary="Decide what to show or send to one customer")
    async def decide(body: DecideBody, request: Request) -> dict[str, Any]:
        """Ranked items, each with a plain-language reason and the propensity it
        was chosen with; or no items and the reason (consent, quiet hours, cap)."""
        require_admin(request)
        decider: Decider = request.app.state.decider
        req = DecisionRequest(
            channel=body.channel,
            placement=body.placement,
            identifier=body.identifier,
            anonymous_id=body.anonymous_id,
            limit=body.limit,
            cart=tuple(body.context.cart),
            store_id=body.context.store_id,
            local_hour=body.context.local_hour,
        )
        decision = decider.decide(req)
        if decision.items:
            remember(decider.store, decision)
            anon = f"anon:{body.anonymous_id}" if body.anonymous_id else None
            log: EventLog = request.app.state.eventlog
            await log.append([exposure_record(decision, body.identifier or anon)])
        return decision.as_dict()

    return router
