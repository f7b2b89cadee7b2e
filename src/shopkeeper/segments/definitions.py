"""Named, versioned segment definitions, kept in ``segments_definitions``.

Creating a segment appends a version rather than editing one: membership
rows name the version that admitted a customer, so an audit can always show
the exact rule in force. A definition is parsed before it is stored; a broken
one never reaches the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from shopkeeper.errors import BadRequest, NotFound
from shopkeeper.model.segments import SEGMENTS_DEFINITIONS
from shopkeeper.segments.language import parse
from shopkeeper.warehouse import Warehouse

__all__ = ["Definition", "create_segment", "get_segment", "list_segments", "versions"]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class Definition:
    """One version of a segment."""

    name: str
    version: int
    definition: str
    description: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "definition": self.definition,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
        }


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise BadRequest(
            f"segment name {name!r} is not allowed: use 1-63 lower-case letters, "
            "digits, '_' or '-', starting with a letter (e.g. produce_lovers)"
        )


def _rows(wh: Warehouse, name: str | None = None) -> list[Definition]:
    if not wh.exists(SEGMENTS_DEFINITIONS.name):
        return []
    t = wh.table(SEGMENTS_DEFINITIONS.name)
    if name is not None:
        t = t.filter(t.name == name)
    rows = wh.to_arrow(t.order_by(["name", "version"])).to_pylist()
    return [
        Definition(
            r["name"], r["version"], r["definition"], r["description"], r["created_at"]
        )
        for r in rows
    ]


def versions(wh: Warehouse, name: str) -> list[Definition]:
    """Every version of ``name``, oldest first; 404 if there is none."""
    found = _rows(wh, name)
    if not found:
        raise NotFound(
            f"no segment named {name!r}",
            hint="`shopkeeper segment list` shows the segments",
        )
    return found


def get_segment(wh: Warehouse, name: str, version: int | None = None) -> Definition:
    """The latest version of ``name`` (or the one asked for)."""
    found = versions(wh, name)
    if version is None:
        return found[-1]
    for d in found:
        if d.version == version:
            return d
    raise NotFound(
        f"segment {name!r} has no version {version}; it has "
        + ", ".join(str(d.version) for d in found)
    )


def list_segments(wh: Warehouse) -> list[Definition]:
    """The latest version of every segment, by name."""
    latest: dict[str, Definition] = {}
    for d in _rows(wh):
        latest[d.name] = d
    return list(latest.values())


def create_segment(
    wh: Warehouse,
    name: str,
    definition: str,
    description: str | None = None,
    *,
    at: datetime | None = None,
) -> Definition:
    """Validate and store a new version of ``name``; return it.

    The text is parsed first (a ``SegmentSyntaxError`` names the line, column
    and reason). Creating the same definition and description as the latest
    version returns that version instead of adding an identical one, so a
    script that creates its segments on every deploy changes nothing.
    """
    _check_name(name)
    definition = definition.strip()
    parse(definition)
    existing = _rows(wh, name)
    if existing:
        last = existing[-1]
        if last.definition == definition and last.description == description:
            return last
    created = Definition(
        name,
        existing[-1].version + 1 if existing else 1,
        definition,
        description,
        (at or datetime.now(UTC)).replace(tzinfo=None),
    )
    row = created.as_dict() | {"created_at": created.created_at}
    data = pa.Table.from_pylist([row], schema=SEGMENTS_DEFINITIONS.schema.to_pyarrow())
    with wh.transaction():
        wh.append(SEGMENTS_DEFINITIONS, wh.stage_arrow("_tmp_segment_def", data))
    wh.drop_temp("_tmp_segment_def")
    return created
