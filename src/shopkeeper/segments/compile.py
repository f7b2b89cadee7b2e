"""A parsed segment as one Ibis expression: the same members on every engine.

Each condition that needs more than a profile column (an affinity, a consent,
a count of events or orders) becomes a per-customer subquery left-joined to
the customer base; the definition's boolean structure then becomes one filter.
Every comparison is two-valued (a missing value compares false, and ``not``
of that is true), which is what the real-time evaluator does in Python too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.segments import sources
from shopkeeper.segments.ast import (
    Affinity,
    All,
    Any_,
    Bought,
    Compare,
    Consent,
    Did,
    Literal,
    Node,
    Not,
    ProfileField,
    PropertyTest,
    walk,
)
from shopkeeper.segments.language import parse
from shopkeeper.warehouse import Warehouse
from shopkeeper.warehouse.jsontext import json_text

__all__ = [
    "affinity_column",
    "as_text",
    "evaluate",
    "members",
    "referenced_fields",
]


def referenced_fields(node: Node) -> list[str]:
    """Profile fields the definition compares, in order of appearance."""
    names = [
        n.target.name
        for n in walk(node)
        if isinstance(n, Compare) and isinstance(n.target, ProfileField)
    ]
    return list(dict.fromkeys(names))


def as_text(value: Literal) -> str:
    """How a literal compares with text: 12345.0 reads as "12345"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(column: ir.Value, op: str, value: Any) -> ir.BooleanValue:
    if op == "in":
        return column.isin(list(value))
    if op == "not in":
        return ~column.isin(list(value))
    return {
        "=": column == value,
        "!=": column != value,
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[op]


def _property_test(column: ir.StringValue, test: PropertyTest) -> ir.BooleanValue:
    """A test on text (an event property or a product attribute).

    Numbers compare numerically (text that is not a number never matches),
    anything else compares as text.
    """
    values = test.value if isinstance(test.value, tuple) else (test.value,)
    if all(isinstance(v, float) for v in values):
        return _compare(column.try_cast("float64"), test.op, test.value)
    texts = tuple(as_text(v) for v in values)
    return _compare(
        column, test.op, texts if isinstance(test.value, tuple) else texts[0]
    )


def _counted(
    rows: ir.Table, when: ir.TimestampValue, days: int | None, as_of: dt.datetime
) -> ir.Table:
    if days is not None:
        rows = rows.filter(when >= ibis.literal(as_of - dt.timedelta(days=days)))
    return rows


def _did(wh: Warehouse, node: Did, as_of: dt.datetime) -> ir.Table | None:
    events = sources.resolved_events(wh, as_of)
    if events is None:
        return None
    match = events.event == node.event
    for test in node.where:
        match &= _property_test(json_text(events.properties, test.name), test)
    found = _counted(events.filter(match), events.timestamp, node.days, as_of)
    return found.group_by("customer_id").agg(n=found.count())


def _bought(wh: Warehouse, node: Bought, as_of: dt.datetime) -> ir.Table:
    lines = sources.product_lines(wh, as_of.date())
    match: ir.BooleanValue = ibis.literal(True)
    for test in node.where:
        match &= _property_test(lines[test.name].cast("string"), test)
    found = _counted(lines.filter(match), lines.ordered_at, node.days, as_of)
    return found.group_by("customer_id").agg(n=found.order_id.nunique())


def _count_test(n: ir.IntegerValue, node: Did | Bought) -> ir.BooleanValue:
    n = n.fill_null(0)
    ok: ir.BooleanValue = ibis.literal(True)
    if node.at_least is not None:
        ok &= n >= node.at_least
    if node.at_most is not None:
        ok &= n <= node.at_most
    return ok


def affinity_column(department: str) -> str:
    """The column an affinity condition adds, e.g. ``affinity_produce``, so a
    preview shows the number the rule compared."""
    return "affinity_" + re.sub(r"\W+", "_", department.lower()).strip("_")


class _Plan:
    """The subqueries a definition needs, each joined once as column ``_kN``."""

    def __init__(self, wh: Warehouse, as_of: dt.date) -> None:
        self.wh = wh
        self.as_of = sources.as_of_timestamp(as_of)
        self.columns: dict[object, str] = {}
        self.parts: list[tuple[str, ir.Table]] = []

    def column_for(
        self, key: object, table: ir.Table | None, value: str, name: str = ""
    ) -> str:
        """Register ``table`` (customer_id, ``value``) once; its column name."""
        if key not in self.columns:
            name = name or f"_k{len(self.columns)}"
            self.columns[key] = name
            if table is not None:
                self.parts.append(
                    (name, table.select(_cid=table.customer_id, **{name: table[value]}))
                )
        return self.columns[key]

    def prepare(self, node: Node) -> None:
        for n in walk(node):
            if isinstance(n, Compare) and isinstance(n.target, Affinity):
                dept = n.target.department.upper()
                aff = sources.department_affinity(self.wh, self.as_of.date(), [dept])
                self.column_for(
                    ("affinity", dept),
                    aff.filter(aff.department == dept),
                    "index",
                    affinity_column(dept),
                )
            elif isinstance(n, Consent):
                consents = sources.current_consents(self.wh)
                if consents is not None:
                    consents = consents.filter(consents.purpose == n.purpose)
                self.column_for(("consent", n.purpose), consents, "status")
            elif isinstance(n, Did):
                self.column_for(n, _did(self.wh, n, self.as_of), "n")
            elif isinstance(n, Bought):
                self.column_for(n, _bought(self.wh, n, self.as_of), "n")

    def join(self, base: ir.Table) -> ir.Table:
        for name, part in self.parts:
            joined = base.left_join(part, base.customer_id == part._cid)
            base = joined.select(*base.columns, name)
        return base

    def value(self, t: ir.Table, key: object) -> ir.Value | None:
        name = self.columns[key]
        return t[name] if name in t.columns else None

    def predicate(self, t: ir.Table, node: Node) -> ir.BooleanValue:
        if isinstance(node, All):
            out = self.predicate(t, node.parts[0])
            for part in node.parts[1:]:
                out &= self.predicate(t, part)
            return out
        if isinstance(node, Any_):
            out = self.predicate(t, node.parts[0])
            for part in node.parts[1:]:
                out |= self.predicate(t, part)
            return out
        if isinstance(node, Not):
            return ~self.predicate(t, node.part)
        if isinstance(node, Consent):
            status = self.value(t, ("consent", node.purpose))
            if status is None:
                return ibis.literal(False)
            return (status == "granted").fill_null(False)
        if isinstance(node, Did | Bought):
            n = self.value(t, node)
            return _count_test(n if n is not None else ibis.literal(0), node)
        assert isinstance(node, Compare)
        if isinstance(node.target, Affinity):
            column = self.value(t, ("affinity", node.target.department.upper()))
        else:
            column = t[node.target.name]
        assert column is not None
        return _compare(column, node.op, node.value).fill_null(False)


def evaluate(
    wh: Warehouse, node: Node, as_of: dt.date, extra_fields: Sequence[str] = ()
) -> ir.Table:
    """Every customer with the referenced (and extra) fields and a boolean
    ``member``: one pass gives both the size and the share of a segment."""
    plan = _Plan(wh, as_of)
    plan.prepare(node)
    names = [*referenced_fields(node), *extra_fields]
    base = plan.join(sources.profile_base(wh, names))
    return base.mutate(member=plan.predicate(base, node))


def members(wh: Warehouse, definition: str | Node, as_of: dt.date) -> ir.Table:
    """The customers in the segment as of ``as_of``, with its profile fields.

    Args:
        wh: the warehouse holding identity_map and the profiles.
        definition: the text of a definition, or its parsed tree.
        as_of: windows (``in 30 days``) end just before this date; events
            and orders on or after it are not seen.
    """
    node = parse(definition) if isinstance(definition, str) else definition
    scored = evaluate(wh, node, as_of)
    keep = [c for c in scored.columns if not c.startswith("_k") and c != "member"]
    return scored.filter(scored.member).select(*keep)
