"""Understand: per-customer profile features, computed as of a date."""

from __future__ import annotations

from shopkeeper.profiles.affinities import affinities, affinity_lines
from shopkeeper.profiles.build import STAGE
from shopkeeper.profiles.churn import churn_risk
from shopkeeper.profiles.clv import (
    BGNBD,
    GammaGamma,
    fit_bgnbd,
    fit_gamma_gamma,
)
from shopkeeper.profiles.demographics import demographics
from shopkeeper.profiles.departments import top_departments, with_department
from shopkeeper.profiles.life_stage import life_stage
from shopkeeper.profiles.promotion_response import featured_lines, promotion_response
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import SEGMENTS, rfm

__all__ = [
    "BGNBD",
    "SEGMENTS",
    "STAGE",
    "GammaGamma",
    "affinities",
    "affinity_lines",
    "baskets",
    "churn_risk",
    "default_as_of",
    "demographics",
    "featured_lines",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "life_stage",
    "promotion_response",
    "purchase_lines",
    "rfm",
    "top_departments",
    "with_department",
]
