"""The clean room's query language: a JSON document, checked against a view.

A partner never sends SQL. A query names an approved view, the dimensions to
group by, the aggregates to compute and the filters to apply, and every part is
checked against the view's allow-lists before anything runs. A structured
query has no syntax to smuggle a sub-select, a ``UNION`` or a join through, and
the checker can say exactly which part is not allowed and why; a restricted SQL
dialect would need a parser that is at least as strict as this and would still
leave a larger surface (functions, casts, comments) to get wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopkeeper.errors import InvalidInput
from shopkeeper.warehouse import Warehouse

__all__ = [
    "AGGREGATES",
    "OPS",
    "CleanroomQuery",
    "Filter",
    "Measure",
    "View",
    "check_query",
    "compile_query",
]

AGGREGATES = ("sum", "avg", "count_distinct")
"""The aggregate functions a partner may use: each blends many customers.
``min`` and ``max`` are left out on purpose: they return one customer's value."""

OPS = ("=", "!=", "in", "not in", ">=", "<=", ">", "<")

_MEASURE = re.compile(r"^\s*(\w+)\s*\(\s*(\w+)\s*\)\s*$")

CUSTOMERS = "customers"
"""The output column every answer carries: distinct customers in the row."""

CONTRIBUTION = "_contribution"
"""A view's int64 column fingerprinting what one source row adds to a group."""


class Measure(BaseModel):
    """One aggregate: ``{"fn": "sum", "column": "sales_value"}``, or the
    shorthand ``"sum(sales_value)"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fn: str = Field(max_length=40)
    column: str = Field(max_length=80)

    @property
    def name(self) -> str:
        """The output column: ``sum_sales_value``; never a partner-chosen alias,
        so no free text of the partner's comes back either."""
        return f"{self.fn}_{self.column}"


class Filter(BaseModel):
    """One condition on a dimension, e.g.
    ``{"column": "store_id", "op": "!=", "value": "42"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(max_length=80)
    op: str = Field(max_length=10)
    value: str | int | float | list[str | int | float] = Field(
        description="a scalar, or a list of at most 200 for in / not in"
    )


class CleanroomQuery(BaseModel):
    """What a partner asks: a view, its dimensions, measures and filters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view: str = Field(max_length=80)
    dimensions: list[str] = Field(default_factory=list, max_length=4)
    measures: list[Measure] = Field(default_factory=list, max_length=8)
    filters: list[Filter] = Field(default_factory=list, max_length=10)

    @field_validator("measures", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """Accept ``"sum(sales_value)"`` as well as the object form."""
        if not isinstance(value, list):
            return value
        parsed: list[Any] = []
        for item in value:
            if isinstance(item, str):
                found = _MEASURE.match(item)
                if not found:
                    raise ValueError(
                        f"measure {item!r} is not fn(column), e.g. sum(sales_value)"
                    )
                item = {"fn": found.group(1).lower(), "column": found.group(2)}
            parsed.append(item)
        return parsed


@dataclass(frozen=True)
class View:
    """An approved view: what may be grouped, filtered and aggregated.

    ``build(wh, manufacturer_ids)`` returns one row per unit of data (an order
    line, a customer) already restricted to the partner's own products and to
    customers who allow ``partner_sharing``, with a ``customer_id`` column (to
    count the crowd; never returned) and ``_contribution`` (a hash of what the
    row adds, for the difference check).
    """

    name: str
    doc: str
    dimensions: Mapping[str, str]
    measures: Mapping[str, tuple[str, ...]]
    identifiers: tuple[str, ...]
    free_text: tuple[str, ...]
    build: Callable[[Warehouse, Sequence[str]], ir.Table]
    min_crowd: int | None = None

    def describe(self) -> dict[str, Any]:
        """What a partner may ask of this view, for docs and the API."""
        return {
            "view": self.name,
            "doc": self.doc,
            "dimensions": dict(self.dimensions),
            "measures": {c: list(fns) for c, fns in self.measures.items()},
            "never_returned": list(self.identifiers + self.free_text),
        }


def _column_reason(view: View, column: str, role: str) -> str | None:
    """Why ``column`` may not be used as ``role`` (None: it may)."""
    if role == "measure" and column in view.measures:
        return None
    if column in view.identifiers or column == "customer_id":
        return (
            f"{column} is an identifier: identifiers are never returned, grouped "
            f"or filtered on; each row reports its crowd as '{CUSTOMERS}'"
        )
    if column in view.free_text:
        return f"{column} is free text, which the clean room never returns"
    if role == "measure":
        known = ", ".join(sorted(view.measures))
        return f"{column} cannot be aggregated in view {view.name!r} ({known})"
    if column not in view.dimensions:
        known = ", ".join(view.dimensions)
        return f"{column} is not a dimension of view {view.name!r} ({known})"
    return None


def check_query(query: CleanroomQuery, views: Mapping[str, View]) -> View:
    """The view the query runs on, or InvalidInput listing every problem.

    All problems are reported at once, so a partner fixes a query in one pass.
    """
    view = views.get(query.view)
    if view is None:
        raise InvalidInput(
            f"unknown view {query.view!r}; approved views: {', '.join(views)}"
        )
    problems: list[str] = []
    for dim in query.dimensions:
        if reason := _column_reason(view, dim, "dimension"):
            problems.append(f"dimension {dim}: {reason}")
    if len(set(query.dimensions)) != len(query.dimensions):
        problems.append("a dimension is listed twice")
    for m in query.measures:
        if reason := _column_reason(view, m.column, "measure"):
            problems.append(f"measure {m.fn}({m.column}): {reason}")
        elif m.fn not in AGGREGATES:
            why = (
                " (min and max return one customer's own value)"
                if m.fn in ("min", "max")
                else ""
            )
            problems.append(
                f"measure {m.fn}({m.column}): {m.fn} is not allowed{why}; "
                f"use one of {', '.join(AGGREGATES)}"
            )
        elif m.fn not in view.measures[m.column]:
            allowed = ", ".join(view.measures[m.column])
            problems.append(
                f"measure {m.fn}({m.column}): {m.column} allows only {allowed}"
            )
    if len({m.name for m in query.measures}) != len(query.measures):
        problems.append("a measure is listed twice")
    for f in query.filters:
        if reason := _column_reason(view, f.column, "filter"):
            problems.append(f"filter on {f.column}: {reason}")
        elif f.op not in OPS:
            problems.append(f"filter on {f.column}: op {f.op!r} is not one of {OPS}")
        elif (f.op in ("in", "not in")) != isinstance(f.value, list):
            shape = "a list" if f.op in ("in", "not in") else "a single value"
            problems.append(f"filter on {f.column}: {f.op} takes {shape}")
        elif isinstance(f.value, list) and not 0 < len(f.value) <= 200:
            problems.append(f"filter on {f.column}: a list of 1 to 200 values")
    if problems:
        raise InvalidInput(f"query refused: {'; '.join(problems)}")
    return view


def _condition(column: ir.Column, f: Filter) -> ir.BooleanValue:
    """The Ibis condition for one filter, after checking the value's type
    against the column's, so '5' never silently compares a number as text."""
    values = f.value if isinstance(f.value, list) else [f.value]
    numeric = column.type().is_numeric()
    for v in values:
        if numeric != (isinstance(v, int | float) and not isinstance(v, bool)):
            kind = "a number" if numeric else "a string"
            raise InvalidInput(
                f"query refused: filter on {f.column}: the column holds "
                f"{kind}, got {v!r}"
            )
    value = f.value
    match f.op:
        case "=":
            return column == value
        case "!=":
            # SQL's NULL != x is unknown; a partner means "everything else".
            return column.isnull() | (column != value)
        case "in":
            return column.isin(values)
        case "not in":
            return column.isnull() | column.notin(values)
        case ">=":
            return column >= value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case _:
            return column < value


def compile_query(query: CleanroomQuery, base: ir.Table) -> tuple[ir.Table, ir.Table]:
    """The answer rows and the per-(row, customer) contributions, as Ibis.

    The first expression groups by the dimensions and returns ``customers``
    plus the measures; the second returns, for every output row, each
    customer in it and the XOR of the hashes of the source rows they add
    (what the difference check compares between queries). Both come from the
    same filtered table, so they always describe the same rows.
    """
    rows = base
    for f in query.filters:
        rows = rows.filter(_condition(rows[f.column], f))
    dims = list(query.dimensions)
    aggs: dict[str, ir.Scalar] = {CUSTOMERS: rows.customer_id.nunique()}
    for m in query.measures:
        column = rows[m.column]
        aggs[m.name] = (
            column.sum()
            if m.fn == "sum"
            else column.mean()
            if m.fn == "avg"
            else column.nunique()
        )
    if dims:
        answer = rows.group_by(dims).agg(**aggs).order_by(dims)
    else:
        answer = rows.aggregate(**aggs).filter(ibis._[CUSTOMERS] > 0)
    members = rows.group_by([*dims, "customer_id"]).agg(fp=rows[CONTRIBUTION].bit_xor())
    return answer, members
