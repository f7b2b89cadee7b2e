"""The stages of the build, composed in one place for the CLI and the server."""

from __future__ import annotations

from shopkeeper import identity, profiles, recommend, segments
from shopkeeper.segments import insights_build
from shopkeeper.warehouse import Stage

__all__ = ["STAGES"]

STAGES: tuple[Stage, ...] = (
    identity.STAGE,
    profiles.STAGE,
    segments.STAGE,
    insights_build.STAGE,
    recommend.STAGE,
)
"""Every build stage; the graph orders them by their declared tables."""
