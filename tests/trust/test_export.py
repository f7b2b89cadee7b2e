"""Export reaches every table through the registry, and only the one customer."""

from __future__ import annotations

import io
import json
import zipfile

import ibis

from shopkeeper import model
from shopkeeper.trust import audit, export_customer, export_zip
from shopkeeper.warehouse import Warehouse

PERSONAL = {
    "identifier",
    "identifier_a",
    "identifier_b",
    "customer_id",
    "old_customer_id",
    "customer_ref",
    "household_id",
    "user_id",
    "anonymous_id",
    "subject",
    "email_sha256",
    "phone_sha256",
}
"""Column names that can only mean a person; a table with one must say whose."""


def test_every_table_with_customer_data_declares_its_subject() -> None:
    for spec in model.TABLES.values():
        personal = PERSONAL & set(spec.columns)
        about_orders = "order_id" in spec.columns and spec.name != "orders"
        if personal or about_orders:
            assert spec.subject_columns or spec.subject_via, spec.name
    listed = {row["table"]: row for row in audit()}
    assert set(listed) == set(model.TABLES)
    assert listed["order_lines"]["through"] == "orders.order_id"
    assert listed["products"]["holds_personal_data"] is False
    assert listed["events"]["subject_columns"]["anonymous_id"] == ["anon:"]


def _busiest(wh: Warehouse) -> str:
    t = wh.table("orders")
    top = t.group_by("identifier").agg(n=t.count())
    top = top.order_by([ibis.desc("n"), "identifier"])
    return str(wh.to_arrow(top.limit(1)).column("identifier")[0])


def test_export_of_a_real_household_holds_it_and_nobody_else(built: Warehouse) -> None:
    household = _busiest(built)
    export = export_customer(built, household)
    tables = export["tables"]
    assert {"orders", "order_lines", "profiles_rfm", "recommend_personal_top"} <= set(
        tables
    )
    orders = tables["orders"]
    assert {o["identifier"] for o in orders} == {household}
    assert len(orders) == built.count(
        built.table("orders").filter(built.table("orders").identifier == household)
    )
    order_ids = {o["order_id"] for o in orders}
    assert {line["order_id"] for line in tables["order_lines"]} <= order_ids
    assert {r["customer_id"] for r in tables["profiles_rfm"]} == {export["customer_id"]}
    assert all(r["reason"] for r in tables["recommend_personal_top"])
    # No other household's identifier anywhere in the export.
    for name, rows in tables.items():
        for row in rows:
            for value in row.values():
                if isinstance(value, str) and value.startswith("household:"):
                    assert value == household, (name, row)
    # Reference tables (products, promotions) are never part of a person's data.
    assert "products" not in tables and "promotions" not in tables

    archive = zipfile.ZipFile(io.BytesIO(export_zip(export)))
    names = set(archive.namelist())
    assert {"export.json", "orders.csv", "order_lines.csv"} <= names
    assert (
        json.loads(archive.read("export.json"))["customer_id"] == export["customer_id"]
    )
    assert archive.read("orders.csv").decode().count("\n") == len(orders) + 1
