"""The Decisions section: placements, exposure and outcome rates, off-policy
estimates, caps and consent.

Off-policy evaluation fits a reward model per placement and bootstraps its
estimates, so the page's data is kept (:class:`WarehouseResults`) until the
warehouse changes, which the loader does whenever new exposures arrive.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shopkeeper.ui.campaigns import WarehouseResults
from shopkeeper.ui.pages import render
from shopkeeper.ui.router import Session, settings_of
from shopkeeper.ui.views.decisions import decisions_page

__all__ = ["router"]


def router() -> APIRouter:
    """The section's page and its ``.json`` twin."""
    r = APIRouter(include_in_schema=False)
    results = WarehouseResults(max_entries=2)

    @r.get("/ui/decisions")
    @r.get("/ui/decisions.json")
    def decisions(request: Request, session: Session) -> Response:
        settings = settings_of(request)
        data = results.get(
            settings,
            "decisions",
            lambda wh: decisions_page(
                wh,
                caps=settings.decide_daily_caps,
                quiet_hours=settings.decide_quiet_hours,
                exploration=settings.decide_exploration,
            ),
        )
        return render(
            request,
            "decisions.html",
            data,
            title="Decisions",
            section="decisions",
            session=session,
        )

    return r
