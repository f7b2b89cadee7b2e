"""A segment evaluated for one customer in pure Python, in microseconds.

When an event arrives, the decide path must know at once whether the customer
is (still) in a segment; it cannot compile or run a query per request. A
``RealtimeSegment`` parses its definition once, turns the tree into nested
closures, and then answers from the customer's online profile row, a plain
dict::

    {
        "fields":    {"clv_52w": 812.4, "rfm_segment": "Champions", ...},
        "affinity":  {"PRODUCE": 1.42, ...},        # upper-case departments
        "consents":  {"email": "granted", ...},      # purpose -> status
        "events":    [{"event": ..., "timestamp": datetime, "properties": {...}}],
        "purchases": [{"order_id": ..., "ordered_at": datetime,
                       "department": ..., "category": ..., ...}],
    }

Events and purchases are in time order, oldest first (a new event is
appended), so a windowed count reads only the rows inside its window.

The meaning of every node is the batch compiler's (``compile.py``): a missing
value compares false, ``not`` of that is true, windows are ``[now - days,
now)``; the tests check both give the same members on real customers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

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
    PropertyTest,
)
from shopkeeper.segments.compile import as_text
from shopkeeper.segments.language import parse

__all__ = ["Check", "RealtimeSegment", "compile_check"]

Profile = Mapping[str, Any]
Check = Callable[[Profile, dt.datetime], bool]
"""``check(profile, now) -> bool``."""


def _compare(value: Any, op: str, literal: Literal | tuple[Literal, ...]) -> bool:
    if value is None:
        return False
    if op == "in":
        return value in literal  # type: ignore[operator]
    if op == "not in":
        return value not in literal  # type: ignore[operator]
    try:
        return {
            "=": lambda: value == literal,
            "!=": lambda: value != literal,
            ">": lambda: value > literal,
            ">=": lambda: value >= literal,
            "<": lambda: value < literal,
            "<=": lambda: value <= literal,
        }[op]()
    except TypeError:  # text against a number: never true, as in SQL try_cast
        return False


def _text(value: Any) -> str | None:
    """A property as the warehouse's JSON extraction renders it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _property_test(test: PropertyTest) -> Callable[[Any], bool]:
    values = test.value if isinstance(test.value, tuple) else (test.value,)
    if all(isinstance(v, float) for v in values):
        return lambda raw: _compare(_number(_text(raw)), test.op, test.value)
    texts = tuple(as_text(v) for v in values)
    literal = texts if isinstance(test.value, tuple) else texts[0]
    return lambda raw: _compare(_text(raw), test.op, literal)


def _counter(
    node: Did | Bought,
    items: str,
    when: str,
    match: Callable[[Mapping[str, Any]], bool],
    distinct: str | None,
) -> Check:
    days = dt.timedelta(days=node.days) if node.days is not None else None

    def check(profile: Profile, now: dt.datetime) -> bool:
        start = now - days if days is not None else None
        seen: set[Any] = set()
        n = 0
        # Rows are in time order: walk back from the newest, stop at the window.
        for item in reversed(profile.get(items) or ()):
            at = item[when]
            if start is not None and at < start:
                break
            if at >= now or not match(item):
                continue
            if distinct is None:
                n += 1
            elif item[distinct] not in seen:
                seen.add(item[distinct])
                n += 1
        if node.at_least is not None and n < node.at_least:
            return False
        return node.at_most is None or n <= node.at_most

    return check


def compile_check(node: Node) -> Check:
    """The tree as one closure; built once, called per event."""
    if isinstance(node, All):
        parts = [compile_check(p) for p in node.parts]
        return lambda p, now: all(c(p, now) for c in parts)
    if isinstance(node, Any_):
        parts = [compile_check(p) for p in node.parts]
        return lambda p, now: any(c(p, now) for c in parts)
    if isinstance(node, Not):
        inner = compile_check(node.part)
        return lambda p, now: not inner(p, now)
    if isinstance(node, Consent):
        purpose = node.purpose
        return lambda p, now: (p.get("consents") or {}).get(purpose) == "granted"
    if isinstance(node, Did):
        tests = [(t.name, _property_test(t)) for t in node.where]
        event = node.event

        def did_match(e: Mapping[str, Any]) -> bool:
            props = e.get("properties") or {}
            return e.get("event") == event and all(f(props.get(k)) for k, f in tests)

        return _counter(node, "events", "timestamp", did_match, None)
    if isinstance(node, Bought):
        tests = [(t.name, _property_test(t)) for t in node.where]

        def bought_match(line: Mapping[str, Any]) -> bool:
            return all(f(line.get(k)) for k, f in tests)

        return _counter(node, "purchases", "ordered_at", bought_match, "order_id")
    assert isinstance(node, Compare)
    op, value, target = node.op, node.value, node.target
    if isinstance(target, Affinity):
        dept = target.department.upper()
        return lambda p, now: _compare((p.get("affinity") or {}).get(dept), op, value)
    name = target.name
    return lambda p, now: _compare((p.get("fields") or {}).get(name), op, value)


class RealtimeSegment:
    """One segment version, ready to answer for any profile row.

    Args:
        name: the segment's name (for logs and answers).
        definition: its text or parsed tree; text is parsed here, once.
        version: the definition's version in ``segments_definitions``.
    """

    def __init__(self, name: str, definition: str | Node, version: int = 0) -> None:
        self.name = name
        self.version = version
        self.node = parse(definition) if isinstance(definition, str) else definition
        self._check = compile_check(self.node)

    def matches(self, profile: Profile, now: dt.datetime) -> bool:
        """Whether the customer of ``profile`` is a member at ``now`` (naive UTC)."""
        return self._check(profile, now)

    def __repr__(self) -> str:
        return f"RealtimeSegment({self.name!r}, version={self.version})"
