"""``POST /v1/cleanroom/query``: a partner's aggregate query, answered or refused.

Only a partner key opens it (``Authorization: Bearer <partner key>``): the
admin token and write keys are refused by name, so a misconfigured client
learns which credential it sent. The partner comes from the key alone, never
from the body, so one partner cannot query as another.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request

from shopkeeper.errors import Unauthorized
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.trust.cleanroom import CleanRoom
from shopkeeper.trust.cleanroom_registry import Partner

__all__ = ["cleanroom_of", "cleanroom_router", "require_partner"]

_EXAMPLE = {
    "view": "brand_sales",
    "dimensions": ["month", "rfm_segment"],
    "measures": ["sum(sales_value)", "count_distinct(order_id)"],
    "filters": [{"column": "channel", "op": "=", "value": "store"}],
}


def cleanroom_of(app: FastAPI) -> CleanRoom:
    """The app's clean room, made from its settings on first use."""
    room: CleanRoom | None = getattr(app.state, "cleanroom", None)
    if room is None:
        room = CleanRoom.from_settings(app.state.settings)
        app.state.cleanroom = room
    return room


def require_partner(request: Request) -> Partner:
    """The active partner whose key the request carries, or a 401/403 saying why."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        raise Unauthorized(
            "write keys can only write events; the clean room takes a partner key "
            "(Authorization: Bearer <partner key>)"
        )
    given = header[7:] if header[:7].lower() == "bearer " else ""
    admin = request.app.state.settings.admin_token
    if (
        given
        and admin is not None
        and hmac.compare_digest(given.encode(), admin.get_secret_value().encode())
    ):
        raise Unauthorized(
            "the admin token does not open the clean room; use a partner key"
        )
    return cleanroom_of(request.app).registry.authenticate(given or None)


def cleanroom_router(responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/cleanroom", tags=["cleanroom"], responses=responses)

    @router.post(
        "/query",
        summary="Run an aggregate query over an approved view (partner key)",
        responses={
            403: {"description": "Refused: it would single out a small group."},
            422: {"description": "Not allowed: an identifier, free text, min/max."},
        },
    )
    def query(
        request: Request,
        partner: Annotated[Partner, Depends(require_partner)],
        body: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
    ) -> dict[str, Any]:
        """Rows of at least the view's minimum crowd each, with the number of
        rows withheld; or the reason the query was refused. Every query is
        logged with the partner, its text and the rows returned."""
        room = cleanroom_of(request.app)
        with read_warehouse(request.app.state.settings) as wh:
            return room.query(wh, partner, body).as_dict()

    @router.get("/views", summary="The approved views and what they allow")
    def views(
        request: Request, partner: Annotated[Partner, Depends(require_partner)]
    ) -> list[dict[str, Any]]:
        """Dimensions, measures and aggregate functions of each view, the
        columns never returned, and the minimum crowd per row."""
        room = cleanroom_of(request.app)
        return [
            v.describe() | {"min_crowd": room.crowd(v)} for v in room.views.values()
        ]

    return router
