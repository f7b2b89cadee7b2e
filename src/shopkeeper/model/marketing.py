"""Campaigns, who they reached, and the coupons they carried."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = [
    "CAMPAIGNS",
    "CAMPAIGN_MEMBERS",
    "CAMPAIGN_STORES",
    "COUPONS",
    "COUPON_REDEMPTIONS",
]

CAMPAIGNS = TableSpec(
    name="campaigns",
    doc="One marketing campaign with its type and the days it ran.",
    columns={
        "campaign_id": "string",
        "name": "string",
        "campaign_type": "string",
        "channel": "string",
        "start_date": "date",
        "end_date": "date",
    },
    key=("campaign_id",),
)

CAMPAIGN_MEMBERS = TableSpec(
    name="campaign_members",
    doc=(
        "A person or household a campaign targeted; member_group is 'treatment' "
        "or 'holdout' (held back on purpose to measure lift)."
    ),
    columns={
        "campaign_id": "string",
        "identifier": "string",
        "member_group": "string",
    },
    key=("campaign_id", "identifier"),
    required=("member_group",),
    subject="identifier",
)

COUPONS = TableSpec(
    name="coupons",
    doc="A coupon (by UPC) of a campaign and one product it can be redeemed on.",
    columns={
        "coupon_upc": "string",
        "product_id": "string",
        "campaign_id": "string",
    },
    key=("coupon_upc", "product_id", "campaign_id"),
)

COUPON_REDEMPTIONS = TableSpec(
    name="coupon_redemptions",
    doc="A coupon of a campaign redeemed by someone on a day.",
    columns={
        "identifier": "string",
        "coupon_upc": "string",
        "campaign_id": "string",
        "redeemed_on": "date",
    },
    key=("identifier", "coupon_upc", "campaign_id", "redeemed_on"),
    subject="identifier",
)

CAMPAIGN_STORES = TableSpec(
    name="campaign_stores",
    doc=(
        "A store a campaign's coupons are valid in. A campaign with no rows here is "
        "valid in every store (The Complete Journey restricts none)."
    ),
    columns={
        "campaign_id": "string",
        "store_id": "string",
    },
    key=("campaign_id", "store_id"),
)
