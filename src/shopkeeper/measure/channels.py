"""One view of all channels and campaigns: reach, sales, credit, lift and return.

Each channel row joins what happened through it (orders placed there), what
it touched (exposures, campaign mailings), what attribution credits it with,
and what holdouts prove it added. Only randomized holdouts count as
incremental: observational campaign estimates stay on their campaign rows,
labelled as such, and never flow into a channel's incremental revenue or ROI.
Where a figure has no data behind it (no touches, no holdout, no cost given)
it is None, shown blank, never zero.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import InvalidInput, NotFound
from shopkeeper.measure.attribution import MODELS, attribute
from shopkeeper.measure.campaign_data import campaign_data, with_customer
from shopkeeper.measure.campaigns import CampaignReadout, readout_from
from shopkeeper.measure.paths import touch_paths, touches
from shopkeeper.warehouse import Warehouse

__all__ = [
    "CHANNELS",
    "CampaignRow",
    "ChannelRow",
    "ChannelsReport",
    "Estimate",
    "channels_report",
]

CHANNELS = ("store", "web", "app", "email", "push", "partner")
"""Always listed, in this order, even when empty; other channels seen follow."""
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Estimate:
    """A total with its 95% interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ChannelRow:
    """One channel. ``store_lift`` is the online-to-offline effect: extra store
    revenue of customers its campaigns treated, vs their holdout."""

    channel: str
    reach: int
    exposures: int
    orders: int
    sales: float
    attributed_conversions: float | None
    attributed_revenue: float | None
    incremental_revenue: Estimate | None
    cost: float | None
    incremental_roi: float | None
    store_lift: Estimate | None


@dataclass(frozen=True)
class CampaignRow:
    """One campaign; ``method`` is randomized, observational or none."""

    campaign_id: str
    name: str | None
    campaign_type: str | None
    channel: str | None
    method: str
    reach: int
    holdout: int
    redemptions: int | None
    redemption_rate: float | None
    outcome: str | None
    revenue: float | None
    incremental_revenue: Estimate | None
    cost: float | None
    incremental_roi: float | None
    store_lift: Estimate | None
    note: str | None = None


@dataclass(frozen=True)
class ChannelsReport:
    """The all-channels report; :meth:`to_dict` is its JSON twin."""

    channels: list[ChannelRow]
    campaigns: list[CampaignRow]
    attribution_model: str
    lookback_days: int
    untouched_conversions: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _sum(parts: list[Estimate]) -> Estimate | None:
    """Total of independent estimates; half-widths add in quadrature."""
    if not parts:
        return None
    value = sum(p.value for p in parts)
    half = math.sqrt(sum(((p.high - p.low) / 2) ** 2 for p in parts))
    return Estimate(value, value - half, value + half)


def _roi(gain: Estimate | None, cost: float | None) -> float | None:
    return (gain.value - cost) / cost if gain is not None and cost else None


def _contacts(wh: Warehouse) -> ir.Table:
    """(channel, customer_id, kind) for every order, exposure and mailing."""
    people = wh.table("identity_map")
    o = with_customer(people, wh.table("orders"))
    parts = [o.select("channel", "customer_id", kind=ibis.literal("order"))]
    t = touches(wh)
    parts.append(t.select("channel", "customer_id", kind=ibis.literal("exposure")))
    m, c = wh.table("campaign_members"), wh.table("campaigns")
    m = m.filter(m.member_group == "treatment").join(c, "campaign_id")
    m = with_customer(people, m.filter(m.channel.notnull()))
    parts.append(m.select("channel", "customer_id", kind=ibis.literal("exposure")))
    return ibis.union(*parts, distinct=False)


def _campaign_row(r: CampaignReadout, unit_cost: float | None) -> CampaignRow:
    c = r.campaign
    gain = r.incremental_revenue
    incremental = Estimate(*gain) if gain is not None else None
    store = None
    if r.store is not None:
        s, n = r.store, r.treated
        store = Estimate(s.diff * n, s.welch.low * n, s.welch.high * n)
    outcome, revenue = None, None
    if r.randomized is not None:
        outcome = "spend in the campaign window"
        revenue = r.randomized.revenue.treated_mean * r.treated
    elif r.matched is not None:
        outcome = r.matched.outcome
        revenue = r.matched.treated_mean * r.matched.treated_matched
    cost = r.treated * unit_cost if unit_cost is not None else None
    return CampaignRow(
        c.campaign_id,
        c.name,
        c.campaign_type,
        c.channel,
        r.method,
        r.treated,
        r.holdout,
        r.redemptions.redemptions if r.redemptions else None,
        r.redemptions.rate if r.redemptions else None,
        outcome,
        revenue,
        incremental,
        cost,
        _roi(incremental, cost) if r.method == "randomized" else None,
        store,
        "; ".join(r.notes) or None,
    )


def channels_report(
    wh: Warehouse,
    *,
    costs: Mapping[str, float] | None = None,
    model: str = "markov",
    lookback_days: int = 30,
    seed: int = 0,
    resamples: int = 500,
    progress: Progress | None = None,
) -> ChannelsReport:
    """Build the all-channels report.

    Args:
        costs: cost per contact (an exposure or a mailed member) by channel;
            the warehouse holds no costs, so ROI is blank without them.
        model: the attribution model crediting touches (see ``MODELS``).
        lookback_days: how far before a conversion a touch may count.
    """
    if model not in MODELS:
        raise InvalidInput(f"unknown attribution model {model!r}; use one of {MODELS}")
    costs = dict(costs or {})
    if bad := {k: v for k, v in costs.items() if v < 0}:
        raise InvalidInput(f"costs must not be negative: {bad}")
    if progress is not None:
        progress("campaigns", 0, 1)
    data = campaign_data(wh)
    ids = sorted(data.campaigns, key=lambda s: (len(s), s))  # "2" before "10"
    campaigns: list[CampaignRow] = []
    readouts: list[CampaignReadout] = []
    for done, cid in enumerate(ids):
        if progress is not None:
            progress(f"campaign {cid}", done, len(ids))
        try:
            r = readout_from(data, cid, seed=seed, resamples=resamples)
        except (InvalidInput, NotFound) as exc:
            c = data.campaigns[cid]
            campaigns.append(
                CampaignRow(
                    cid, c.name, c.campaign_type, c.channel, "none",
                    0, 0, None, None, None, None, None, None, None, None,
                    note=exc.message,
                )
            )  # fmt: skip
            continue
        readouts.append(r)
        campaigns.append(_campaign_row(r, costs.get(r.campaign.channel or "")))
    if progress is not None:
        progress("attribution", 0, 1)
    path_set = touch_paths(wh, lookback_days=lookback_days)
    credit = attribute(path_set.paths, model) if path_set.paths else None
    contacts = _contacts(wh)
    reach = {
        r["channel"]: r
        for r in wh.to_arrow(
            contacts.group_by("channel").agg(
                reach=contacts.customer_id.nunique(),
                exposures=(contacts.kind == "exposure").sum(),
            )
        ).to_pylist()
    }
    sales = _sales(wh)
    seen = sorted(set(reach) - set(CHANNELS))
    rows = []
    for ch in (*CHANNELS, *seen):
        rand = [
            r for r in readouts if r.method == "randomized" and r.campaign.channel == ch
        ]
        lift = _sum(
            [Estimate(*r.incremental_revenue) for r in rand if r.incremental_revenue]
        )
        store = _sum(
            [
                row.store_lift
                for row in campaigns
                if row.channel == ch and row.store_lift
            ]
        )
        n_exposures = int(reach.get(ch, {}).get("exposures") or 0)
        cost = n_exposures * costs[ch] if ch in costs else None
        rows.append(
            ChannelRow(
                ch,
                int(reach.get(ch, {}).get("reach") or 0),
                n_exposures,
                int(sales.get(ch, (0, 0.0))[0]),
                float(sales.get(ch, (0, 0.0))[1]),
                credit.conversions.get(ch, 0.0) if credit else None,
                credit.revenue.get(ch, 0.0) if credit else None,
                lift,
                cost,
                _roi(lift, cost),
                store,
            )
        )
    notes = []
    if credit is None:
        notes.append("no exposures or e-mail/push events: nothing to attribute")
    if not any(r.method == "randomized" for r in readouts):
        notes.append(
            "no campaign kept a randomized holdout, so no channel has incremental "
            "revenue; campaign rows show observational estimates, not causal proof"
        )
    return ChannelsReport(
        rows, campaigns, model, lookback_days, path_set.untouched_conversions, notes
    )


def _sales(wh: Warehouse) -> dict[str, tuple[int, float]]:
    """Orders and sales value by the channel the order was placed in."""
    o, lines = wh.table("orders"), wh.table("order_lines")
    value = lines.group_by("order_id").agg(value=lines.sales_value.sum())
    j = o.left_join(value, "order_id")
    rows = wh.to_arrow(
        j.group_by(j.channel).agg(orders=j.order_id.count(), sales=j.value.sum())
    ).to_pylist()
    return {r["channel"]: (r["orders"], r["sales"] or 0.0) for r in rows}
