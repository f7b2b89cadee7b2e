"""What segment conditions read, per customer, as Ibis tables.

Batch membership (``compile``) and the online profile rows the real-time
evaluator reads (``online``) are both built from these functions, so a field,
an affinity or a consent means the same thing on both paths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from shopkeeper.profiles.purchases import default_as_of, purchase_lines
from shopkeeper.segments.fields import BOUGHT_PROPERTIES, FIELDS
from shopkeeper.warehouse import Warehouse

__all__ = [
    "as_of_timestamp",
    "current_consents",
    "customers",
    "department_affinity",
    "product_lines",
    "profile_base",
    "profile_as_of",
    "resolved_events",
]


def as_of_timestamp(as_of: dt.date) -> dt.datetime:
    """Midnight UTC (naive) of ``as_of``: windows end just before it."""
    return dt.datetime.combine(as_of, dt.time())


def profile_as_of(wh: Warehouse) -> dt.date:
    """The date the profiles were built for, so windows line up with them."""
    if wh.exists("profiles_rfm"):
        found = wh.execute(wh.table("profiles_rfm").as_of.max())
        if found is not None:
            return found.date() if isinstance(found, dt.datetime) else found
    return default_as_of(wh)


def customers(wh: Warehouse) -> ir.Table:
    """Every customer the identity graph knows, with one household (the least)."""
    idmap = wh.table("identity_map")
    return idmap.group_by("customer_id").agg(household_id=idmap.household_id.min())


def profile_base(wh: Warehouse, names: Iterable[str]) -> ir.Table:
    """``customer_id``, ``household_id`` and the named profile fields.

    Every customer is kept: one without a profile row (no purchases yet) has
    nulls, and a comparison on a null is false.
    """
    base = customers(wh)
    wanted = [FIELDS[n] for n in dict.fromkeys(names)]
    for table in dict.fromkeys(f.table for f in wanted):
        if not wh.exists(table):
            base = base.mutate(
                **{
                    f.name: ibis.null("float64" if f.kind == "number" else "string")
                    for f in wanted
                    if f.table == table
                }
            )
            continue
        key = "household_id" if table == "households" else "customer_id"
        t = wh.table(table)
        cols = {f.name: t[f.column] for f in wanted if f.table == table}
        part = t.select(_key=t[key], **cols)
        joined = base.left_join(part, base[key] == part._key)
        base = joined.select(*base.columns, *cols)
    return base


def department_affinity(
    wh: Warehouse, as_of: dt.date, departments: Iterable[str] | None = None
) -> ir.Table:
    """(customer_id, department, index) for purchases before ``as_of``.

    The index is the customer's share of spend in the department over the
    population's share (a customer at 1.3 spends 30% more of their wallet
    there than shoppers overall). Departments are upper-cased so a definition
    need not match the catalog's case. A customer who never bought in a
    department has index 0; one with no spend has none.
    """
    lines = purchase_lines(wh, as_of)
    products = wh.table("products").select("product_id", "department")
    joined = lines.left_join(products, lines.product_id == products.product_id)
    dept = joined.department.fill_null("UNKNOWN").upper()
    spend = joined.select("customer_id", department=dept, value=joined.sales_value)
    by_dept = spend.group_by(["customer_id", "department"]).agg(value=spend.value.sum())
    totals = by_dept.group_by("customer_id").agg(total=by_dept.value.sum())
    population = by_dept.group_by("department").agg(pop=by_dept.value.sum())
    grand = population.aggregate(grand=population.pop.sum())
    if departments is not None:
        wanted = sorted({d.upper() for d in departments})
        population = population.filter(population.department.isin(wanted))
    # Every (customer, department) pair, so never buying there reads as 0.
    pairs = totals.cross_join(population).cross_join(grand)
    pairs = pairs.left_join(
        by_dept,
        (pairs.customer_id == by_dept.customer_id)
        & (pairs.department == by_dept.department),
    )
    pop_share = pairs.pop / pairs.grand
    share = pairs.value.fill_null(0.0) / pairs.total
    index = ibis.ifelse((pairs.total > 0) & (pop_share > 0), share / pop_share, None)
    return pairs.select(
        "customer_id", "department", index=index.cast("float64").round(4)
    )


def current_consents(wh: Warehouse) -> ir.Table | None:
    """(customer_id, purpose, status): the latest ledger row per purpose across
    the customer's identifiers (as the customer 360 shows it). None when the
    warehouse has no consent ledger."""
    if not wh.exists("consents"):
        return None
    ledger = wh.table("consents")
    idmap = wh.table("identity_map")
    rows = ledger.join(idmap, ledger.subject == idmap.identifier).select(
        "customer_id", "purpose", "status", "recorded_at", "consent_id"
    )
    latest = rows.mutate(
        _n=ibis.row_number().over(
            group_by=["customer_id", "purpose"],
            order_by=[ibis.desc("recorded_at"), ibis.desc("consent_id")],
        )
    )
    return latest.filter(latest._n == 0).select("customer_id", "purpose", "status")


def resolved_events(wh: Warehouse, as_of: dt.datetime) -> ir.Table | None:
    """Tracked events before ``as_of`` with the customer who sent them.

    The user id's customer wins over the anonymous id's (a login names the
    person); events of identifiers the graph has not seen are left out.
    None when the warehouse holds no events.
    """
    if not wh.exists("events"):
        return None
    e = wh.table("events")
    e = e.filter((e.type == "track") & (e.timestamp < ibis.literal(as_of)))
    idmap = wh.table("identity_map")
    users = idmap.select(_u=idmap.identifier, _ucid=idmap.customer_id)
    anons = idmap.select(_a=idmap.identifier, _acid=idmap.customer_id)
    j = e.left_join(users, ibis.literal("user:") + e.user_id == users._u)
    j = j.left_join(anons, ibis.literal("anon:") + j.anonymous_id == anons._a)
    j = j.select(
        customer_id=j._ucid.coalesce(j._acid),
        event=j.event,
        timestamp=j.timestamp,
        properties=j.properties,
        message_id=j.message_id,
    )
    return j.filter(j.customer_id.notnull())


def product_lines(wh: Warehouse, as_of: dt.date) -> ir.Table:
    """Purchase lines before ``as_of`` with every property ``bought`` tests."""
    lines = purchase_lines(wh, as_of)
    products = wh.table("products")
    orders = wh.table("orders").select("order_id", "channel", "store_id")
    j = lines.left_join(products, lines.product_id == products.product_id)
    j = j.select(*lines.columns, *(c for c in products.columns if c != "product_id"))
    j = j.left_join(orders, j.order_id == orders.order_id)
    props = [p for p in BOUGHT_PROPERTIES if p != "product_id"]
    return j.select("customer_id", "order_id", "ordered_at", "product_id", *props)
