"""Store-staff lists: who is likely to come in today, and how to help them.

A clerk who knows that a regular is due, what they buy and what to suggest can
serve them like a neighbourhood shop would. The list is built per store and
day from purchase history alone:

- *expected*: the share of the last ``weeks`` same weekdays (e.g. the last 13
  Tuesdays) on which the customer shopped at this store, at least
  ``min_rate``. It is measured, not modelled, so a clerk can check it ("came
  in 9 of the last 13 Tuesdays").
- *preferences*: their top departments by spend (``profiles_departments``).
- *recommendations*: their top 3 from ``recommendations`` when the recommend
  stage wrote it, else ``recommend_personal_top``.
- *conversation starter*: one sentence drawn from the above.

Only customers whose current ``personalization`` consent is explicitly
``granted`` are listed. Unlike a coupon on a card, this puts a person's habits
in front of another person, face to face: silence is not consent here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.activate.consent import consent_status
from shopkeeper.errors import InvalidInput, NotFound
from shopkeeper.warehouse import Warehouse

__all__ = ["ExpectedShopper", "expected_visits", "staff_list", "write_staff_list"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAYS += ("Sunday",)


@dataclass
class ExpectedShopper:
    """One line of a staff list."""

    store_id: str
    date: dt.date
    customer_id: str
    first_name: str | None
    visits: int
    weeks: int
    expected_rate: float
    usual_time: str | None
    departments: list[str] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    conversation_starter: str = ""

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["date"] = self.date.isoformat()
        return row


def expected_visits(
    wh: Warehouse, store_id: str, day: dt.date, *, weeks: int = 13
) -> ir.Table:
    """(customer_id, visits): on how many of the last ``weeks`` same weekdays
    before ``day`` each customer shopped at ``store_id``."""
    if weeks < 1:
        raise InvalidInput(f"weeks must be at least 1, not {weeks}")
    orders = wh.table("orders")
    since = day - dt.timedelta(weeks=weeks)
    ts = orders.ordered_at
    mine = orders.filter(
        (orders.store_id == store_id)
        & (ts >= ibis.literal(since).cast("timestamp"))
        & (ts < ibis.literal(day).cast("timestamp"))
        & (ts.day_of_week.index() == day.weekday())
    )
    idmap = wh.table("identity_map")
    joined = mine.join(idmap, mine.identifier == idmap.identifier)
    return joined.group_by("customer_id").agg(visits=joined.ordered_at.date().nunique())


def _granted(wh: Warehouse) -> ir.Table | None:
    current = consent_status(wh)
    if current is None:
        return None
    ok = current.filter(
        (current.purpose == "personalization") & (current.status == "granted")
    )
    return ok.select(_ok=ok.customer_id)


def _rows(wh: Warehouse, expr: ir.Table) -> list[dict[str, Any]]:
    return wh.to_arrow(expr).to_pylist()


def _details(
    wh: Warehouse, customers: list[str], top: int
) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[Any]], dict[str, Any]]:
    """Per customer: usual time, departments, recommendations, first name."""
    times: dict[str, Any] = {}
    if wh.exists("profiles_features"):
        f = wh.table("profiles_features")
        for r in _rows(wh, f.filter(f.customer_id.isin(customers))):
            times[r["customer_id"]] = r["favourite_part_of_day"]
    departments: dict[str, list[Any]] = {}
    if wh.exists("profiles_departments"):
        d = wh.table("profiles_departments")
        d = d.filter(d.customer_id.isin(customers) & (d["rank"] <= top))
        for r in _rows(wh, d.order_by(["customer_id", "rank"])):
            departments.setdefault(r["customer_id"], []).append(r)
    source = next(
        (t for t in ("recommendations", "recommend_personal_top") if wh.exists(t)),
        None,
    )
    recommendations: dict[str, list[Any]] = {}
    if source is not None:
        rec = wh.table(source)
        rec = rec.filter(rec.customer_id.isin(customers) & (rec["rank"] <= top))
        products = wh.table("products")
        # Blank names are common in retail catalogues: fall back to the type.
        label = ibis.coalesce(
            *(products[c].strip().nullif("") for c in ("name", "product_type")),
            products.category.strip().nullif(""),
            products.product_id,
        )
        labels = products.select(
            _pid=products.product_id, product=label, department=products.department
        )
        named = rec.left_join(labels, rec.product_id == labels._pid)
        keep = ["customer_id", "rank", "product_id", "product", "department", "reason"]
        for r in _rows(wh, named.select(*keep).order_by(["customer_id", "rank"])):
            recommendations.setdefault(r["customer_id"], []).append(
                {k: r[k] for k in keep[2:]}
            )
    names: dict[str, Any] = {}
    if wh.exists("customers"):
        c = wh.table("customers")
        idmap = wh.table("identity_map")
        j = c.join(idmap, c.customer_ref == idmap.identifier).filter(
            ibis._.customer_id.isin(customers) & ibis._.first_name.notnull()
        )
        for r in _rows(wh, j.select("customer_id", "first_name")):
            names.setdefault(r["customer_id"], r["first_name"])
    return times, departments, recommendations, names


def _starter(shopper: ExpectedShopper, departments: list[dict[str, Any]]) -> str:
    """One sentence a clerk can say, built only from what the list shows."""
    weekday = _WEEKDAYS[shopper.date.weekday()]
    if shopper.recommendations:
        first = shopper.recommendations[0]
        product = str(first["product"]).lower()
        where = first["department"] or (
            departments[0]["department"] if departments else None
        )
        if where:
            return (
                f"Ask how they are finding our {where.title()} range, and mention "
                f"the {product}."
            )
        return f"Ask whether they have seen the {product} today."
    if departments:
        top = departments[0]
        return (
            f"Ask what they would like to see more of in {top['department'].title()}; "
            f"it is {top['share']:.0%} of their spend."
        )
    return (
        f"Welcome them back: they shopped here on {shopper.visits} of the last "
        f"{shopper.weeks} {weekday}s."
    )


def staff_list(
    wh: Warehouse,
    store_id: str,
    day: dt.date,
    *,
    weeks: int = 13,
    min_rate: float = 0.25,
    top: int = 3,
    limit: int = 100,
) -> list[ExpectedShopper]:
    """The expected, consenting shoppers of ``store_id`` on ``day``, most
    regular first.

    Args:
        wh: the warehouse (read-only is enough).
        store_id: the store, as in ``stores.store_id``.
        day: the day the list is for; only orders before it are read.
        weeks: how many past same weekdays to look at.
        min_rate: the least share of those weekdays with a visit.
        top: departments and recommendations per shopper.
        limit: most shoppers on one list.
    """
    if not 0 < min_rate <= 1:
        raise InvalidInput(f"min_rate must be in (0, 1], not {min_rate}")
    stores = wh.table("stores")
    if wh.count(stores.filter(stores.store_id == store_id)) == 0:
        raise NotFound(f"no store {store_id!r}", hint="see the stores table")
    visits = expected_visits(wh, store_id, day, weeks=weeks)
    visits = visits.filter(visits.visits >= min_rate * weeks)
    granted = _granted(wh)
    if granted is None:
        return []
    visits = visits.semi_join(granted, visits.customer_id == granted._ok)
    ranked = visits.order_by([ibis.desc("visits"), "customer_id"]).limit(limit)
    found = _rows(wh, ranked)
    customers = [r["customer_id"] for r in found]
    times, departments, recommendations, names = _details(wh, customers, top)
    shoppers = []
    for r in found:
        cid = r["customer_id"]
        shopper = ExpectedShopper(
            store_id=store_id,
            date=day,
            customer_id=cid,
            first_name=names.get(cid),
            visits=int(r["visits"]),
            weeks=weeks,
            expected_rate=round(r["visits"] / weeks, 3),
            usual_time=times.get(cid),
            departments=[d["department"] for d in departments.get(cid, [])],
            recommendations=recommendations.get(cid, []),
        )
        shopper.conversation_starter = _starter(shopper, departments.get(cid, []))
        shoppers.append(shopper)
    return shoppers


def write_staff_list(shoppers: list[ExpectedShopper], path: str | Path) -> Path:
    """Write a list as ``.json`` (nested, for an app) or ``.csv`` (a printable
    sheet: lists joined with "; ", one recommendation per product name)."""
    file = Path(path)
    if file.suffix not in (".json", ".csv"):
        raise InvalidInput(f"a staff list is written as .json or .csv, not {file.name}")
    file.parent.mkdir(parents=True, exist_ok=True)
    rows = [s.as_dict() for s in shoppers]
    if file.suffix == ".json":
        file.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        return file
    columns = list(ExpectedShopper.__dataclass_fields__)
    with open(file, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            row["departments"] = "; ".join(row["departments"])
            row["recommendations"] = "; ".join(
                str(r["product"]) for r in row["recommendations"]
            )
            writer.writerow(row)
    return file
