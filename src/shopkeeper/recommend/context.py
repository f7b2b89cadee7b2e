"""What the retailer knows beyond baskets: departments, promotions, coupons.

The ranker asks whether an item is on display or in the mailer at the
household's store in the week of the trip, and whether the household holds a
coupon for it from a campaign running that day. These come from the
``products``, ``promotions``, ``campaigns``, ``campaign_members`` and
``coupons`` tables; a retailer without them simply gets zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from shopkeeper.recommend.history import Baskets
from shopkeeper.warehouse import Warehouse

__all__ = ["Context", "load_context"]

_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Context:
    """Per-item department codes and the promotion and coupon facts, indexed.

    ``promos`` has columns store, week, item; ``held`` user, campaign,
    start_day, end_day (days since the epoch, like :class:`Baskets`);
    ``coupon_items`` campaign, item. Coupons stay split in two because their
    product is the join key: joined up front they would be members x products.
    """

    department: np.ndarray
    promos: pd.DataFrame
    held: pd.DataFrame
    coupon_items: pd.DataFrame

    @classmethod
    def empty(cls, baskets: Baskets) -> Context:
        return cls(
            department=np.full(baskets.n_items, -1, dtype=np.int32),
            promos=pd.DataFrame({"store": [], "week": [], "item": []}),
            held=pd.DataFrame(
                {"user": [], "campaign": [], "start_day": [], "end_day": []}
            ),
            coupon_items=pd.DataFrame({"campaign": [], "item": []}),
        )


def _table(wh: Warehouse, name: str) -> bool:
    return wh.exists(name) and wh.count(name) > 0


def load_context(wh: Warehouse, baskets: Baskets, store_weeks: pd.DataFrame) -> Context:
    """Read the facts the ranker needs for the given (store, week) trips.

    Only promotions of those store-weeks are read (the table is huge: every
    product at every store every week), through a join the engine runs.
    """
    base = Context.empty(baskets)
    item_index = pd.Series(np.arange(baskets.n_items), index=baskets.items)
    department = base.department
    if _table(wh, "products"):
        products = wh.to_arrow(wh.table("products").select("product_id", "department"))
        frame = products.to_pandas()
        frame = frame[frame.product_id.isin(item_index.index)]
        codes = frame.department.fillna("").astype("category").cat.codes
        department = department.copy()
        department[item_index[frame.product_id].to_numpy()] = codes.to_numpy()
    promos = base.promos
    if _table(wh, "promotions") and len(store_weeks):
        wanted = wh.stage_arrow(
            "_tmp_recommend_store_weeks",
            pa.Table.from_pandas(
                store_weeks.astype({"store": "string", "week": "int32"}),
                preserve_index=False,
            ),
        )
        table = wh.table("promotions")
        table = table.filter(
            (table.display_location != "0") | (table.mailer_location != "0")
        )
        joined = table.join(
            wanted,
            (table.store_id == wanted.store) & (table.week == wanted.week),
        ).select(store=table.store_id, week=table.week, product_id=table.product_id)
        frame = wh.to_arrow(joined.distinct()).to_pandas()
        frame = frame[frame.product_id.isin(item_index.index)]
        promos = pd.DataFrame(
            {
                "store": frame.store.to_numpy(object),
                "week": frame.week.to_numpy(np.int32),
                "item": item_index[frame.product_id].to_numpy(),
            }
        )
    held, coupon_items = base.held, base.coupon_items
    if all(_table(wh, t) for t in ("coupons", "campaign_members", "campaigns")):
        held, coupon_items = _coupons(wh, baskets, item_index)
    return Context(department, promos, held, coupon_items)


def _coupons(
    wh: Warehouse, baskets: Baskets, item_index: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    members = wh.table("campaign_members")
    if wh.exists("identity_map"):
        people = wh.table("identity_map")
        members = members.join(people, members.identifier == people.identifier)
        members = members.select("campaign_id", customer=people.customer_id)
    else:
        members = members.select("campaign_id", customer=members.identifier)
    campaigns = wh.table("campaigns").select("campaign_id", "start_date", "end_date")
    held = wh.to_arrow(members.join(campaigns, "campaign_id")).to_pandas()
    user_index = pd.Series(np.arange(baskets.n_users), index=baskets.customers)
    held = held[held.customer.isin(user_index.index)]
    coupons = wh.to_arrow(
        wh.table("coupons").select("campaign_id", "product_id").distinct()
    ).to_pandas()
    coupons = coupons[coupons.product_id.isin(item_index.index)]
    held_frame = pd.DataFrame(
        {
            "user": user_index[held.customer].to_numpy(),
            "campaign": held.campaign_id.to_numpy(object),
            "start_day": _days(held.start_date),
            "end_day": _days(held.end_date) + 1.0,
        }
    )
    items = pd.DataFrame(
        {
            "campaign": coupons.campaign_id.to_numpy(object),
            "item": item_index[coupons.product_id].to_numpy(),
        }
    )
    return held_frame, items


def _days(dates: pd.Series) -> np.ndarray:
    return pd.to_datetime(dates).astype("datetime64[ns]").astype("int64") / _DAY_NS
