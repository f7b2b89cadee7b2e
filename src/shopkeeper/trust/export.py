"""Export everything held about one customer, table by table (GDPR access).

The customer is resolved from any identifier; every registered table that
exists is then filtered by its declared subject columns against the
customer's identifiers and customer id (raw event ids get their ``user:`` /
``anon:`` prefix first), and tables that reach a person only through a parent
(an order's lines) follow the parent's rows. Reasons stored with decisions and
recommendations travel in their rows, so the export answers "why am I seeing
this" too. Nothing of any other customer is included: the filter is the same
one erasure will use.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper import model
from shopkeeper.profiles.customer360 import Customer, resolve
from shopkeeper.warehouse import Warehouse

__all__ = [
    "audit",
    "customer_rows",
    "export_customer",
    "export_zip",
    "subject_condition",
]


def audit() -> list[dict[str, Any]]:
    """Every registered table with the columns that name the person in it."""
    out = []
    for spec in model.TABLES.values():
        columns = {
            column: [p or "as stored" for p in prefixes]
            for column, prefixes in spec.subject_columns.items()
        }
        out.append(
            {
                "table": spec.name,
                "stage": spec.stage,
                "subject_columns": columns,
                "through": f"{spec.subject_via[0]}.{spec.subject_via[1]}"
                if spec.subject_via
                else None,
                "holds_personal_data": bool(columns or spec.subject_via),
            }
        )
    return out


def customer_rows(
    wh: Warehouse, who: Customer, spec: model.TableSpec
) -> ir.Table | None:
    """The rows of ``spec`` about ``who`` (None if the table holds nobody)."""
    if not wh.exists(spec.name):
        return None
    t = wh.table(spec.name)
    if spec.subject_via is not None:
        parent_name, column = spec.subject_via
        parent = customer_rows(wh, who, model.spec(parent_name))
        if parent is None:
            return None
        return t.semi_join(parent.select(column).distinct(), column)
    if not spec.subject_columns:
        return None
    return t.filter(
        subject_condition(t, spec, sorted({*who.identifiers, who.customer_id}))
    )


def subject_condition(
    t: ir.Table, spec: model.TableSpec, names: list[str]
) -> ir.BooleanValue:
    """True for rows whose subject columns name any of ``names``, never null.

    Never null matters to erasure, which keeps the rows where this is false:
    a row with an empty subject column must be kept, not dropped.
    """
    condition = ibis.literal(False)
    for column, prefixes in spec.subject_columns.items():
        for prefix in prefixes:
            value = t[column].cast("string")
            typed = ibis.literal(prefix) + value if prefix else value
            condition = condition | typed.isin(names).fill_null(False)
    return condition


def export_customer(wh: Warehouse, identifier: str) -> dict[str, Any]:
    """{"customer": ..., "tables": {name: [rows]}} for every table that has rows."""
    who = resolve(wh, identifier)
    tables: dict[str, list[dict[str, Any]]] = {}
    for spec in model.TABLES.values():
        rows = customer_rows(wh, who, spec)
        if rows is None:
            continue
        data = wh.to_arrow(rows.order_by(list(spec.key))).to_pylist()
        if data:
            tables[spec.name] = data
    return {
        "customer_id": who.customer_id,
        "household_id": who.household_id,
        "identifiers": who.identifiers,
        "exported_at": datetime.now(UTC).replace(tzinfo=None),
        "tables": tables,
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def export_zip(export: dict[str, Any]) -> bytes:
    """The export as a zip: everything in export.json, and one CSV per table."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(export, default=str, indent=1))
        for name, rows in export["tables"].items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()
