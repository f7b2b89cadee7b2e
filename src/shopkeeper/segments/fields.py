"""The profile fields a segment may test, and which table holds each.

A whitelist rather than "any column": a typo must fail when the segment is
created (with a suggestion), not silently match nobody at build time, and the
real-time evaluator must know every field it will be asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BOUGHT_PROPERTIES", "FIELDS", "Field", "PROFILE_TABLES"]

Kind = Literal["number", "text"]


@dataclass(frozen=True)
class Field:
    """One testable field: its source table and column, and its kind of value."""

    name: str
    table: str
    column: str
    kind: Kind
    doc: str


def _fields(table: str, kind: Kind, spec: str) -> list[Field]:
    """Fields from ``name doc`` lines; the column is the name."""
    out = []
    for line in spec.strip().splitlines():
        name, doc = line.split(None, 1)
        out.append(Field(name, table, name, kind, doc))
    return out


_ALL = [
    *_fields(
        "profiles_rfm",
        "number",
        """
recency_days days since the last purchase
frequency purchases (baskets) before the as-of date
monetary total spend
avg_basket_value mean spend per basket
avg_basket_items mean distinct products per basket
r_score recency score, higher is more recent
f_score frequency score
m_score monetary score
""",
    ),
    *_fields(
        "profiles_rfm",
        "text",
        """
rfm_code the three scores as text, e.g. 555
rfm_segment the named RFM segment, e.g. Champions
""",
    ),
    *_fields(
        "profiles_clv",
        "number",
        """
clv_52w discounted 52-week customer lifetime value
expected_purchases_52w purchases expected in the next 52 weeks
p_alive probability the customer is still active
expected_avg_spend expected spend per purchase
avg_repeat_spend mean spend per repeat purchase day
recency_weeks weeks from the first to the last purchase
age_weeks weeks from the first purchase to the as-of date
""",
    ),
    *_fields(
        "profiles_features",
        "number",
        """
trips shopping trips
avg_basket_units mean units per basket
trip_cadence_days mean days between trips
promo_share share of spend on promotion
coupon_share share of trips with a coupon
private_label_share private-label share of spend
preferred_store_share share of trips at the preferred store
preferred_channel_share share of trips in the preferred channel
favourite_day favourite day of week (0 = Monday)
favourite_day_share share of trips on the favourite day
favourite_part_of_day_share share of trips in the favourite part of day
top_department_share top department's share of spend
top_department_index top department's index against the population
""",
    ),
    *_fields(
        "profiles_features",
        "text",
        """
preferred_store the store with most trips
preferred_channel store or online, by trips
favourite_part_of_day morning, afternoon, evening or night
top_department the department with most spend
""",
    ),
    *_fields(
        "profiles_promotions",
        "number",
        """
display_share share of spend on items on in-store display that week
display_index display share against the population's (above 1 = more)
mailer_share share of spend on items in that week's mailer
mailer_index mailer share against the population's
featured_share share of spend on items on display or in the mailer
featured_index featured share against the population's
""",
    ),
    *_fields(
        "profiles_churn",
        "number",
        """
churn_risk probability of no purchase in the next 8 weeks (LightGBM)
""",
    ),
    *_fields(
        "households",
        "text",
        """
age_band the household's age band, e.g. 45-54
income_band the household's income band, e.g. 50-74K
home_ownership e.g. Homeowner
marital_status e.g. Married
household_size e.g. 2 or 5+
household_composition e.g. 2 Adults Kids
kids_count e.g. 0 or 3+
""",
    ),
]

FIELDS: dict[str, Field] = {f.name: f for f in _ALL}
"""Every profile field a segment may compare, by name."""

PROFILE_TABLES = (
    "profiles_rfm",
    "profiles_clv",
    "profiles_features",
    "profiles_promotions",
    "profiles_churn",
)
"""Per-customer tables joined on customer_id (households join on household_id)."""

BOUGHT_PROPERTIES: dict[str, str] = {
    "department": "products",
    "category": "products",
    "product_type": "products",
    "brand_type": "products",
    "manufacturer_id": "products",
    "product_id": "order_lines",
    "channel": "orders",
    "store_id": "orders",
}
"""What a ``bought`` condition may test, and the table each comes from."""
