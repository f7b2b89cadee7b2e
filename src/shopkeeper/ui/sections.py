"""The dashboard's sections beyond the overview and customer 360.

Each section module exposes ``router()``; listing them here keeps the core
router free of every section's imports.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["section_routers"]


def section_routers() -> list[APIRouter]:
    # Imported here, not above: each section imports shopkeeper.ui.router,
    # which imports this module.
    from shopkeeper.ui import campaigns, decisions, merchandising, segments

    return [
        campaigns.router(),
        decisions.router(),
        segments.router(),
        merchandising.router(),
    ]
