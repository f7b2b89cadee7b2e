"""POS coupon files: per store and day, which coupons to load on which cards.

A till cannot ask Shopkeeper at checkout, so the coupons of running campaigns
travel to each store as a file the POS loads before opening: one CSV per store
(the customer's preferred store) under ``<out>/<date>/<store_id>.csv``.

Who gets a row: treatment members (never holdout: loading a holdout's coupon
would spoil the measurement) of campaigns running that day, for each coupon of
the campaign they have not redeemed yet, unless their current
``personalization`` consent is ``denied`` or ``revoked``. A customer with no
consent record keeps their coupons: loading offers on a loyalty card is the
service the card was signed up for, while targeting against an explicit
objection is not.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from shopkeeper.activate.consent import consent_status
from shopkeeper.errors import NotFound
from shopkeeper.warehouse import Warehouse

__all__ = [
    "POS_COLUMNS",
    "PosFiles",
    "coupon_loads",
    "preferred_stores",
    "write_pos_files",
]

POS_COLUMNS = (
    "store_id",
    "date",
    "card",
    "customer_id",
    "coupon_upc",
    "campaign_id",
    "expires",
)
"""``card`` is the typed identifier to load: a ``loyalty:`` card when the
customer has one, else their ``household:`` key (The Complete Journey's card)."""


def preferred_stores(wh: Warehouse, day: dt.date) -> ir.Table:
    """(customer_id, store_id): where each customer shops most.

    From ``profiles_features`` when the profiles stage has run, else counted
    here from orders before ``day`` (most trips, ties to the lowest store id).
    """
    if wh.exists("profiles_features"):
        f = wh.table("profiles_features")
        f = f.filter(f.preferred_store.notnull())
        return f.select("customer_id", store_id=f.preferred_store)
    orders = wh.table("orders")
    orders = orders.filter(
        orders.store_id.notnull()
        & (orders.ordered_at < ibis.literal(day).cast("timestamp"))
    )
    idmap = wh.table("identity_map")
    visits = (
        orders.join(idmap, orders.identifier == idmap.identifier)
        .group_by(["customer_id", "store_id"])
        .agg(trips=ibis._.order_id.nunique())
    )
    ranked = visits.mutate(
        _n=ibis.row_number().over(
            group_by="customer_id", order_by=[ibis.desc("trips"), "store_id"]
        )
    )
    return ranked.filter(ranked._n == 0).select("customer_id", "store_id")


def _cards(wh: Warehouse) -> ir.Table:
    """(customer_id, card): one card per customer, loyalty before household."""
    idmap = wh.table("identity_map")
    rank = (
        idmap.identifier.startswith("loyalty:")
        .ifelse(0, idmap.identifier.startswith("household:").ifelse(1, 2))
        .name("_kind")
    )
    typed = idmap.mutate(_kind=rank)
    ranked = typed.mutate(
        _n=ibis.row_number().over(
            group_by="customer_id", order_by=["_kind", "identifier"]
        )
    )
    return ranked.filter(ranked._n == 0).select("customer_id", card=ranked.identifier)


def _objected(wh: Warehouse) -> ir.Table | None:
    """Customers whose current personalization decision is an objection."""
    current = consent_status(wh)
    if current is None:
        return None
    no = current.filter(
        (current.purpose == "personalization")
        & current.status.isin(["denied", "revoked"])
    )
    return no.select(_no=no.customer_id)


def coupon_loads(wh: Warehouse, day: dt.date) -> ir.Table:
    """Every (store, card, coupon) row to load on ``day``, in POS_COLUMNS."""
    for name in ("campaigns", "campaign_members", "coupons", "identity_map"):
        if not wh.exists(name):
            raise NotFound(f"table {name} is missing", hint="import campaigns first")
    on = ibis.literal(day)
    campaigns = wh.table("campaigns")
    running = campaigns.filter(
        (campaigns.start_date <= on) & (campaigns.end_date >= on)
    )
    members = wh.table("campaign_members")
    members = members.filter(members.member_group == "treatment")
    idmap = wh.table("identity_map")
    reached = (
        members.join(idmap, members.identifier == idmap.identifier)
        .join(running, "campaign_id")
        .select("campaign_id", "customer_id", expires=running.end_date)
        .distinct()
    )
    coupons = wh.table("coupons").select("campaign_id", "coupon_upc").distinct()
    loads = reached.join(coupons, "campaign_id")
    if wh.exists("coupon_redemptions"):
        r = wh.table("coupon_redemptions")
        r = r.filter(r.redeemed_on < on)
        used = r.join(idmap, r.identifier == idmap.identifier).select(
            "customer_id", "campaign_id", "coupon_upc"
        )
        loads = loads.anti_join(used, ["customer_id", "campaign_id", "coupon_upc"])
    objected = _objected(wh)
    if objected is not None:
        loads = loads.anti_join(objected, loads.customer_id == objected._no)
    stores = preferred_stores(wh, day)
    rows = loads.join(stores, "customer_id").join(_cards(wh), "customer_id")
    return rows.select(
        "store_id",
        date=on,
        card=rows.card,
        customer_id=rows.customer_id,
        coupon_upc=rows.coupon_upc,
        campaign_id=rows.campaign_id,
        expires=rows.expires,
    ).order_by(["store_id", "card", "campaign_id", "coupon_upc"])


@dataclass
class PosFiles:
    """What ``write_pos_files`` wrote: the folder and rows per store file."""

    day: dt.date
    folder: Path
    rows_by_store: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_store.values())


def write_pos_files(wh: Warehouse, day: dt.date, out: str | Path) -> PosFiles:
    """Write ``<out>/<day>/<store_id>.csv`` for every store with coupons to load.

    The day's folder is replaced as a whole (written beside it, then swapped),
    so a rerun never leaves yesterday's file for a store that has none today
    and a POS never picks up half a folder.
    """
    data = wh.to_arrow(coupon_loads(wh, day))
    data = data.cast(pa.schema([(name, pa.string()) for name in POS_COLUMNS]))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / day.isoformat()
    staging = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}-", dir=root))
    result = PosFiles(day, final)
    options = pacsv.WriteOptions(quoting_style="needed")
    # Rows come sorted by store: each store is one contiguous slice.
    stores = data.column("store_id").to_pylist()
    start = 0
    for end in range(1, len(stores) + 1):
        if end < len(stores) and stores[end] == stores[start]:
            continue
        store = str(stores[start])
        pacsv.write_csv(
            data.slice(start, end - start), staging / f"{store}.csv", options
        )
        result.rows_by_store[store] = end - start
        start = end
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the files from the POS user
    old = root / f".{day.isoformat()}-old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return result
