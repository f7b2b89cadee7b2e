"""Understand: per-customer profile features, computed as of a date."""

from __future__ import annotations

from shopkeeper.profiles.build import STAGE
from shopkeeper.profiles.clv import (
    BGNBD,
    GammaGamma,
    fit_bgnbd,
    fit_gamma_gamma,
)
from shopkeeper.profiles.departments import top_departments, with_department
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import SEGMENTS, rfm

__all__ = [
    "BGNBD",
    "SEGMENTS",
    "STAGE",
    "GammaGamma",
    "baskets",
    "default_as_of",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "purchase_lines",
    "rfm",
    "top_departments",
    "with_department",
]
