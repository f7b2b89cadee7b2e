"""The dashboard's Segments section: list, editor with live preview, one
segment's history and comparison, building and exporting its members.

Creating a segment does what ``POST /v1/segments`` does (store a new
version, no build); membership comes from the segments build stage, which
the page can run on request ("Build membership now", the same stage as
``shopkeeper build segments``). Exports go through
:mod:`shopkeeper.segments.export`, so consent is checked there, when the
file is written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response

from shopkeeper.errors import BadRequest
from shopkeeper.segments import STAGE as SEGMENTS_STAGE
from shopkeeper.segments import (
    create_segment,
    export_audience,
    export_members,
    versions,
)
from shopkeeper.segments.fields import FIELDS
from shopkeeper.segments.tokens import MAX_LENGTH
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.ui.pages import redirect, render
from shopkeeper.ui.router import Session, check_csrf, settings_of
from shopkeeper.ui.views.segments import (
    EXPORT_FORMATS,
    definition_preview,
    segment_list,
    segment_page,
)
from shopkeeper.warehouse import run_build

__all__ = ["RESERVED_NAMES", "router"]

RESERVED_NAMES = ("new", "preview")
"""Segment names that would collide with /ui/segments/new and /preview."""

_FRAGMENT = "fragment=1"
_EXAMPLE = 'clv_52w > 1000 and affinity.department["PRODUCE"] > 1.2'
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "hashed-audience": "text/csv; charset=utf-8",
}


def _is_fragment(request: Request) -> bool:
    """The editor's live preview asks for the preview box's HTML only."""
    return _FRAGMENT in request.headers.get("accept", "")


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/ui/segments")
    @r.get("/ui/segments.json")
    def segments(request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = segment_list(wh)
        return render(
            request,
            "segments.html",
            data,
            title="Segments",
            section="segments",
            session=session,
        )

    @r.post("/ui/segments")
    def create(
        request: Request,
        session: Session,
        csrf: Annotated[str, Form(max_length=200)] = "",
        name: Annotated[str, Form(max_length=63)] = "",
        definition: Annotated[str, Form(max_length=MAX_LENGTH)] = "",
        description: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        """Store a new version, as ``POST /v1/segments`` does, then show it."""
        check_csrf(request, session, csrf)
        if not definition.strip():
            raise BadRequest("the definition is empty: write a rule first")
        if name.strip() in RESERVED_NAMES:
            raise BadRequest(
                f"{name.strip()!r} names a dashboard page; choose another name"
            )
        with read_warehouse(settings_of(request), read_only=False) as wh:
            made = create_segment(
                wh, name.strip(), definition, description.strip() or None
            )
        return redirect(f"/ui/segments/{quote(made.name)}")

    @r.get("/ui/segments/new")
    @r.get("/ui/segments/new.json")
    def new(
        request: Request,
        session: Session,
        name: Annotated[str, Query(max_length=63)] = "",
        definition: Annotated[str, Query(max_length=MAX_LENGTH)] = "",
    ) -> Response:
        """The editor; ``name`` and ``definition`` prefill it (a new version)."""
        data = {
            "name": name,
            "definition": definition,
            "example": _EXAMPLE,
            "fields": [
                {"name": f.name, "kind": f.kind, "doc": f.doc} for f in FIELDS.values()
            ],
        }
        return render(
            request,
            "segments_new.html",
            data,
            title="New segment",
            section="segments",
            session=session,
        )

    @r.get("/ui/segments/preview")
    @r.get("/ui/segments/preview.json")
    def preview_page(
        request: Request,
        session: Session,
        definition: Annotated[str, Query(max_length=MAX_LENGTH)] = "",
    ) -> Response:
        """A definition's preview: the editor's live box (``accept: text/html;
        fragment=1``), or a page and its twin. An unreadable definition is
        shown with the parser's position and reason (400 on the page and
        twin; 200 in the live box, which is answering correctly)."""
        if not definition.strip():
            raise BadRequest("give a definition to preview: ?definition=...")
        with read_warehouse(settings_of(request)) as wh:
            data = definition_preview(wh, definition)
        fragment = _is_fragment(request)
        return render(
            request,
            "segments_preview_box.html" if fragment else "segments_preview.html",
            data,
            title="Segment preview",
            section="segments",
            session=session,
            status=400 if data["error"] and not fragment else 200,
        )

    @r.get("/ui/segments/{name}")
    @r.get("/ui/segments/{name}.json")
    def segment(name: str, request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = segment_page(wh, name)
        return render(
            request,
            "segments_detail.html",
            data,
            title=f"Segment {name}",
            section="segments",
            session=session,
        )

    @r.post("/ui/segments/{name}/build")
    def build(
        name: str,
        request: Request,
        session: Session,
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        """Run the segments build stage now (every segment, as the CLI does:
        membership is one reconciled table)."""
        check_csrf(request, session, csrf)
        settings = settings_of(request)
        with read_warehouse(settings, read_only=False, wait_seconds=10) as wh:
            versions(wh, name)  # 404 for a name with no definition
            run_build(wh, [SEGMENTS_STAGE], settings=settings)
        return redirect(f"/ui/segments/{quote(name)}")

    @r.post("/ui/segments/{name}/export")
    def export(
        name: str,
        request: Request,
        session: Session,
        csrf: Annotated[str, Form(max_length=200)] = "",
        format: Annotated[str, Form(max_length=20)] = "csv",
        purpose: Annotated[str, Form(max_length=40)] = "personalization",
        platform: Annotated[str, Form(max_length=20)] = "google",
    ) -> Response:
        """The current members who granted the consent the file needs, as a
        download; counts of who was left out travel in response headers."""
        check_csrf(request, session, csrf)
        if format not in EXPORT_FORMATS:
            raise BadRequest(
                f"format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}"
            )
        suffix = "parquet" if format == "parquet" else "csv"
        with tempfile.TemporaryDirectory(prefix="shopkeeper-export-") as tmp:
            path = Path(tmp) / f"{name}.{suffix}"
            with read_warehouse(settings_of(request)) as wh:
                if format == "hashed-audience":
                    result = export_audience(wh, name, path, platform=platform)
                else:
                    result = export_members(
                        wh,
                        name,
                        path,
                        format=format,
                        fields=["customer_id", "household_id", "entered_at"],
                        purpose=purpose,
                    )
            body = path.read_bytes()
        filename = f"{name}-v{result.version}-{format}.{suffix}"
        return Response(
            body,
            media_type=_MEDIA[format],
            headers={
                "content-disposition": f'attachment; filename="{filename}"',
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
                "x-shopkeeper-rows": str(result.rows),
                "x-shopkeeper-members": str(result.members),
                "x-shopkeeper-without-consent": str(result.without_consent),
            },
        )

    return r
