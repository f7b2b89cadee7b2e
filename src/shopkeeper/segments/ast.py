"""The parsed form of a segment definition: small frozen dataclasses.

Batch compilation (Ibis) and real-time evaluation (pure Python) both walk this
tree, so the two can only disagree about what a node means, never about how
the text was read.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Affinity",
    "All",
    "Any_",
    "Bought",
    "Compare",
    "Consent",
    "Did",
    "Literal",
    "Node",
    "Not",
    "ProfileField",
    "PropertyTest",
    "walk",
]

Literal = str | float | bool
"""A constant in a definition: numbers are read as floats."""


@dataclass(frozen=True)
class ProfileField:
    """A column of the profile (see ``fields.FIELDS``)."""

    name: str


@dataclass(frozen=True)
class Affinity:
    """``affinity.department["X"]``: the customer's share of spend in X over
    the population's share (1 = like everyone, above 1 = over-index)."""

    department: str


@dataclass(frozen=True)
class Compare:
    """``target op value``; ``op`` is one of = != > >= < <= in (a tuple)."""

    target: ProfileField | Affinity
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Consent:
    """``consent.<purpose>``: the current ledger status is ``granted``."""

    purpose: str


@dataclass(frozen=True)
class PropertyTest:
    """One ``name op value`` test on an event property or a bought product."""

    name: str
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Did:
    """Tracked event ``event`` matching ``where``, counted in a window."""

    event: str
    where: tuple[PropertyTest, ...]
    at_least: int | None
    at_most: int | None
    days: int | None


@dataclass(frozen=True)
class Bought:
    """Orders with a line matching ``where``, counted in a window."""

    where: tuple[PropertyTest, ...]
    at_least: int | None
    at_most: int | None
    days: int | None


@dataclass(frozen=True)
class Not:
    part: Node


@dataclass(frozen=True)
class All:
    """Every part holds (``and``)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    """At least one part holds (``or``)."""

    parts: tuple[Node, ...]


Node = Compare | Consent | Did | Bought | Not | All | Any_


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    out: list[Node] = [node]
    if isinstance(node, Not):
        out += walk(node.part)
    elif isinstance(node, All | Any_):
        for part in node.parts:
            out += walk(part)
    return out
