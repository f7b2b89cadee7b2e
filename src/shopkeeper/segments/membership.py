"""Reading materialised membership: current counts and the history of changes."""

from __future__ import annotations

from typing import Any

import ibis

from shopkeeper.model.segments import SEGMENTS_MEMBERS
from shopkeeper.warehouse import Warehouse

__all__ = ["member_counts", "member_history"]


def member_counts(wh: Warehouse) -> dict[tuple[str, int], int]:
    """(segment, version) -> current members, for every built version."""
    if not wh.exists(SEGMENTS_MEMBERS.name):
        return {}
    t = wh.table(SEGMENTS_MEMBERS.name)
    counts = t.group_by(["segment", "version"]).agg(
        n=t.exited_at.isnull().cast("int64").sum()
    )
    return {
        (r["segment"], r["version"]): int(r["n"])
        for r in wh.to_arrow(counts).to_pylist()
    }


def member_history(wh: Warehouse, name: str) -> list[dict[str, Any]]:
    """Per build date and version: customers who entered, who exited, and the
    members after that build, oldest first. This is the audit view: each
    number is a count of rows that say who and when."""
    if not wh.exists(SEGMENTS_MEMBERS.name):
        return []
    t = wh.table(SEGMENTS_MEMBERS.name).filter(ibis._.segment == name)
    entered = t.group_by([t.entered_at.name("date"), "version"]).agg(entered=t.count())
    gone = t.filter(t.exited_at.notnull())
    exited = gone.group_by([gone.exited_at.name("date"), "version"]).agg(
        exited=gone.count()
    )
    rows: dict[tuple[Any, int], dict[str, Any]] = {}
    for r in wh.to_arrow(entered).to_pylist() + wh.to_arrow(exited).to_pylist():
        key = (r["date"], r["version"])
        row = rows.setdefault(
            key, {"date": r["date"], "version": r["version"], "entered": 0, "exited": 0}
        )
        row["entered"] += r.get("entered", 0) or 0
        row["exited"] += r.get("exited", 0) or 0
    out, members = [], 0
    for key in sorted(rows, key=lambda k: (k[0], k[1])):
        row = rows[key]
        members += row["entered"] - row["exited"]
        out.append(row | {"date": row["date"].date().isoformat(), "members": members})
    return out
