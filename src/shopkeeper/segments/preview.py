"""A segment's size and a sample of members, before anyone commits to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shopkeeper.errors import BadRequest
from shopkeeper.segments.compile import evaluate, referenced_fields
from shopkeeper.segments.language import parse
from shopkeeper.segments.sources import profile_as_of
from shopkeeper.warehouse import Warehouse

__all__ = ["KEY_FIELDS", "preview"]

KEY_FIELDS = ("rfm_segment", "monetary", "clv_52w")
"""Shown for every sampled member besides the fields the definition tests."""


def preview(
    wh: Warehouse,
    definition: str,
    *,
    as_of: dt.date | None = None,
    sample: int = 10,
) -> dict[str, Any]:
    """Size, share of all customers and a sample of members of ``definition``.

    The sample is the members with the smallest customer ids: ids are hashes,
    so this is an unbiased and repeatable pick on every engine.
    """
    if not 0 <= sample <= 1000:
        raise BadRequest("sample must be between 0 and 1000")
    node = parse(definition)
    as_of = as_of or profile_as_of(wh)
    fields = list(dict.fromkeys([*referenced_fields(node), *KEY_FIELDS]))
    scored = evaluate(wh, node, as_of, fields)
    shown = [*fields, *(c for c in scored.columns if c.startswith("affinity_"))]
    scored = scored.select("customer_id", "household_id", *shown, "member")
    counts = wh.to_arrow(
        scored.aggregate(
            customers=scored.count(), size=scored.member.cast("int64").sum()
        )
    ).to_pylist()[0]
    total, size = int(counts["customers"] or 0), int(counts["size"] or 0)
    rows = wh.to_arrow(
        scored.filter(scored.member)
        .drop("member")
        .order_by("customer_id")
        .limit(sample)
    ).to_pylist()
    return {
        "definition": definition,
        "as_of": as_of.isoformat(),
        "size": size,
        "customers": total,
        "share": size / total if total else 0.0,
        "fields": ["customer_id", "household_id", *shown],
        "sample": rows,
    }
