"""Segment: declarative segment definitions, batch and real-time membership,
audience export."""

from __future__ import annotations

from shopkeeper.segments.build import STAGE, reconcile
from shopkeeper.segments.compile import evaluate, members
from shopkeeper.segments.definitions import (
    Definition,
    create_segment,
    get_segment,
    list_segments,
    versions,
)
from shopkeeper.segments.export import (
    AUDIENCE_HEADERS,
    ExportResult,
    export_audience,
    export_members,
    member_fields,
)
from shopkeeper.segments.fields import FIELDS
from shopkeeper.segments.language import SegmentSyntaxError, parse
from shopkeeper.segments.online import online_profiles
from shopkeeper.segments.preview import preview
from shopkeeper.segments.realtime import RealtimeSegment

__all__ = [
    "AUDIENCE_HEADERS",
    "FIELDS",
    "STAGE",
    "Definition",
    "ExportResult",
    "RealtimeSegment",
    "SegmentSyntaxError",
    "create_segment",
    "evaluate",
    "export_audience",
    "export_members",
    "get_segment",
    "list_segments",
    "member_fields",
    "members",
    "online_profiles",
    "parse",
    "preview",
    "reconcile",
    "versions",
]
