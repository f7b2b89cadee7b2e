"""The merchandising page: what each segment buys, what goes together in
baskets, and who answers promotions, from :mod:`shopkeeper.segments.insights`.

Affinity by segment is computed per view (one segment, about a second on
the full Complete Journey), and so is promotion response (from the profiles'
per-customer promotion shares, milliseconds). Basket rules pair every
basket's categories, a few seconds there: the insights build stage keeps
them in ``insights_category_rules`` and the page filters that table.
"""

from __future__ import annotations

from typing import Any

import ibis

from shopkeeper.errors import BadRequest
from shopkeeper.model.segments import INSIGHTS_RULES
from shopkeeper.segments import list_segments
from shopkeeper.segments.insights import (
    LEVELS,
    affinity_by_segment,
    promotion_response,
)
from shopkeeper.segments.insights_build import RULES_MIN_SUPPORT
from shopkeeper.warehouse import Warehouse

__all__ = ["merchandising"]

RULES_SHOWN = 30
AFFINITY_SHOWN = 15


def _built_segments(wh: Warehouse) -> list[str]:
    """Segments with open memberships: the ones affinity can be shown for."""
    if not wh.exists("segments_members"):
        return []
    t = wh.table("segments_members")
    rows = wh.to_arrow(
        t.filter(t.exited_at.isnull()).select("segment").distinct().order_by("segment")
    )
    built = set(rows.column("segment").to_pylist())
    return [d.name for d in list_segments(wh) if d.name in built]


def _affinity(
    wh: Warehouse, segment: str | None, level: str, segments: list[str]
) -> list[dict[str, Any]]:
    if segment is None:
        return []
    if segment not in segments:
        raise BadRequest(
            f"segment {segment!r} has no built members; pick one of "
            + (", ".join(segments) or "(none built yet)")
        )
    t = affinity_by_segment(wh, level=level)
    t = t.filter(t.segment == segment).order_by([ibis.desc("index"), level])
    rows = wh.to_arrow(t.limit(AFFINITY_SHOWN)).to_pylist()
    return [{"key": r[level], **{k: r[k] for k in r if k != level}} for r in rows]


def _rules(wh: Warehouse, min_support: float, min_lift: float) -> dict[str, Any]:
    if not wh.exists(INSIGHTS_RULES.name):
        return {"as_of": None, "rows": [], "matching": 0}
    t = wh.table(INSIGHTS_RULES.name)
    kept = t.filter((t.support >= min_support) & (t.lift >= min_lift))
    rows = wh.to_arrow(
        kept.order_by([ibis.desc("lift"), "antecedent", "consequent"])
        .select("antecedent", "consequent", "baskets", "support", "confidence", "lift")
        .limit(RULES_SHOWN)
    ).to_pylist()
    return {
        "as_of": wh.execute(t.as_of.max()),
        "rows": rows,
        "matching": int(wh.execute(kept.count())),
    }


def _promotions(wh: Warehouse) -> dict[str, Any]:
    if not wh.exists("promotions"):
        return {"rows": []}
    rows = wh.to_arrow(promotion_response(wh)).to_pylist()
    return {"rows": rows}


def merchandising(
    wh: Warehouse,
    *,
    segment: str | None = None,
    level: str = "department",
    min_support: float = 0.02,
    min_lift: float = 1.0,
) -> dict[str, Any]:
    """Affinity of one segment (the first built one unless named), the basket
    rules passing the filters, and promotion response by segment."""
    if level not in LEVELS:
        raise BadRequest(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if not RULES_MIN_SUPPORT <= min_support < 1:
        raise BadRequest(
            f"min_support must lie in [{RULES_MIN_SUPPORT}, 1): rules are kept "
            f"down to {RULES_MIN_SUPPORT:.0%} of baskets"
        )
    if min_lift < 0:
        raise BadRequest("min_lift must be 0 or more")
    segments = _built_segments(wh)
    chosen = segment or (segments[0] if segments else None)
    return {
        "segments": segments,
        "segment": chosen,
        "level": level,
        "levels": list(LEVELS),
        "affinity": _affinity(wh, chosen, level, segments),
        "min_support": min_support,
        "min_lift": min_lift,
        "rules_floor": RULES_MIN_SUPPORT,
        "rules": _rules(wh, min_support, min_lift),
        "promotions": _promotions(wh),
    }
