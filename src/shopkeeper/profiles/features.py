"""Behavioural profile features: the habits that say how a customer shops.

RFM says how much and how lately; these say how: basket habits and cadence,
price sensitivity, private label, preferred store and channel, when they shop
and which department they over-index on against everyone else. Each group is
one Ibis expression over the same order lines, so one implementation runs on
every engine. Money is rounded to cents and shares to 6 decimals, because an
engine's parallel sums differ in the last bits from run to run and a rebuild
must give the same table.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

__all__ = [
    "PARTS_OF_DAY",
    "basket_habits",
    "department_index",
    "feature_lines",
    "features",
    "preferred_places",
    "price_sensitivity",
    "private_label",
    "time_habits",
]

PARTS_OF_DAY: tuple[tuple[str, int, int], ...] = (
    ("night", 0, 5),
    ("morning", 5, 12),
    ("afternoon", 12, 17),
    ("evening", 17, 21),
    ("night", 21, 24),
)
"""Parts of the day as (name, first hour, hour after the last), hours as stored."""

_SHARE_DIGITS = 6


def _share(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    # A customer whose spend nets to zero has no share rather than a division error.
    return ibis.ifelse(whole > 0, part / whole, ibis.null("float64")).round(
        _SHARE_DIGITS
    )


def feature_lines(
    lines: ir.Table, orders: ir.Table, order_lines: ir.Table, products: ir.Table
) -> ir.Table:
    """``purchase_lines`` with what the features need beyond them.

    Adds the order's store and channel, the line's retail and coupon discounts,
    and the product's brand type and department ('UNKNOWN' when the product is
    missing from the catalog, so department totals still add up to all spend).
    """
    where = orders.select("order_id", "store_id", "channel")
    saved = order_lines.select(
        "order_id", "product_id", "retail_discount", "coupon_discount"
    )
    catalog = products.select(
        catalog_product_id=products.product_id,
        brand_type=products.brand_type,
        department=products.department,
    )
    bought = lines.join(where, "order_id").join(saved, ["order_id", "product_id"])
    joined = bought.left_join(catalog, bought.product_id == catalog.catalog_product_id)
    return joined.drop("catalog_product_id").mutate(
        retail_discount=joined.retail_discount.fill_null(0.0),
        coupon_discount=joined.coupon_discount.fill_null(0.0),
        department=joined.department.fill_null("UNKNOWN"),
    )


def _trips(lines: ir.Table) -> ir.Table:
    # One row per order; store and channel belong to the order, not the line.
    return lines.group_by(
        ["customer_id", "household_id", "order_id", "store_id", "channel"]
    ).agg(
        ordered_at=lines.ordered_at.min(),
        value=lines.sales_value.sum(),
        units=lines.quantity.sum(),
        coupon=(lines.coupon_discount > 0).any(),
    )


def basket_habits(lines: ir.Table, as_of: dt.date) -> ir.Table:
    """Trips, average basket value and units, and days between trips.

    ``trip_cadence_days`` is the mean gap between consecutive trips: the days
    from the first trip's day to the last one's over (trips - 1); null for a
    customer with one trip, who has no gap yet.
    """
    trips = _trips(lines)
    per = trips.group_by(["customer_id", "household_id"]).agg(
        trips=trips.order_id.count(),
        avg_basket_value=trips.value.mean(),
        avg_basket_units=trips.units.mean(),
        first_trip=trips.ordered_at.min().date(),
        last_trip=trips.ordered_at.max().date(),
    )
    span = per.last_trip.delta(per.first_trip, unit="day").cast("float64")
    return per.select(
        "customer_id",
        "household_id",
        as_of=ibis.literal(as_of),
        trips=per.trips.cast("int64"),
        avg_basket_value=per.avg_basket_value.round(2),
        avg_basket_units=per.avg_basket_units.round(2),
        trip_cadence_days=ibis.ifelse(
            per.trips > 1, span / (per.trips - 1), ibis.null("float64")
        ).round(2),
    )


def price_sensitivity(lines: ir.Table) -> ir.Table:
    """Share of spend on promotion and share of trips that used a coupon.

    A line is on promotion when it had a retail price cut or a coupon.
    """
    promo = (lines.retail_discount > 0) | (lines.coupon_discount > 0)
    spend = lines.group_by("customer_id").agg(
        spend=lines.sales_value.sum(),
        promo_spend=ibis.ifelse(promo, lines.sales_value, 0.0).sum(),
    )
    trips = _trips(lines)
    coupons = trips.group_by("customer_id").agg(
        trips=trips.order_id.count(),
        coupon_trips=trips.coupon.cast("int64").sum(),
    )
    joined = spend.join(coupons, "customer_id")
    return joined.select(
        "customer_id",
        promo_share=_share(joined.promo_spend, joined.spend),
        coupon_share=_share(joined.coupon_trips, joined.trips),
    )


def private_label(lines: ir.Table) -> ir.Table:
    """Share of spend on private-label products (brand_type 'private')."""
    private = lines.brand_type.lower() == "private"
    per = lines.group_by("customer_id").agg(
        spend=lines.sales_value.sum(),
        private_spend=ibis.ifelse(
            private.fill_null(False), lines.sales_value, 0.0
        ).sum(),
    )
    return per.select(
        "customer_id", private_label_share=_share(per.private_spend, per.spend)
    )


def _favourite(trips: ir.Table, column: str, name: str) -> ir.Table:
    # The value with most trips, ties to the smallest value, and its trip share.
    counts = trips.group_by(["customer_id", column]).agg(n=trips.order_id.count())
    total = counts.n.sum().over(ibis.window(group_by=counts.customer_id))
    rank = ibis.row_number().over(
        ibis.window(
            group_by=counts.customer_id,
            order_by=[ibis.desc(counts.n), counts[column]],
        )
    )
    ranked = counts.mutate(total=total, rank=rank)
    top = ranked.filter(ranked["rank"] == 0)
    return top.select(
        "customer_id",
        **{name: top[column], f"{name}_share": _share(top.n, top.total)},
    )


def preferred_places(lines: ir.Table) -> ir.Table:
    """The store and the channel with most trips (ties to the smaller id/name)."""
    trips = _trips(lines)
    store = _favourite(trips, "store_id", "preferred_store")
    channel = _favourite(trips, "channel", "preferred_channel")
    return store.join(channel, "customer_id")


def _part_of_day(hour: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases(
        *(((hour >= lo) & (hour < hi), name) for name, lo, hi in PARTS_OF_DAY),
        else_="night",
    )


def time_habits(lines: ir.Table) -> ir.Table:
    """Favourite day of week (0 = Monday) and part of day, by trips, with shares.

    Hours are read as stored (UTC for The Complete Journey); see PARTS_OF_DAY.
    """
    trips = _trips(lines)
    trips = trips.mutate(
        day_of_week=trips.ordered_at.day_of_week.index().cast("int32"),
        part_of_day=_part_of_day(trips.ordered_at.hour()),
    )
    day = _favourite(trips, "day_of_week", "favourite_day")
    part = _favourite(trips, "part_of_day", "favourite_part_of_day")
    return day.join(part, "customer_id")


def department_index(lines: ir.Table) -> ir.Table:
    """The top department by spend and its affinity index against the population.

    The index is the customer's share of wallet in the department over the
    share all customers in ``lines`` spend there: above 1 means over-index.
    """
    spend = lines.group_by(["customer_id", "department"]).agg(
        spend=lines.sales_value.sum().round(2)
    )
    by_dept = spend.group_by("department").agg(dept_spend=spend.spend.sum())
    everyone = spend.spend.sum().as_scalar()
    population = by_dept.mutate(pop_share=by_dept.dept_spend / everyone)
    mine = spend.spend.sum().over(ibis.window(group_by=spend.customer_id))
    rank = ibis.row_number().over(
        ibis.window(
            group_by=spend.customer_id,
            order_by=[ibis.desc(spend.spend), spend.department],
        )
    )
    ranked = spend.mutate(total=mine, rank=rank)
    top = ranked.filter(ranked["rank"] == 0).join(population, "department")
    share = ibis.ifelse(top.total > 0, top.spend / top.total, ibis.null("float64"))
    return top.select(
        "customer_id",
        top_department=top.department,
        top_department_share=share.round(_SHARE_DIGITS),
        top_department_index=ibis.ifelse(
            top.pop_share > 0, share / top.pop_share, ibis.null("float64")
        ).round(4),
    )


def features(lines: ir.Table, as_of: dt.date) -> ir.Table:
    """One row per customer with every feature group, as of ``as_of``.

    ``lines`` are ``feature_lines``: purchase lines already cut before
    ``as_of``, so nothing here can see the future.
    """
    out = basket_habits(lines, as_of)
    for part in (
        price_sensitivity(lines),
        private_label(lines),
        preferred_places(lines),
        time_habits(lines),
        department_index(lines),
    ):
        out = out.join(part, "customer_id")
    return out
