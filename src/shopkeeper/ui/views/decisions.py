"""The decisions page: where decisions are shown, how often they are answered,
what other policies would have earned, and the limits every decision obeys.

Everything is read from the exposure log (the ``exposures`` table the loader
fills from ``POST /v1/decide`` and the store-zone trigger) and the outcome
events that carry a ``decision_id``, the same rows ``shopkeeper evaluate
decisions`` reads, so the page's outcome rates are the command's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from shopkeeper.decide.exposure_log import (
    ESTIMATORS,
    OUTCOME_EVENTS,
    POLICIES,
    evaluate_decisions,
    exposure_rewards,
)
from shopkeeper.warehouse import Warehouse

__all__ = ["REFUSALS_NOTE", "decisions_page", "limits"]

REFUSALS_NOTE = (
    "Refusals (no consent, quiet hours, a daily cap reached, no eligible offer) "
    "are answered to the caller with their reason but not logged yet: only "
    "decisions that showed something reach the exposure log, so how often each "
    "limit refused cannot be counted here."
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


def decisions_page(
    wh: Warehouse,
    *,
    caps: Mapping[str, int],
    quiet_hours: tuple[int, int],
    exploration: float,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Placements, daily exposures and outcome rates, off-policy estimates and
    the limits; ``empty`` when nothing has been decided and loaded yet."""
    base: dict[str, Any] = {
        "limits": limits(caps, quiet_hours, exploration),
        "refusals_logged": False,
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
