"""The holdout rule: a customer's membership of a campaign's holdout, by hash.

A customer is held out of campaign ``c`` when the first eight hex digits of
SHA-256(``"c:customer_id"``), read as a number ``h`` in ``[0, 16**8)``, fall
below ``round(share * 16**8)``. Three properties follow:

- reproducible: no random state, so a rebuild (or an auditor) gets the same
  assignment from the ids alone;
- independent across campaigns: the campaign id is part of the hashed text, so
  being held out of one campaign says nothing about another;
- engine-identical: both engines render SHA-256 as lowercase hex, and for
  fixed-width lowercase hex the string order *is* the numeric order, so the
  comparison ``digest8 < threshold_hex`` needs no hex-to-integer function
  (Ibis has none that compiles on both engines).

It lives with the offers because deciding who may get an offer needs it
first (the real-time decision never offers a campaign's coupon to its held-out
members); measurement, a later stage, reads the same rule back.
"""

from __future__ import annotations

import hashlib

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import InvalidInput

__all__ = [
    "HASH_DIGITS",
    "RULE",
    "holdout_expr",
    "holdout_threshold",
    "holdout_unit",
    "in_holdout",
]

HASH_DIGITS = 8
"""Hex digits of the digest used: 2**32 buckets, finer than any share we use."""
_BUCKETS = 16**HASH_DIGITS
RULE = f"sha256('<campaign_id>:<customer_id>')[:{HASH_DIGITS}] < share"
"""The rule as recorded beside each assignment, for auditors."""


def holdout_threshold(share: float) -> int:
    """The bucket count below which a customer is held out; refuses a bad share."""
    if not 0.0 <= share < 1.0:
        raise InvalidInput(f"holdout share must be in [0, 1), got {share}")
    return round(share * _BUCKETS)


def _digest(campaign_id: str, customer_id: str) -> str:
    text = f"{campaign_id}:{customer_id}".encode()
    return hashlib.sha256(text).hexdigest()[:HASH_DIGITS]


def holdout_unit(customer_id: str, campaign_id: str) -> float:
    """The customer's uniform draw in [0, 1) for this campaign."""
    return int(_digest(campaign_id, customer_id), 16) / _BUCKETS


def in_holdout(customer_id: str, campaign_id: str, share: float) -> bool:
    """Whether the customer is held out of the campaign at this share."""
    return int(_digest(campaign_id, customer_id), 16) < holdout_threshold(share)


def holdout_expr(
    customer_id: ir.StringValue, campaign_id: ir.StringValue | str, share: float
) -> ir.BooleanValue:
    """:func:`in_holdout` as an Ibis expression, for any engine."""
    campaign = (
        ibis.literal(campaign_id) if isinstance(campaign_id, str) else campaign_id
    )
    digest = (campaign + ":" + customer_id).hexdigest("sha256").substr(0, HASH_DIGITS)
    return digest < ibis.literal(format(holdout_threshold(share), f"0{HASH_DIGITS}x"))
