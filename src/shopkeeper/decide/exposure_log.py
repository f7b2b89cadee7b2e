"""Our own exposure log as bandit feedback, and what other policies would earn.

Every item a decision showed is a row of ``exposures`` with the probability
the policy put it at that rank. Outcomes are ordinary tracked events carrying
the ``decision_id`` and the item (``offer_id``, ``product_id`` or
``item_id``); an outcome without an item counts for the decision's first
item, as the online learner credits it (:mod:`shopkeeper.decide.feedback`).
A row's reward is 1 when any outcome event named in ``OUTCOME_EVENTS``
answers it.

Per placement, the rows become a :class:`~shopkeeper.decide.ope.LoggedBandit`
(action: the item; position: the rank; context: the channel) and the
estimators of :mod:`shopkeeper.decide.ope` (IPS, SNIPS, DM, DR) value two
policies on it:

- **uniform**: a uniformly random order of the decision's candidates, so each
  candidate is at a given rank with probability ``1/k`` (``k`` is the
  exposure's ``candidates``; where the table does not carry it, the number of
  items the placement ever showed);
- **recommender**: the candidates in their own order (recommendations,
  complements, popular; offers by relevance), no bandit re-rank: at rank
  ``r`` exactly the candidate of ``base_rank`` ``r`` (needs ``base_rank``).

IPS and SNIPS need only the evaluated policy's probability of the logged
item, which is exact. DM and DR also need the modelled reward of the items
the evaluated policy would have shown instead; candidates that were never
shown in the decision are unknown, so they share one extra action, "another
candidate", whose reward the model learns from nothing placement-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from shopkeeper.decide.ope import (
    Estimate,
    LoggedBandit,
    dm,
    dr,
    fit_reward_model,
    ips,
    snips,
)
from shopkeeper.errors import NotFound
from shopkeeper.warehouse import Warehouse
from shopkeeper.warehouse.jsontext import json_text

__all__ = [
    "ESTIMATORS",
    "OUTCOME_EVENTS",
    "POLICIES",
    "PlacementEvaluation",
    "evaluate_decisions",
    "exposure_rewards",
    "outcome_events",
    "policy_distributions",
]

OUTCOME_EVENTS = (
    "Product Clicked",
    "Product Added",
    "Order Completed",
    "Coupon Redeemed",
    "Offer Clicked",
)
"""Tracked events that count as a decision's outcome (the Segment spec names)."""

POLICIES = ("uniform", "recommender")
ESTIMATORS = ("ips", "snips", "dm", "dr")


def outcome_events(wh: Warehouse, events: tuple[str, ...] = OUTCOME_EVENTS) -> ir.Table:
    """(decision_id, item_id or NULL) of each outcome event, one row per pair."""
    t = wh.table("events")
    t = t.filter((t.type == "track") & t.event.isin(list(events)))
    props = t.properties
    item = ibis.coalesce(
        json_text(props, "offer_id"),
        json_text(props, "product_id"),
        json_text(props, "item_id"),
        json_text(props, "productId"),
    )
    rows = t.select(
        decision_id=ibis.coalesce(
            json_text(props, "decision_id"), json_text(props, "decisionId")
        ),
        item_id=item,
    )
    return rows.filter(rows.decision_id.notnull()).distinct()


def exposure_rewards(
    wh: Warehouse, events: tuple[str, ...] = OUTCOME_EVENTS
) -> ir.Table:
    """Every exposure with ``reward`` 1 where an outcome answered it, else 0."""
    x = wh.table("exposures")
    if not wh.exists("events"):
        return x.mutate(reward=ibis.literal(0))
    o = outcome_events(wh, events)
    # An outcome naming no item is credited to the decision's first item.
    first = x.filter(x["rank"] == 1).select("decision_id", first_item="item_id")
    o = o.left_join(first, "decision_id").select(
        "decision_id", item_id=ibis.coalesce(ibis._.item_id, ibis._.first_item)
    )
    hits = o.distinct().mutate(hit=ibis.literal(1))
    j = x.left_join(hits, ["decision_id", "item_id"])
    return j.select(*x.columns, reward=j.hit.fill_null(0))


@dataclass(frozen=True)
class PlacementEvaluation:
    """One placement: its log, the logging policy's outcome rate, the estimates."""

    placement: str
    exposures: int
    decisions: int
    outcomes: int
    items: int
    on_policy: float
    estimates: dict[str, dict[str, Estimate | None]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON output."""
        return {
            "placement": self.placement,
            "exposures": self.exposures,
            "decisions": self.decisions,
            "outcomes": self.outcomes,
            "items": self.items,
            "on_policy": self.on_policy,
            "estimates": {
                policy: {
                    name: e.as_dict() if e is not None else None
                    for name, e in by.items()
                }
                for policy, by in self.estimates.items()
            },
            "notes": list(self.notes),
        }


def policy_distributions(
    frame: pd.DataFrame, n_items: int, has_base: bool
) -> dict[str, np.ndarray | None]:
    """Each policy's (rows, n_items + 1) distribution at each row's rank; the
    last column is "another candidate" (one never shown in that decision).

    ``frame`` has one row per exposure: ``decision_id``, ``action`` (the
    item's index), ``rank``, ``candidates`` and, with ``has_base``,
    ``base_rank``. The recommender policy is None without ``base_rank``.
    """
    n = len(frame)
    other = n_items
    shown = frame.groupby("decision_id")["action"].apply(list).to_dict()
    k = frame["candidates"].to_numpy(dtype=float)
    uniform = np.zeros((n, n_items + 1))
    for i, (decision, kk) in enumerate(zip(frame["decision_id"], k, strict=True)):
        known = shown[decision]
        uniform[i, known] = 1.0 / kk
        uniform[i, other] = max(0.0, 1.0 - len(known) / kk)
    out: dict[str, np.ndarray | None] = {"uniform": uniform, "recommender": None}
    if has_base:
        recommender = np.zeros((n, n_items + 1))
        at_base = {
            (d, int(b)): a
            for d, b, a in zip(
                frame["decision_id"], frame["base_rank"], frame["action"], strict=True
            )
        }
        for i, (decision, rank) in enumerate(
            zip(frame["decision_id"], frame["rank"], strict=True)
        ):
            recommender[i, at_base.get((decision, int(rank)), other)] = 1.0
        out["recommender"] = recommender
    return out


def _placement(
    placement: str,
    frame: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
) -> PlacementEvaluation:
    items = sorted(frame["item_id"].unique())
    index = {item: i for i, item in enumerate(items)}
    frame = frame.assign(action=frame["item_id"].map(index))
    has_base = "base_rank" in frame and frame["base_rank"].notna().all()
    notes = []
    if "candidates" not in frame or frame["candidates"].isna().any():
        frame = frame.assign(candidates=len(items))
        notes.append(
            "exposures carry no candidate count: uniform over the placement's "
            f"{len(items)} shown items"
        )
    if not has_base:
        notes.append("exposures carry no base_rank: recommender order not estimated")
    channels = sorted(frame["channel"].unique())
    contexts = np.asarray(
        frame["channel"].to_numpy()[:, None] == np.array(channels)[None, :],
        dtype=float,
    )
    log = LoggedBandit(
        actions=frame["action"].to_numpy(),
        positions=frame["rank"].to_numpy() - 1,
        rewards=frame["reward"].to_numpy(dtype=float),
        propensities=frame["propensity"].to_numpy(dtype=float),
        contexts=contexts,
        n_actions=len(items) + 1,
        n_positions=int(frame["rank"].max()),
    )
    # Cross-fitting needs two rows; a one-row log is modelled in sample.
    q_hat = fit_reward_model(log, folds=2 if len(log) > 1 else 1, seed=seed)
    estimates: dict[str, dict[str, Estimate | None]] = {}
    for policy, dist in policy_distributions(frame, len(items), has_base).items():
        if dist is None:
            estimates[policy] = dict.fromkeys(ESTIMATORS)
            continue
        by: dict[str, Estimate | None] = {
            "ips": ips(log, dist, n_boot=n_boot, seed=seed),
            "dm": dm(log, dist, q_hat, n_boot=n_boot, seed=seed),
            "dr": dr(log, dist, q_hat, n_boot=n_boot, seed=seed),
        }
        weights = log.chosen(dist) / log.propensities
        # SNIPS is undefined when the policy would never show a logged item.
        by["snips"] = (
            snips(log, dist, n_boot=n_boot, seed=seed) if weights.sum() > 0 else None
        )
        estimates[policy] = {name: by[name] for name in ESTIMATORS}
    return PlacementEvaluation(
        placement=placement,
        exposures=len(frame),
        decisions=int(frame["decision_id"].nunique()),
        outcomes=int(frame["reward"].sum()),
        items=len(items),
        on_policy=float(frame["reward"].mean()),
        estimates=estimates,
        notes=tuple(notes),
    )


def evaluate_decisions(
    wh: Warehouse,
    *,
    placements: list[str] | None = None,
    events: tuple[str, ...] = OUTCOME_EVENTS,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[PlacementEvaluation]:
    """Per placement: exposures, the logging policy's outcome rate, and IPS,
    SNIPS, DM and DR estimates (bootstrap 95% intervals) of the uniform and the
    recommender-order policies on the same traffic."""
    if not wh.exists("exposures"):
        raise NotFound(
            "there is no exposures table yet",
            hint="serve decisions with the loader running (`shopkeeper serve`)",
        )
    x = exposure_rewards(wh, events)
    if placements:
        x = x.filter(x.placement.isin(placements))
    frame = wh.to_arrow(x).to_pandas()
    if frame.empty:
        raise NotFound(
            "no exposures to evaluate"
            + (f" in placements {', '.join(placements)}" if placements else "")
        )
    out = []
    groups = sorted(frame.groupby("placement"), key=lambda g: str(g[0]))
    for done, (placement, rows) in enumerate(groups):
        if progress:
            progress("evaluate: placements", done, len(groups))
        out.append(
            _placement(
                str(placement), rows.reset_index(drop=True), n_boot=n_boot, seed=seed
            )
        )
    if progress:
        progress("evaluate: placements", len(groups), len(groups))
    return out
