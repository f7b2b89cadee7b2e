"""Understand: per-customer profile features, computed as of a date."""

from __future__ import annotations

from shopkeeper.profiles.build import STAGE
from shopkeeper.profiles.departments import top_departments, with_department
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import SEGMENTS, rfm

__all__ = [
    "SEGMENTS",
    "STAGE",
    "baskets",
    "default_as_of",
    "purchase_lines",
    "rfm",
    "top_departments",
    "with_department",
]
