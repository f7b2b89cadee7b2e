"""Campaign readouts: randomized when the campaign kept a holdout, matched if not."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from shopkeeper.errors import NotFound
from shopkeeper.measure.campaign_data import (
    SPEND_COLUMNS,
    Campaign,
    CampaignData,
    campaign_data,
    load_campaigns,
)
from shopkeeper.measure.matching import CAVEAT, Matched, matched_difference
from shopkeeper.measure.readout import Difference, Readout, difference, readout
from shopkeeper.warehouse import Warehouse

__all__ = [
    "ONLINE_CHANNELS",
    "Campaign",
    "CampaignReadout",
    "Redemptions",
    "campaign",
    "campaign_readout",
    "readout_from",
]

ONLINE_CHANNELS = ("web", "app", "email", "push", "partner")
"""Campaigns on these channels also get the online-to-offline (store) readout."""


@dataclass(frozen=True)
class Redemptions:
    """Coupon use: how many coupons, redemptions, and what share of targets used one."""

    coupons: int
    redemptions: int
    redeemers: int
    rate: float | None


@dataclass(frozen=True)
class CampaignReadout:
    """One campaign's readout; ``method`` says which comparison was possible.

    ``randomized`` (treated vs holdout, all spend in the window) is filled when
    the campaign has holdout members, ``matched`` (observational) otherwise.
    ``store`` is the online-to-offline readout: store spend of treated vs
    holdout, for campaigns on online channels.
    """

    campaign: Campaign
    method: str
    members: int
    treated: int
    holdout: int
    redemptions: Redemptions | None
    randomized: Readout | None = None
    store: Difference | None = None
    matched: Matched | None = None
    caveat: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def incremental_revenue(self) -> tuple[float, float, float] | None:
        """Total incremental revenue over treated customers: (estimate, low, high)."""
        if self.randomized is not None:
            rev, n = self.randomized.revenue, self.treated
            return rev.diff * n, rev.welch.low * n, rev.welch.high * n
        if self.matched is not None:
            m, n = self.matched, self.matched.treated_matched
            return m.diff * n, m.interval.low * n, m.interval.high * n
        return None


def campaign(wh: Warehouse, campaign_id: str) -> Campaign:
    """The campaign row, or NotFound naming the id."""
    return load_campaigns(wh, [campaign_id])[campaign_id]


def _redemptions(data: CampaignData, cid: str, treated: pd.Index) -> Redemptions | None:
    n_coupons = data.coupons.get(cid, (0, 0))[0]
    if not n_coupons:
        return None
    rows = data.redemptions[data.redemptions.campaign_id == cid]
    redeemers = pd.Index(rows.customer_id.unique()).intersection(treated)
    rate = len(redeemers) / len(treated) if len(treated) else None
    return Redemptions(int(n_coupons), len(rows), len(redeemers), rate)


def _frame(data: CampaignData, cid: str, customers: pd.Index) -> pd.DataFrame:
    """Spend columns for ``customers`` in campaign ``cid``, zeros where none."""
    try:
        spend = data.spend.xs(cid, level="campaign_id")
    except KeyError:
        spend = pd.DataFrame(columns=list(SPEND_COLUMNS), dtype=float)
    return spend.reindex(customers, fill_value=0.0)


def _matched(data: CampaignData, c: Campaign, treated: pd.Index, seed: int) -> Matched:
    """Spend on the coupon's products in the window, targeted vs matched others."""
    has_products = data.coupons.get(c.campaign_id, (0, 0))[1] > 0
    everyone = data.customers.union(treated)
    f = _frame(data, c.campaign_id, everyone)
    outcome = f.during_products if has_products else f.during_total
    frame = pd.DataFrame(
        {
            "targeted": everyone.isin(treated),
            "pre_total": f.pre_total.to_numpy(),
            "pre_products": f.pre_products.to_numpy(),
            "outcome": outcome.to_numpy(),
        }
    )
    what = "spend on the campaign's coupon products" if has_products else "spend"
    return matched_difference(frame, outcome=what, use_products=has_products, seed=seed)


def _coverage_notes(data: CampaignData, c: Campaign) -> list[str]:
    """Say where the data does not cover the windows the readout compares."""
    first, last = data.first_order_day, data.last_order_day
    notes = []
    if first is not None and c.start_date <= first:
        notes.append(
            "no pre-period data (the campaign starts before the first order): "
            "the comparison is not matched on past spend"
        )
    elif first is not None and c.pre_start < first:
        notes.append("the pre-period starts before the first order on record")
    if first is not None and c.start_date < first:
        notes.append(f"orders before {first} are not on record: the window is cut")
    if last is not None and c.end_date > last:
        notes.append(f"orders after {last} are not on record: the window is cut")
    return notes


def readout_from(
    data: CampaignData, campaign_id: str, *, seed: int = 0, resamples: int = 2000
) -> CampaignReadout:
    """Read out one campaign of pulled ``data`` (see :func:`campaign_readout`)."""
    c = data.campaigns[campaign_id]
    m = data.members[data.members.campaign_id == campaign_id]
    if m.empty:
        raise NotFound(f"campaign {campaign_id!r} has no members")
    treated = pd.Index(m.customer_id[m.member_group == "treatment"]).sort_values()
    held = pd.Index(m.customer_id[m.member_group == "holdout"]).sort_values()
    coupons = _redemptions(data, campaign_id, treated)
    notes = _coverage_notes(data, c)
    if held.empty:
        matched = _matched(data, c, treated, seed)
        if matched.treated_unmatched:
            notes.append(
                f"{matched.treated_unmatched} targeted customers had no comparable "
                "non-targeted customers in their stratum and were left out"
            )
        return CampaignReadout(
            c, "observational", len(m), len(treated), 0, coupons,
            matched=matched, caveat=CAVEAT, notes=notes,
        )  # fmt: skip
    share = data.shares.get(campaign_id)
    if share is None:
        notes.append("no recorded holdout share: sample-ratio check skipped")
    t, h = _frame(data, campaign_id, treated), _frame(data, campaign_id, held)
    result = readout(
        t.during_total.to_numpy(float),
        h.during_total.to_numpy(float),
        treated_pre=t.pre_total.to_numpy(float),
        holdout_pre=h.pre_total.to_numpy(float),
        holdout_share=share,
        seed=seed,
        resamples=resamples,
    )
    store = None
    if c.channel in ONLINE_CHANNELS:
        store = difference(
            t.during_store.to_numpy(float),
            h.during_store.to_numpy(float),
            seed=seed,
            resamples=resamples,
        )
    return CampaignReadout(
        c, "randomized", len(m), len(treated), len(held), coupons,
        randomized=result, store=store, notes=notes,
    )  # fmt: skip


def campaign_readout(
    wh: Warehouse, campaign_id: str, *, seed: int = 0, resamples: int = 2000
) -> CampaignReadout:
    """Read out one campaign, randomized if it kept a holdout, matched if not.

    The outcome window is the campaign's days; the pre-period is as many days
    just before. Randomized: every member's spend in the window (zeros
    included), treated vs holdout, with CUPED on pre-period spend and the
    sample-ratio check against the share recorded by ``assign_holdouts``
    (skipped, with a note, when the holdout came from elsewhere).
    Observational: see :mod:`shopkeeper.measure.matching`; the result carries
    :data:`CAVEAT`.
    """
    data = campaign_data(wh, [campaign_id])
    return readout_from(data, campaign_id, seed=seed, resamples=resamples)
