"""The dashboard's Merchandising section: affinity by segment, basket rules
and promotion response, in the segments marketing uses.

The page reads; basket rules come from the insights build stage, which a
form post can rerun (as `shopkeeper build insights` does).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from shopkeeper.segments.insights_build import STAGE as INSIGHTS_STAGE
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.ui.pages import redirect, render
from shopkeeper.ui.router import Session, check_csrf, settings_of
from shopkeeper.ui.views.merchandising import merchandising
from shopkeeper.warehouse import run_build

__all__ = ["router"]


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/ui/merchandising")
    @r.get("/ui/merchandising.json")
    def page(
        request: Request,
        session: Session,
        segment: Annotated[str | None, Query(max_length=63)] = None,
        level: Annotated[str, Query(max_length=20)] = "department",
        min_support: Annotated[float, Query()] = 0.02,
        min_lift: Annotated[float, Query()] = 1.0,
    ) -> Response:
        """``segment`` and ``level`` pick the affinity shown; ``min_support``
        and ``min_lift`` filter the basket rules."""
        with read_warehouse(settings_of(request)) as wh:
            data = merchandising(
                wh,
                segment=segment or None,
                level=level,
                min_support=min_support,
                min_lift=min_lift,
            )
        return render(
            request,
            "merchandising.html",
            data,
            title="Merchandising",
            section="merchandising",
            session=session,
        )

    @r.post("/ui/merchandising/compute")
    def compute(
        request: Request,
        session: Session,
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        """Rebuild the basket rules (the insights stage: a few seconds on
        the full Complete Journey)."""
        check_csrf(request, session, csrf)
        settings = settings_of(request)
        with read_warehouse(settings, read_only=False, wait_seconds=10) as wh:
            run_build(wh, [INSIGHTS_STAGE], settings=settings)
        return redirect("/ui/merchandising")

    return r
