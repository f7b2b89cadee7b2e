"""Tables the profiles stage writes."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = [
    "PROFILES_AFFINITIES",
    "PROFILES_CHURN",
    "PROFILES_CLV",
    "PROFILES_DEMOGRAPHICS",
    "PROFILES_DEPARTMENTS",
    "PROFILES_FEATURES",
    "PROFILES_LIFE_STAGE",
    "PROFILES_PROMOTIONS",
    "PROFILES_RFM",
]

PROFILES_RFM = TableSpec(
    name="profiles_rfm",
    doc=(
        "Per customer, as of a date: first and last purchase, frequency (baskets), "
        "monetary value, basket averages, recency, quantile R/F/M scores "
        "(higher is better) and the named RFM segment."
    ),
    columns={
        "customer_id": "string",
        "household_id": "string",
        "as_of": "date",
        "first_purchase_at": "timestamp",
        "last_purchase_at": "timestamp",
        "recency_days": "int64",
        "frequency": "int64",
        "monetary": "float64",
        "avg_basket_value": "float64",
        "avg_basket_items": "float64",
        "r_score": "int32",
        "f_score": "int32",
        "m_score": "int32",
        "rfm_code": "string",
        "rfm_segment": "string",
    },
    key=("customer_id",),
    required=("as_of", "frequency", "monetary"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_DEPARTMENTS = TableSpec(
    name="profiles_departments",
    doc="A customer's top departments by spend, with the share of their spend.",
    columns={
        "customer_id": "string",
        "rank": "int32",
        "department": "string",
        "spend": "float64",
        "share": "float64",
    },
    key=("customer_id", "rank"),
    required=("department", "spend", "share"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_CLV = TableSpec(
    name="profiles_clv",
    doc=(
        "Per customer, as of a date: the BG/NBD and Gamma-Gamma inputs (repeat "
        "purchase days, weeks from the first to the last purchase and to the end "
        "of the period, mean spend per repeat day) and what the fitted models "
        "predict: purchases in the next 52 weeks, P(alive), spend per purchase and "
        "the discounted 52-week CLV (null when the data was too small to fit)."
    ),
    columns={
        "customer_id": "string",
        "household_id": "string",
        "as_of": "date",
        "frequency": "int64",
        "recency_weeks": "float64",
        "age_weeks": "float64",
        "avg_repeat_spend": "float64",
        "expected_purchases_52w": "float64",
        "p_alive": "float64",
        "expected_avg_spend": "float64",
        "clv_52w": "float64",
    },
    key=("customer_id",),
    required=("as_of", "frequency", "recency_weeks", "age_weeks"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_FEATURES = TableSpec(
    name="profiles_features",
    doc=(
        "Per customer, as of a date: how they shop. Trips, average basket value "
        "and units, mean days between trips; share of spend on promotion (retail "
        "or coupon discount), share of trips with a coupon, private-label share of "
        "spend; the store and channel with most trips, the favourite day of week "
        "(0 = Monday) and part of day by trips, each with its share of trips; the "
        "top department by spend, its share of wallet and its index against the "
        "population's share (above 1 = over-index)."
    ),
    columns={
        "customer_id": "string",
        "household_id": "string",
        "as_of": "date",
        "trips": "int64",
        "avg_basket_value": "float64",
        "avg_basket_units": "float64",
        "trip_cadence_days": "float64",
        "promo_share": "float64",
        "coupon_share": "float64",
        "private_label_share": "float64",
        "preferred_store": "string",
        "preferred_store_share": "float64",
        "preferred_channel": "string",
        "preferred_channel_share": "float64",
        "favourite_day": "int32",
        "favourite_day_share": "float64",
        "favourite_part_of_day": "string",
        "favourite_part_of_day_share": "float64",
        "top_department": "string",
        "top_department_share": "float64",
        "top_department_index": "float64",
    },
    key=("customer_id",),
    required=("as_of", "trips", "avg_basket_value"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_AFFINITIES = TableSpec(
    name="profiles_affinities",
    doc=(
        "Per customer, as of the profiles' date: department, category and brand "
        "(manufacturer) affinity. For each kind, the customer's top 20 keys by "
        "spend with at least 5 of spend: the spend, its share of the customer's "
        "whole spend, the population's share of all spend there, and the index "
        "(share over population share; 1.4 = 40% more of their wallet than "
        "shoppers overall)."
    ),
    columns={
        "customer_id": "string",
        "kind": "string",
        "rank": "int32",
        "key": "string",
        "spend": "float64",
        "share": "float64",
        "population_share": "float64",
        "index": "float64",
    },
    key=("customer_id", "kind", "key"),
    required=("kind", "rank", "key", "spend"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_PROMOTIONS = TableSpec(
    name="profiles_promotions",
    doc=(
        "Per customer, as of a date: response to in-store displays and the weekly "
        "mailer. The share of spend on items that were on display, in the mailer, "
        "or either (featured) at the basket's store in its week, and each share's "
        "index against the population's share (above 1 = buys featured items more "
        "than shoppers overall)."
    ),
    columns={
        "customer_id": "string",
        "as_of": "date",
        "spend": "float64",
        "display_share": "float64",
        "display_index": "float64",
        "mailer_share": "float64",
        "mailer_index": "float64",
        "featured_share": "float64",
        "featured_index": "float64",
    },
    key=("customer_id",),
    required=("as_of", "spend"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_LIFE_STAGE = TableSpec(
    name="profiles_life_stage",
    doc=(
        "Per customer, as of a date: the product categories whose share of spend "
        "rose most in the 26 weeks before the date against the 26 weeks before "
        "those (up to 3, rank 1 = largest rise), with the share now, the share "
        "before and the change, and the customer's overall shift: the share of "
        "the wallet that moved between categories (total variation distance, 0 "
        "to 1). Only customers who bought in both windows have rows."
    ),
    columns={
        "customer_id": "string",
        "as_of": "date",
        "rank": "int32",
        "category": "string",
        "share_now": "float64",
        "share_before": "float64",
        "change": "float64",
        "shift": "float64",
    },
    key=("customer_id", "rank"),
    required=("as_of", "category", "share_now", "share_before", "change", "shift"),
    subject="customer_id",
    stage="profiles",
)

PROFILES_DEMOGRAPHICS = TableSpec(
    name="profiles_demographics",
    doc=(
        "Per customer whose household reported them: the household's demographic "
        "bands (age, income, size, composition, kids, marital status, home "
        "ownership), as the source reports them."
    ),
    columns={
        "customer_id": "string",
        "household_id": "string",
        "age_band": "string",
        "income_band": "string",
        "household_size": "string",
        "household_composition": "string",
        "kids_count": "string",
        "marital_status": "string",
        "home_ownership": "string",
    },
    key=("customer_id",),
    subject="customer_id",
    stage="profiles",
)

PROFILES_CHURN = TableSpec(
    name="profiles_churn",
    doc=(
        "Per customer, as of a date: the probability of no purchase in the next "
        "horizon_weeks, from a LightGBM classifier on the profile features trained "
        "as of trained_as_of (the date one horizon earlier) on what happened up to "
        "as_of. Complements 1 - P(alive) in profiles_clv."
    ),
    columns={
        "customer_id": "string",
        "as_of": "date",
        "churn_risk": "float64",
        "horizon_weeks": "int32",
        "model": "string",
        "trained_as_of": "date",
    },
    key=("customer_id",),
    required=("as_of", "churn_risk", "horizon_weeks", "model"),
    subject="customer_id",
    stage="profiles",
)
