"""What the retailer sells and where: catalog, stores, orders and promotions."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["ORDERS", "ORDER_LINES", "PRODUCTS", "PROMOTIONS", "STORES"]

PRODUCTS = TableSpec(
    name="products",
    doc="One product of the catalog; brand_type is 'national' or 'private' label.",
    columns={
        "product_id": "string",
        "manufacturer_id": "string",
        "department": "string",
        "category": "string",
        "product_type": "string",
        "brand_type": "string",
        "package_size": "string",
        "name": "string",
    },
    key=("product_id",),
)

STORES = TableSpec(
    name="stores",
    doc="One physical store (or 'online'); location, when known, feeds geofencing.",
    columns={
        "store_id": "string",
        "name": "string",
        "city": "string",
        "postal_code": "string",
        "latitude": "float64",
        "longitude": "float64",
    },
    key=("store_id",),
)

ORDERS = TableSpec(
    name="orders",
    doc=(
        "One basket: a store visit or an online order, by whoever the identifier "
        "names (a household, loyalty card, user). channel is 'store' or 'online'."
    ),
    columns={
        "order_id": "string",
        "identifier": "string",
        "channel": "string",
        "store_id": "string",
        "ordered_at": "timestamp",
        "week": "int32",
        "currency": "string",
    },
    key=("order_id",),
    required=("identifier", "channel", "ordered_at", "currency"),
    subject="identifier",
)

ORDER_LINES = TableSpec(
    name="order_lines",
    doc=(
        "One product in a basket. sales_value is what the retailer received; the "
        "discounts are amounts saved (>= 0) by retail price cuts, coupons and "
        "manufacturer coupon matching."
    ),
    columns={
        "order_id": "string",
        "product_id": "string",
        "quantity": "int64",
        "sales_value": "float64",
        "retail_discount": "float64",
        "coupon_discount": "float64",
        "coupon_match_discount": "float64",
    },
    key=("order_id", "product_id"),
    subject_via=("orders", "order_id"),
    required=("quantity", "sales_value"),
)

PROMOTIONS = TableSpec(
    name="promotions",
    doc=(
        "A product on in-store display and/or in the weekly mailer at one store in "
        "one week. Location codes are the retailer's ('0' = not on display/mailer)."
    ),
    columns={
        "product_id": "string",
        "store_id": "string",
        "week": "int32",
        "display_location": "string",
        "mailer_location": "string",
    },
    key=("product_id", "store_id", "week", "display_location", "mailer_location"),
)
