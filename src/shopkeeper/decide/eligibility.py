"""Which of a customer's exported offers may be shown today, here, to them.

The export already leaves out held-out members and coupons of campaigns the
customer is not in; this is the decision-time check, and it is the one that
must hold whatever the export did: the campaign's dates include the decision
day, the store (when one is given) is one the campaign is valid in, and the
customer is outside the campaign's holdout at its *current* share (the
holdout document the decider reads can be newer than the customer's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from shopkeeper.offers.holdout_hash import in_holdout

__all__ = ["eligible_offers", "offer_reason"]


def eligible_offers(
    offers: list[dict[str, Any]],
    customer_id: str,
    *,
    today: dt.date,
    store_id: str | None,
    shares: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The offers that pass every rule, in their exported order."""
    day = today.isoformat()
    out = []
    for offer in offers:
        if not offer["start"] <= day <= offer["end"]:
            continue
        stores = offer.get("stores")
        if store_id is not None and stores is not None and store_id not in stores:
            continue
        share = shares.get(offer["campaign_id"])
        if share and in_holdout(customer_id, offer["campaign_id"], share):
            continue
        out.append(offer)
    return out


def offer_reason(offer: dict[str, Any]) -> str:
    """The exported reason, or one built from the offer for older documents."""
    if offer.get("reason"):
        return str(offer["reason"])
    end = dt.date.fromisoformat(offer["end"])
    return (
        f"a coupon from campaign {offer['campaign_id']} you are in; "
        f"valid until {end.day} {end:%b}"
    )
