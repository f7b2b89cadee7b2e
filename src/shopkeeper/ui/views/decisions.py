"""The decisions page: where decisions are shown, how often they are answered,
what other policies would have earned, the limits every decision obeys and how
often each one refused.

Everything is read from the exposure log (the ``exposures`` table the loader
fills from ``POST /v1/decide`` and the store-zone trigger), the outcome events
that carry a ``decision_id``, the same rows ``shopkeeper evaluate decisions``
reads, so the page's outcome rates are the command's, and the ``refusals``
table the loader fills from the refusals ``POST /v1/decide`` logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from shopkeeper.decide.decisions import REFUSAL_KINDS
from shopkeeper.decide.exposure_log import (
    ESTIMATORS,
    OUTCOME_EVENTS,
    POLICIES,
    evaluate_decisions,
    exposure_rewards,
)
from shopkeeper.warehouse import Warehouse

__all__ = ["REFUSALS_NOTE", "decisions_page", "limits", "refusals"]

REFUSALS_NOTE = (
    "Refusals (no consent, quiet hours, a daily cap reached, no eligible offer "
    "or candidate) are answered to the caller with their reason and logged by "
    "POST /v1/decide and by the store-zone trigger in the refusals table."
)


def limits(
    caps: Mapping[str, int], quiet_hours: tuple[int, int], exploration: float
) -> dict[str, Any]:
    """The server's configured limits, as every decision applies them."""
    start, end = quiet_hours
    return {
        "daily_caps": [
            {"channel": channel, "per_day": cap}
            for channel, cap in sorted(caps.items())
        ],
        "quiet_hours": f"{start:02d}:00-{end:02d}:00",
        "quiet_channels": ["push", "sms"],
        "exploration": exploration,
        "consent": (
            "e-mail, push and SMS need an explicit grant of their purpose; store "
            "staff need a personalization grant; personalization withdrawn means "
            "popular items only"
        ),
    }


def _placements(wh: Warehouse) -> list[dict[str, Any]]:
    x = wh.table("exposures")
    per = x.group_by(["channel", "placement", "policy"]).agg(
        exposures=x.count(),
        decisions=x.decision_id.nunique(),
        customers=x.identifier.nunique(),
        mean_propensity=x.propensity.mean(),
        first=x.exposed_at.min(),
        last=x.exposed_at.max(),
    )
    rows = wh.to_arrow(
        per.order_by([ibis.desc("exposures"), "channel", "placement"])
    ).to_pylist()
    for row in rows:  # to the second: the log's microseconds are noise here
        for key in ("first", "last"):
            if row[key] is not None:
                row[key] = f"{row[key]:%Y-%m-%d %H:%M:%S}"
    return rows


def _daily(wh: Warehouse) -> dict[str, Any]:
    """Exposures, decisions and the share of exposures answered, per day."""
    x = exposure_rewards(wh)
    x = x.mutate(day=x.exposed_at.date())
    rows = wh.to_arrow(
        x.group_by("day")
        .agg(
            exposures=x.count(),
            decisions=x.decision_id.nunique(),
            outcomes=x.reward.sum(),
        )
        .order_by("day")
    ).to_pylist()
    return {
        "days": [r["day"] for r in rows],
        "exposures": [r["exposures"] for r in rows],
        "decisions": [r["decisions"] for r in rows],
        "outcomes": [int(r["outcomes"] or 0) for r in rows],
        "outcome_rate": [
            (r["outcomes"] or 0) / r["exposures"] if r["exposures"] else None
            for r in rows
        ],
    }


def refusals(wh: Warehouse) -> dict[str, Any]:
    """Refused decisions in total, per reason kind and channel, and per day
    and kind (every kind, so a limit that never refused shows a zero)."""
    if not wh.exists("refusals") or wh.count("refusals") == 0:
        return {"total": 0, "by_kind": [], "daily": [], "kinds": list(REFUSAL_KINDS)}
    r = wh.table("refusals")
    by_kind = wh.to_arrow(
        r.group_by(["reason_kind", "channel"])
        .agg(
            refusals=r.count(),
            customers=r.identifier.nunique(),
            example=r.reason.max(),
        )
        .order_by([ibis.desc("refusals"), "reason_kind", "channel"])
    ).to_pylist()
    per_day = wh.to_arrow(
        r.mutate(day=r.refused_at.date())
        .group_by(["day", "reason_kind"])
        .agg(refusals=ibis._.count())
        .order_by("day")
    ).to_pylist()
    for row in by_kind:  # the bar chart's label
        row["label"] = f"{row['reason_kind']} ({row['channel']})"
    days: dict[Any, dict[str, Any]] = {}
    for row in per_day:
        day = days.setdefault(
            row["day"],
            {"day": row["day"], "total": 0, **dict.fromkeys(REFUSAL_KINDS, 0)},
        )
        day[row["reason_kind"]] = row["refusals"]
        day["total"] += row["refusals"]
    return {
        "total": sum(row["refusals"] for row in by_kind),
        "by_kind": by_kind,
        "daily": list(days.values()),
        "kinds": list(REFUSAL_KINDS),
    }


def decisions_page(
    wh: Warehouse,
    *,
    caps: Mapping[str, int],
    quiet_hours: tuple[int, int],
    exploration: float,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Placements, daily exposures and outcome rates, off-policy estimates,
    the limits and the refusals; ``empty`` when no exposure is loaded yet."""
    base: dict[str, Any] = {
        "limits": limits(caps, quiet_hours, exploration),
        "refusals_logged": True,
        "refusals": refusals(wh),
        "refusals_note": REFUSALS_NOTE,
        "outcome_events": list(OUTCOME_EVENTS),
        "policies": list(POLICIES),
        "estimators": list(ESTIMATORS),
        "n_boot": n_boot,
    }
    if not wh.exists("exposures") or wh.count("exposures") == 0:
        return {
            **base,
            "empty": True,
            "exposures": 0,
            "placements": [],
            "daily": None,
            "evaluation": [],
        }
    evaluation = [e.as_dict() for e in evaluate_decisions(wh, n_boot=n_boot, seed=seed)]
    return {
        **base,
        "empty": False,
        "exposures": wh.count("exposures"),
        "placements": _placements(wh),
        "daily": _daily(wh),
        "evaluation": evaluation,
    }
