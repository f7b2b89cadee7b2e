"""The canonical schema: one declaration per warehouse table."""

from __future__ import annotations

from shopkeeper.model.commerce import ORDER_LINES, ORDERS, PRODUCTS, PROMOTIONS, STORES
from shopkeeper.model.events import EVENTS, EXPOSURES, OUTCOMES, REFUSALS
from shopkeeper.model.marketing import (
    CAMPAIGN_MEMBERS,
    CAMPAIGN_STORES,
    CAMPAIGNS,
    COUPON_REDEMPTIONS,
    COUPONS,
)
from shopkeeper.model.measure import MEASURE_HOLDOUTS
from shopkeeper.model.offers import (
    OFFERS_PLAN_OFFERS,
    OFFERS_PLANS,
    OFFERS_POLICY_VALUES,
    OFFERS_UPLIFT_CURVES,
    OFFERS_UPLIFT_RUNS,
)
from shopkeeper.model.people import (
    CONSENTS,
    CUSTOMERS,
    HOUSEHOLDS,
    IDENTIFIERS,
    IDENTITY_LINKS,
    IDENTITY_MAP,
    IDENTITY_MERGES,
    IDENTITY_REFUSED_LINKS,
)
from shopkeeper.model.profiles import (
    PROFILES_AFFINITIES,
    PROFILES_CHURN,
    PROFILES_CLV,
    PROFILES_DEMOGRAPHICS,
    PROFILES_DEPARTMENTS,
    PROFILES_FEATURES,
    PROFILES_LIFE_STAGE,
    PROFILES_PROMOTIONS,
    PROFILES_RFM,
)
from shopkeeper.model.recommend import (
    COMPLEMENTS,
    DISCOVERIES,
    RECOMMEND_PERSONAL_TOP,
    RECOMMENDATIONS,
)
from shopkeeper.model.schema import TableSpec
from shopkeeper.model.segments import (
    INSIGHTS_RULES,
    SEGMENTS_DEFINITIONS,
    SEGMENTS_MEMBERS,
)

__all__ = [
    "CAMPAIGNS",
    "CAMPAIGN_MEMBERS",
    "CAMPAIGN_STORES",
    "COMPLEMENTS",
    "CONSENTS",
    "DISCOVERIES",
    "COUPONS",
    "COUPON_REDEMPTIONS",
    "CUSTOMERS",
    "EVENTS",
    "EXPOSURES",
    "HOUSEHOLDS",
    "IDENTIFIERS",
    "IDENTITY_LINKS",
    "IDENTITY_MAP",
    "IDENTITY_MERGES",
    "IDENTITY_REFUSED_LINKS",
    "INSIGHTS_RULES",
    "MEASURE_HOLDOUTS",
    "OFFERS_PLANS",
    "OFFERS_PLAN_OFFERS",
    "OFFERS_POLICY_VALUES",
    "OFFERS_UPLIFT_CURVES",
    "OFFERS_UPLIFT_RUNS",
    "ORDERS",
    "ORDER_LINES",
    "OUTCOMES",
    "PRODUCTS",
    "PROFILES_AFFINITIES",
    "PROFILES_CHURN",
    "PROFILES_CLV",
    "PROFILES_DEMOGRAPHICS",
    "PROFILES_DEPARTMENTS",
    "PROFILES_FEATURES",
    "PROFILES_LIFE_STAGE",
    "PROFILES_PROMOTIONS",
    "PROFILES_RFM",
    "PROMOTIONS",
    "RECOMMENDATIONS",
    "RECOMMEND_PERSONAL_TOP",
    "REFUSALS",
    "SEGMENTS_DEFINITIONS",
    "SEGMENTS_MEMBERS",
    "STORES",
    "TABLES",
    "TableSpec",
    "spec",
]

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        EVENTS,
        CUSTOMERS,
        HOUSEHOLDS,
        PRODUCTS,
        STORES,
        ORDERS,
        ORDER_LINES,
        PROMOTIONS,
        CAMPAIGNS,
        CAMPAIGN_MEMBERS,
        CAMPAIGN_STORES,
        COUPONS,
        COUPON_REDEMPTIONS,
        EXPOSURES,
        OUTCOMES,
        REFUSALS,
        CONSENTS,
        IDENTIFIERS,
        IDENTITY_MAP,
        IDENTITY_LINKS,
        IDENTITY_REFUSED_LINKS,
        IDENTITY_MERGES,
        PROFILES_RFM,
        PROFILES_DEPARTMENTS,
        PROFILES_CLV,
        PROFILES_FEATURES,
        PROFILES_AFFINITIES,
        PROFILES_PROMOTIONS,
        PROFILES_LIFE_STAGE,
        PROFILES_DEMOGRAPHICS,
        PROFILES_CHURN,
        RECOMMEND_PERSONAL_TOP,
        RECOMMENDATIONS,
        DISCOVERIES,
        COMPLEMENTS,
        MEASURE_HOLDOUTS,
        OFFERS_UPLIFT_RUNS,
        OFFERS_UPLIFT_CURVES,
        OFFERS_POLICY_VALUES,
        OFFERS_PLANS,
        OFFERS_PLAN_OFFERS,
        SEGMENTS_DEFINITIONS,
        SEGMENTS_MEMBERS,
        INSIGHTS_RULES,
    )
}
"""Every table Shopkeeper knows, by name; the warehouse creates them from here."""


def spec(name: str) -> TableSpec:
    """The declaration of table ``name``; KeyError names the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {sorted(TABLES)}") from None
