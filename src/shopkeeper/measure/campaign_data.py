"""Everything campaign readouts need, pulled in a fixed number of queries.

Reading out 27 campaigns one query at a time spends most of its time
compiling Ibis expressions; instead one query puts every customer's daily
spend in the windows (pre-period and campaign days) of every campaign they
fall in, through an equi-join on the day (a range join over every order line
took 7-10 s on the full Complete Journey), and gives per campaign and
customer the spend the readouts use.
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
    "with_customer",
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


def with_customer(people: ir.Table, t: ir.Table) -> ir.Table:
    """``t`` with ``customer_id`` from ``identity_map`` (``people``); an
    unresolved identifier stands for itself."""
    people = people.select("identifier", "customer_id")
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


def _days(campaigns: dict[str, Campaign]) -> ir.Table:
    """One row per campaign and day of its window: the pre-period, then its days.

    A few thousand rows, which turns "the order falls in the window" into an
    equi-join on the day instead of a range join over every order line.
    """
    rows: dict[str, list[object]] = {"campaign_id": [], "day": [], "during": []}
    for cid, c in campaigns.items():
        for i in range(2 * c.days):
            rows["campaign_id"].append(cid)
            rows["day"].append(c.pre_start + dt.timedelta(days=i))
            rows["during"].append(i >= c.days)
    return ibis.memtable(
        pa.table(
            rows,
            schema=pa.schema(
                [
                    ("campaign_id", pa.string()),
                    ("day", pa.date32()),
                    ("during", pa.bool_()),
                ]
            ),
        )
    )


def _spend(
    wh: Warehouse, campaigns: dict[str, Campaign], people: ir.Table, orders: ir.Table
) -> pd.DataFrame:
    """Spend per campaign and customer in the pre-period and the campaign days.

    Order lines are summed per customer and day first (a customer's days, not
    their lines, are what a window covers), so joining them to the campaign
    days stays small; coupon-product spend joins only the lines of products
    some campaign's coupons name. Each order line is still counted once per
    campaign window it falls in, exactly as a range join would.
    """
    days = _days(campaigns)
    orders = with_customer(people, orders)
    orders = orders.select(
        "order_id", "customer_id", "channel", day=orders.ordered_at.cast("date")
    )
    lines = orders.join(wh.table("order_lines"), "order_id")
    value = lines.sales_value
    daily = lines.group_by(["customer_id", "day"]).agg(
        total=value.sum(), store=value.sum(where=lines.channel == "store")
    )
    d = daily.join(days, "day")
    totals = d.group_by(["campaign_id", "customer_id"]).agg(
        pre_total=d.total.sum(where=~d.during),
        during_total=d.total.sum(where=d.during),
        during_store=d.store.sum(where=d.during),
    )
    # Coupon-product spend: each line meets only the campaigns whose coupons
    # name its product (an equi-join), then keeps the ones whose window holds
    # its day. Joining the day table here instead lets the planner join every
    # line to every window first, which is what made this slow.
    w = days.group_by("campaign_id").agg(
        first=days.day.min(), start=days.day.min(where=days.during), last=days.day.max()
    )
    products = wh.table("coupons").select("campaign_id", "product_id").distinct()
    products = products.join(w, "campaign_id")
    p = lines.join(
        products,
        [
            lines.product_id == products.product_id,
            lines.day >= products.first,
            lines.day <= products.last,
        ],
    )
    during = p.day >= p.start
    coupon = p.group_by(["campaign_id", "customer_id"]).agg(
        pre_products=p.sales_value.sum(where=~during),
        during_products=p.sales_value.sum(where=during),
    )
    j = totals.left_join(coupon, ["campaign_id", "customer_id"])
    agg = j.select("campaign_id", "customer_id", *(j[c] for c in SPEND_COLUMNS))
    frame = wh.to_arrow(agg).to_pandas()
    frame = frame.fillna({c: 0.0 for c in SPEND_COLUMNS})
    # A parallel sum adds in no fixed order, so the same spend can come back
    # 1e-12 apart between runs, enough to move a customer across a matching
    # decile edge; money rounded to a millionth is the same on every run.
    frame[list(SPEND_COLUMNS)] = frame[list(SPEND_COLUMNS)].round(6)
    return frame.set_index(["campaign_id", "customer_id"])


def campaign_data(wh: Warehouse, ids: list[str] | None = None) -> CampaignData:
    """Pull the inputs for the campaigns ``ids`` (all campaigns when None)."""
    campaigns = load_campaigns(wh, ids)
    wanted = list(campaigns)
    people = wh.table("identity_map")
    customers = pd.Index(
        wh.to_arrow(people.select("customer_id").distinct())["customer_id"].to_pylist()
    ).sort_values()
    m = wh.table("campaign_members")
    m = with_customer(people, m.filter(m.campaign_id.isin(wanted)))
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
    r = with_customer(people, r.filter(r.campaign_id.isin(wanted)))
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
        spend=_spend(wh, campaigns, people, o) if campaigns else pd.DataFrame(),
        coupons={x["campaign_id"]: (x["coupons"], x["products"]) for x in coupon_rows},
        redemptions=redemptions,
        shares=shares,
        first_order_day=None if first is None else first.date(),
        last_order_day=None if last is None else last.date(),
    )
