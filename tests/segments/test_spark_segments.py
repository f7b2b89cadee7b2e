"""The same segments give the same members on PySpark and on DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest

from shopkeeper import model
from shopkeeper.segments import members
from shopkeeper.segments.sources import profile_as_of
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import duckdb_url
from .conftest import customer_of

DEFINITIONS = [  # every kind of condition, each splitting the customers
    'clv_52w > 300 and affinity.department["PRODUCE"] > 1.3',
    'home_ownership = "Homeowner" or top_department_index > 2',
    'bought department = "PRODUCE" at least 3 times in 60 days',
    'consent.ads and not consent.email or did "Product Viewed" where price > 20',
    'did "Product Viewed" where category = "Baby" at least 2 times in 14 days',
]
TABLES = (
    "identity_map", "profiles_rfm", "profiles_clv", "profiles_features",
    "households", "orders", "order_lines", "products", "consents", "events",
)  # fmt: skip


def _subset(wh: Warehouse) -> dict[str, ir.Table]:
    """Every 6th customer of the slice and the four contacts, with their rows:
    small enough for a local Spark, real enough to split every definition."""
    idmap = wh.table("identity_map")
    ids = sorted(
        wh.to_arrow(idmap.select("customer_id").distinct()).column(0).to_pylist()
    )
    keep = set(ids[::6]) | {customer_of(wh, f"user:{w}") for w in ("ann", "bob", "dan")}
    people = idmap.filter(idmap.customer_id.isin(sorted(keep)))
    names = wh.to_arrow(people.select("identifier", "household_id")).to_pylist()
    identifiers = sorted({r["identifier"] for r in names})
    households = sorted({r["household_id"] for r in names if r["household_id"]})
    t = {name: wh.table(name) for name in TABLES}
    orders = t["orders"].filter(t["orders"].identifier.isin(identifiers))
    lines = t["order_lines"].semi_join(orders, "order_id")
    users = [i.removeprefix("user:") for i in identifiers if i.startswith("user:")]
    return {
        "identity_map": people,
        "orders": orders,
        "order_lines": lines,
        "products": t["products"].semi_join(lines, "product_id"),
        "households": t["households"].filter(
            t["households"].household_id.isin(households)
        ),
        "consents": t["consents"].filter(t["consents"].subject.isin(identifiers)),
        "events": t["events"].filter(t["events"].user_id.isin(users)),
        **{
            n: t[n].filter(t[n].customer_id.isin(sorted(keep)))
            for n in ("profiles_rfm", "profiles_clv", "profiles_features")
        },
    }


def _copy(source: Warehouse, parts: dict[str, ir.Table], target: Warehouse) -> None:
    """Each table as in-memory data under its own name (no files: faster)."""
    for name, expr in parts.items():
        data = source.to_arrow(source.conform(model.spec(name), expr))
        target.stage_arrow(name, data)


def _members(wh: Warehouse, as_of: dt.date) -> list[list[str]]:
    """Every definition's members, in one query per engine."""
    parts = [
        members(wh, d, as_of).select(n=ibis.literal(i), customer_id="customer_id")
        for i, d in enumerate(DEFINITIONS)
    ]
    found: list[list[str]] = [[] for _ in DEFINITIONS]
    for row in wh.to_arrow(ibis.union(*parts)).to_pylist():
        found[row["n"]].append(row["customer_id"])
    return [sorted(ids) for ids in found]


@pytest.mark.spark
def test_members_are_identical_on_spark_and_duckdb(
    segmented: Warehouse, tmp_path: Path, spark_root: Path
) -> None:
    settings = Settings(
        spark_warehouse_dir=str(spark_root / "segments"), spark_shuffle_partitions=1
    )
    spark = connect("pyspark://local[1]", settings=settings)
    duck = connect(duckdb_url(tmp_path / "duck.duckdb"), settings=settings)
    parts = _subset(segmented)
    _copy(segmented, parts, spark)
    _copy(segmented, parts, duck)
    as_of = profile_as_of(segmented)
    on_duck = _members(duck, as_of)
    assert _members(spark, as_of) == on_duck
    sizes = [len(ids) for ids in on_duck]
    everyone = duck.count("profiles_rfm")
    assert all(0 < n < everyone for n in sizes), sizes
    spark.close()
    duck.close()
