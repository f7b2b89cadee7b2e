"""Everything campaign readouts need, pulled in a fixed number of queries.

Reading out 27 campaigns one query at a time spends most of its time
compiling Ibis expressions; instead one range join puts every order line in
the windows (pre-period and campaign days) of every campaign it falls in, and
one aggregation gives per campaign and customer the spend the readouts use.
Spend is ``order_lines.sales_value`` of every identifier of a customer, via
``identity_map``; an identifier the graph has not resolved stands for itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from shopkeeper.errors import NotFound
from shopkeeper.warehouse import Warehouse

__all__ = [
    "SPEND_COLUMNS",
    "Campaign",
    "CampaignData",
    "campaign_data",
    "load_campaigns",
]

SPEND_COLUMNS = (
    "pre_total",
    "pre_products",
    "during_total",
    "during_products",
    "during_store",
)
"""Per campaign and customer: spend before and during, on the campaign's coupon
products, and in stores (for the online-to-offline readout)."""


@dataclass(frozen=True)
class Campaign:
    """A campaign row: its id, type, channel and the days it ran."""

    campaign_id: str
    name: str | None
    campaign_type: str | None
    channel: str | None
    start_date: dt.date
    end_date: dt.date

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def pre_start(self) -> dt.date:
        """The pre-period is as long as the campaign and ends the day before it."""
        return self.start_date - dt.timedelta(days=self.days)


@dataclass(frozen=True)
class CampaignData:
    """The pulled inputs; frames are keyed by ``campaign_id`` and ``customer_id``."""

    campaigns: dict[str, Campaign]
    customers: pd.Index
    members: pd.DataFrame
    spend: pd.DataFrame
    coupons: dict[str, tuple[int, int]]
    redemptions: pd.DataFrame
    shares: dict[str, float]
    first_order_day: dt.date | None
    last_order_day: dt.date | None


def _customer(wh: Warehouse, t: ir.Table) -> ir.Table:
    people = wh.table("identity_map").select("identifier", "customer_id")
    j = t.left_join(people, t.identifier == people.identifier)
    return j.mutate(customer_id=j.customer_id.fill_null(j.identifier))


def load_campaigns(wh: Warehouse, ids: list[str] | None) -> dict[str, Campaign]:
    """Campaigns by id (all when ``ids`` is None); NotFound names a missing id."""
    t = wh.table("campaigns")
    if ids is not None:
        t = t.filter(t.campaign_id.isin(ids))
    found = {}
    for r in wh.to_arrow(t).to_pylist():
        if r["start_date"] is None or r["end_date"] is None:
            continue  # a campaign without dates has no window to read out
        found[r["campaign_id"]] = Campaign(
            r["campaign_id"],
            r["name"],
            r["campaign_type"],
            r["channel"],
            r["start_date"],
            r["end_date"],
        )
    for cid in ids or []:
        if cid not in found:
            raise NotFound(
                f"campaign {cid!r} is not in the warehouse (or has no dates)",
                hint="`shopkeeper report channels` lists the campaigns",
            )
    return found


def _spend(wh: Warehouse, campaigns: dict[str, Campaign]) -> pd.DataFrame:
    def ts(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time())

    windows = ibis.memtable(
        pa.table(
            {
                "campaign_id": list(campaigns),
                "pre_start": [ts(c.pre_start) for c in campaigns.values()],
                "start": [ts(c.start_date) for c in campaigns.values()],
                "end": [
                    ts(c.end_date + dt.timedelta(days=1)) for c in campaigns.values()
                ],
            },
            schema=pa.schema(
                [("campaign_id", pa.string())]
                + [(k, pa.timestamp("us")) for k in ("pre_start", "start", "end")]
            ),
        )
    )
    orders = _customer(wh, wh.table("orders"))
    orders = orders.select("order_id", "customer_id", "channel", "ordered_at")
    lines = orders.join(wh.table("order_lines"), "order_id")
    lines = lines.select(
        "customer_id", "channel", "ordered_at", "product_id", "sales_value"
    )
    inside = lines.join(
        windows,
        [lines.ordered_at >= windows.pre_start, lines.ordered_at < windows.end],
    )
    coupons = wh.table("coupons")
    products = coupons.select("campaign_id", "product_id", on=ibis.literal(True))
    products = products.distinct()
    j = inside.left_join(products, ["campaign_id", "product_id"])
    during = j.ordered_at >= j.start
    coupon = j.on.notnull()
    value = j.sales_value
    agg = j.group_by(["campaign_id", "customer_id"]).agg(
        pre_total=value.sum(where=~during),
        pre_products=value.sum(where=~during & coupon),
        during_total=value.sum(where=during),
        during_products=value.sum(where=during & coupon),
        during_store=value.sum(where=during & (j.channel == "store")),
    )
    frame = wh.to_arrow(agg).to_pandas()
    return frame.fillna({c: 0.0 for c in SPEND_COLUMNS}).set_index(
        ["campaign_id", "customer_id"]
    )


def campaign_data(wh: Warehouse, ids: list[str] | None = None) -> CampaignData:
    """Pull the inputs for the campaigns ``ids`` (all campaigns when None)."""
    campaigns = load_campaigns(wh, ids)
    wanted = list(campaigns)
    people = wh.table("identity_map")
    customers = pd.Index(
        wh.to_arrow(people.select("customer_id").distinct())["customer_id"].to_pylist()
    ).sort_values()
    m = wh.table("campaign_members")
    m = _customer(wh, m.filter(m.campaign_id.isin(wanted)))
    members = wh.to_arrow(
        m.group_by(["campaign_id", "customer_id"]).agg(
            # 'treatment' wins if a customer's identifiers disagree: they were sent it
            member_group=m.member_group.max()
        )
    ).to_pandas()
    c = wh.table("coupons").filter(ibis._.campaign_id.isin(wanted))
    coupon_rows = wh.to_arrow(
        c.group_by("campaign_id").agg(
            coupons=c.coupon_upc.nunique(), products=c.product_id.nunique()
        )
    ).to_pylist()
    r = wh.table("coupon_redemptions")
    r = _customer(wh, r.filter(r.campaign_id.isin(wanted)))
    redemptions = wh.to_arrow(r.select("campaign_id", "customer_id")).to_pandas()
    shares: dict[str, float] = {}
    if wh.exists("measure_holdouts"):
        h = wh.table("measure_holdouts").filter(ibis._.campaign_id.isin(wanted))
        shares = {
            x["campaign_id"]: x["share"]
            for x in wh.to_arrow(h.select("campaign_id", "share")).to_pylist()
        }
    o = wh.table("orders")
    span = wh.to_arrow(o.aggregate(first=o.ordered_at.min(), last=o.ordered_at.max()))
    first, last = span["first"][0].as_py(), span["last"][0].as_py()
    return CampaignData(
        campaigns=campaigns,
        customers=customers,
        members=members,
        spend=_spend(wh, campaigns) if campaigns else pd.DataFrame(),
        coupons={x["campaign_id"]: (x["coupons"], x["products"]) for x in coupon_rows},
        redemptions=redemptions,
        shares=shares,
        first_order_day=None if first is None else first.date(),
        last_order_day=None if last is None else last.date(),
    )
