"""The segments pages: every segment, a definition's live preview, one
segment's history, and how a segment differs from everyone.

A preview answers "who is this, really?" before anyone commits to a rule:
its size, a sample of members, and the few numbers that tell a marketer
whether the segment is what they meant (do "produce lovers" really spend
more of their basket on produce, and are they worth more?). The same
comparison is shown on a built segment's page, so the preview and the
result read alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis.expr.types as ir

from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.model.segments import SEGMENTS_MEMBERS
from shopkeeper.profiles.purchases import purchase_lines
from shopkeeper.segments import list_segments, versions
from shopkeeper.segments.compile import evaluate, referenced_fields
from shopkeeper.segments.export import (
    AUDIENCE_HEADERS,
    AUDIENCE_PURPOSE,
    DEFAULT_PURPOSE,
)
from shopkeeper.segments.fields import FIELDS
from shopkeeper.segments.language import SegmentSyntaxError, parse
from shopkeeper.segments.membership import member_counts, member_history
from shopkeeper.segments.preview import KEY_FIELDS
from shopkeeper.segments.sources import profile_as_of, profile_base
from shopkeeper.warehouse import Warehouse

__all__ = [
    "COMPARED_FIELDS",
    "EXPORT_FORMATS",
    "compare",
    "definition_preview",
    "segment_list",
    "segment_page",
    "syntax_error",
]

COMPARED_FIELDS = (
    "monetary",
    "frequency",
    "avg_basket_value",
    "clv_52w",
    "p_alive",
)
"""The profile fields a segment is set against the population on: spend,
trips, basket size, future value and the chance they are still active are
what tell a marketer whether a rule picked the people they meant."""

DEPARTMENTS_SHOWN = 10
SAMPLE = 10
_TEMP = "_tmp_ui_segment_scored"

EXPORT_FORMATS = {
    "csv": "CSV of members (customer id, household, date they entered)",
    "parquet": "Parquet of members (the same columns)",
    "hashed-audience": "Hashed e-mail audience for an ad platform",
}
"""What the export form offers; the consent each needs is on the page."""


def syntax_error(exc: SegmentSyntaxError, definition: str) -> dict[str, Any]:
    """The parser's complaint, with the line it points into, for display."""
    lines = definition.splitlines() or [""]
    line = lines[min(exc.line, len(lines)) - 1]
    return {
        "message": exc.message,
        "reason": exc.reason,
        "line": exc.line,
        "column": exc.column,
        "suggestion": exc.suggestion,
        "source_line": line,
        "pointer": " " * max(exc.column - 1, 0) + "^",
    }


def _departments(
    wh: Warehouse, scored: ir.Table, as_of: dt.date
) -> list[dict[str, Any]]:
    """Share of spend by department, members against everyone, in one pass."""
    lines = purchase_lines(wh, as_of)
    products = wh.table("products").select(_pid="product_id", department="department")
    j = lines.left_join(products, lines.product_id == products._pid)
    mine = scored.filter(scored.member).select(_cid="customer_id")
    j = j.left_join(mine, j.customer_id == mine._cid)
    by = j.group_by(department=j.department.fill_null("UNKNOWN")).agg(
        everyone=j.sales_value.sum(),
        segment=j.sales_value.sum(where=j._cid.notnull()),
    )
    rows = wh.to_arrow(by).to_pylist()
    total_all = sum(r["everyone"] or 0.0 for r in rows)
    total_seg = sum(r["segment"] or 0.0 for r in rows)
    out = []
    for r in rows:
        pop = (r["everyone"] or 0.0) / total_all if total_all else 0.0
        seg = (r["segment"] or 0.0) / total_seg if total_seg else 0.0
        out.append(
            {
                "department": r["department"],
                "segment_share": round(seg, 4),
                "population_share": round(pop, 4),
                "index": round(seg / pop, 3) if pop else 0.0,
            }
        )
    out.sort(key=lambda r: (-r["segment_share"], r["department"]))
    return out[:DEPARTMENTS_SHOWN]


def compare(wh: Warehouse, scored: ir.Table, as_of: dt.date) -> dict[str, Any]:
    """Means of the key fields and department shares, segment vs everyone.

    ``scored`` is :func:`shopkeeper.segments.compile.evaluate`'s table with
    the compared fields. Everyone is every customer with a value (a customer
    without a profile row has none and is left out of a mean, not counted
    as zero).
    """
    aggs: dict[str, ir.Value] = {}
    for name in COMPARED_FIELDS:
        aggs[f"s_{name}"] = scored[name].mean(where=scored.member)
        aggs[f"a_{name}"] = scored[name].mean()
    means = wh.to_arrow(scored.aggregate(**aggs)).to_pylist()[0]
    fields = []
    for name in COMPARED_FIELDS:
        seg, everyone = means[f"s_{name}"], means[f"a_{name}"]
        fields.append(
            {
                "field": name,
                "doc": FIELDS[name].doc,
                "segment": None if seg is None else round(seg, 3),
                "everyone": None if everyone is None else round(everyone, 3),
                "ratio": round(seg / everyone, 3) if seg and everyone else None,
            }
        )
    return {"fields": fields, "departments": _departments(wh, scored, as_of)}


def _scored(wh: Warehouse, definition: str, as_of: dt.date) -> ir.Table:
    """Every customer with the fields shown and ``member``, evaluated once
    into a temporary table: an affinity condition costs a pass over every
    purchase line, and the size, the sample and the comparison all read it."""
    node = parse(definition)
    fields = list(
        dict.fromkeys([*referenced_fields(node), *KEY_FIELDS, *COMPARED_FIELDS])
    )
    scored = evaluate(wh, node, as_of, fields)
    shown = [*fields, *(c for c in scored.columns if c.startswith("affinity_"))]
    scored = scored.select("customer_id", "household_id", *shown, "member")
    return wh.checkpoint(scored, _TEMP)


def _size_and_sample(
    wh: Warehouse, scored: ir.Table, node_fields: list[str]
) -> dict[str, Any]:
    """What :func:`shopkeeper.segments.preview` answers, read off ``scored``."""
    counts = wh.to_arrow(
        scored.aggregate(
            customers=scored.count(), size=scored.member.cast("int64").sum()
        )
    ).to_pylist()[0]
    total, size = int(counts["customers"] or 0), int(counts["size"] or 0)
    shown = ["customer_id", "household_id", *node_fields]
    sample = wh.to_arrow(
        scored.filter(scored.member)
        .select(*shown)
        .order_by("customer_id")
        .limit(SAMPLE)
    ).to_pylist()
    return {
        "size": size,
        "customers": total,
        "share": size / total if total else 0.0,
        "fields": shown,
        "sample": sample,
    }


def _shown_fields(definition: str, scored: ir.Table) -> list[str]:
    """The definition's own fields, then the key ones, then its affinities:
    the sample shows why each member matched."""
    node = parse(definition)
    fields = list(dict.fromkeys([*referenced_fields(node), *KEY_FIELDS]))
    return [*fields, *(c for c in scored.columns if c.startswith("affinity_"))]


def definition_preview(wh: Warehouse, definition: str) -> dict[str, Any]:
    """Size, share, sample and the comparison with everyone, of an unsaved
    definition; an unreadable one answers the parser's line, column and
    reason under ``error`` instead of raising, so the editor can show it.

    The size and sample are what ``POST /v1/segments/preview`` answers (the
    same sample rule: the smallest customer ids); the definition is
    evaluated once for them and the comparison together.
    """
    definition = definition.strip()
    try:
        parse(definition)
    except SegmentSyntaxError as exc:
        return {"definition": definition, "error": syntax_error(exc, definition)}
    as_of = profile_as_of(wh)
    scored = _scored(wh, definition, as_of)
    try:
        found = _size_and_sample(wh, scored, _shown_fields(definition, scored))
        comparison = compare(wh, scored, as_of)
    finally:
        wh.drop_temp(_TEMP)
    return {
        "definition": definition,
        "as_of": as_of.isoformat(),
        **found,
        "error": None,
        "comparison": comparison,
    }


def segment_list(wh: Warehouse) -> dict[str, Any]:
    """Every segment's latest version, with its members in the last build
    (``None`` when that version has not been built yet)."""
    counts = member_counts(wh)
    rows = []
    for d in list_segments(wh):
        rows.append(
            d.as_dict()
            | {
                "members": counts.get((d.name, d.version)),
                "built_versions": sorted(v for (n, v) in counts if n == d.name),
            }
        )
    return {"segments": rows}


def _scored_members(
    wh: Warehouse, name: str, version: int, definition: str
) -> ir.Table:
    """Every customer with the fields shown and ``member`` from the built
    membership of ``version``: no condition is evaluated again (an affinity
    condition costs a pass over every purchase line)."""
    node = parse(definition)
    fields = list(
        dict.fromkeys([*referenced_fields(node), *KEY_FIELDS, *COMPARED_FIELDS])
    )
    base = profile_base(wh, fields)
    m = wh.table(SEGMENTS_MEMBERS.name)
    m = m.filter(
        (m.segment == name) & (m.version == version) & m.exited_at.isnull()
    ).select(_cid="customer_id")
    j = base.left_join(m, base.customer_id == m._cid)
    scored = j.select(*base.columns, member=j._cid.notnull())
    return wh.checkpoint(scored, _TEMP)


def segment_page(wh: Warehouse, name: str) -> dict[str, Any]:
    """A segment's versions, membership over time, comparison and export.

    A built version is described by its members (what an export would hold
    before consent); a version not built yet by its definition evaluated on
    today's profiles, as the preview does, with ``members`` ``None`` and
    ``matches_now`` the size it would have.
    """
    every = versions(wh, name)
    latest = every[-1]
    counts = member_counts(wh)
    members = counts.get((name, latest.version))
    as_of = profile_as_of(wh)
    if members is None:
        scored = _scored(wh, latest.definition, as_of)
    else:
        scored = _scored_members(wh, name, latest.version, latest.definition)
    try:
        found = _size_and_sample(wh, scored, _shown_fields(latest.definition, scored))
        comparison = compare(wh, scored, as_of)
    finally:
        wh.drop_temp(_TEMP)
    history = member_history(wh, name)
    return {
        **latest.as_dict(),
        "members": members,
        "matches_now": found["size"] if members is None else None,
        "compared": "definition" if members is None else "members",
        "customers": found["customers"],
        "share": found["share"],
        "as_of": as_of.isoformat(),
        "versions": [
            d.as_dict() | {"members": counts.get((name, d.version))}
            for d in reversed(every)
        ],
        "history": history,
        "comparison": comparison,
        "export": {
            "formats": EXPORT_FORMATS,
            "purposes": list(PURPOSES),
            "default_purpose": DEFAULT_PURPOSE,
            "audience_purpose": AUDIENCE_PURPOSE,
            "platforms": list(AUDIENCE_HEADERS),
        },
    }
