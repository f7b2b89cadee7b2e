"""``/v1/segments``: list, create, show and preview segments (admin token).

The same library functions as ``shopkeeper segment``; a definition that does
not parse is a 400 whose message names the line, column and reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from shopkeeper.segments import (
    create_segment,
    list_segments,
    preview,
    versions,
)
from shopkeeper.segments.membership import member_counts, member_history
from shopkeeper.server.profiles_api import read_warehouse

__all__ = ["NewSegment", "PreviewRequest", "segments_router"]

_DEFINITION = Field(
    min_length=1,
    max_length=10_000,
    description='e.g. clv_52w > 300 and affinity.department["PRODUCE"] > 1.3',
)


class NewSegment(BaseModel):
    """A segment to create, or a new version of an existing one."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, Field(min_length=1, max_length=63, examples=["produce_lovers"])
    ]
    definition: Annotated[str, _DEFINITION]
    description: Annotated[str | None, Field(max_length=500)] = None


class PreviewRequest(BaseModel):
    """A definition to evaluate without storing it."""

    model_config = ConfigDict(extra="forbid")

    definition: Annotated[str, _DEFINITION]
    sample: Annotated[int, Field(ge=0, le=1000)] = 10
    as_of: dt.date | None = None


def segments_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=responses)

    @router.get("", summary="Every segment: latest version and member count")
    def list_all(request: Request) -> list[dict[str, Any]]:
        """Members are the current ones of the latest build (null if unbuilt)."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            counts = member_counts(wh)
            return [
                d.as_dict() | {"members": counts.get((d.name, d.version))}
                for d in list_segments(wh)
            ]

    @router.post("", summary="Create a segment (or its next version)", status_code=201)
    def create(body: NewSegment, request: Request) -> dict[str, Any]:
        """Validated before it is stored; identical to the latest version is a
        no-op that answers that version."""
        require_admin(request)
        settings = request.app.state.settings
        with read_warehouse(settings, read_only=False) as wh:
            made = create_segment(wh, body.name, body.definition, body.description)
        return made.as_dict()

    @router.post("/preview", summary="Size and a sample of a definition's members")
    def preview_definition(body: PreviewRequest, request: Request) -> dict[str, Any]:
        """Evaluated on the warehouse as it is; nothing is stored."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            return preview(wh, body.definition, as_of=body.as_of, sample=body.sample)

    @router.get("/{name}", summary="A segment's versions and membership history")
    def show(name: str, request: Request) -> dict[str, Any]:
        """Every version, oldest first, and entries and exits per build date."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            found = versions(wh, name)
            counts = member_counts(wh)
            latest = found[-1]
            return latest.as_dict() | {
                "members": counts.get((latest.name, latest.version)),
                "versions": [d.as_dict() for d in found],
                "history": member_history(wh, name),
            }

    return router
