"""Erase a customer from every table the warehouse registers.

The tables to touch come from the registry (``model.TABLES``): each declares
the columns that name a person, or the parent it reaches them through, so a
table added later is erased without anyone remembering to add it here. Rows
are removed, not blanked: an anonymised order line still tells who bought
what once joined back to the loyalty card's other copies.

Children go before their parents (an order's lines are found through the
order), and on DuckDB all tables change in one transaction.
"""

from __future__ import annotations

from shopkeeper import model
from shopkeeper.profiles.customer360 import Customer
from shopkeeper.trust.export import customer_rows, subject_condition
from shopkeeper.warehouse import Warehouse

__all__ = ["erase_customer", "erasure_order"]


def erasure_order() -> list[model.TableSpec]:
    """Registered tables with personal data, each child before its parent."""
    specs = [s for s in model.TABLES.values() if s.subject_columns or s.subject_via]
    parents = {s.subject_via[0] for s in specs if s.subject_via}
    return [s for s in specs if s.name not in parents] + [
        s for s in specs if s.name in parents
    ]


def erase_customer(wh: Warehouse, who: Customer) -> dict[str, int]:
    """Remove every row about ``who``; returns the rows removed per table."""
    names = sorted({*who.identifiers, who.customer_id})
    removed: dict[str, int] = {}
    with wh.transaction():
        for spec in erasure_order():
            rows = customer_rows(wh, who, spec)
            if rows is None:
                continue
            found = wh.count(rows)
            if not found:
                continue
            t = wh.table(spec.name)
            if spec.subject_via is not None:
                column = spec.subject_via[1]
                keep = t.anti_join(rows.select(column).distinct(), column)
            else:
                keep = t.filter(~subject_condition(t, spec, names))
            staged = wh.checkpoint(keep, f"_tmp_erase_{spec.name}")
            wh.write(spec, staged)
            wh.drop_temp(f"_tmp_erase_{spec.name}")
            removed[spec.name] = found
    return removed
