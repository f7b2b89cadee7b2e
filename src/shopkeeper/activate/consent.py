"""Consent as activation reads it: the current status per customer and purpose.

Every connector asks the same question ("may this customer be reached on this
purpose now?"), so the answer is computed in one place from the append-only
``consents`` ledger: the latest row per (customer, purpose) across all of the
customer's identifiers, as the customer 360 shows it.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import BadRequest
from shopkeeper.warehouse import Warehouse

__all__ = [
    "CHANNEL_PURPOSE",
    "ConsentCheck",
    "WarehouseConsent",
    "consent_status",
    "purpose_for",
]

CHANNEL_PURPOSE = {"email": "email", "sms": "sms", "push": "push"}
"""The consent purpose each outbox channel needs: marketing on a channel is
allowed only with that channel's own opt-in."""

ConsentCheck = Callable[[str, str], bool]
"""``consent(customer_id, purpose) -> bool``: True only when it is granted."""


def purpose_for(channel: str) -> str:
    """The consent purpose a message on ``channel`` needs."""
    try:
        return CHANNEL_PURPOSE[channel]
    except KeyError:
        raise BadRequest(
            f"unknown channel {channel!r}; channels are {', '.join(CHANNEL_PURPOSE)}"
        ) from None


def consent_status(wh: Warehouse, customer_id: str | None = None) -> ir.Table | None:
    """(customer_id, purpose, status): the latest ledger row per customer and
    purpose, or None when the warehouse holds no consent ledger at all.

    ``customer_id`` narrows the identity map first, so the one-customer check
    the outbox makes reads only that customer's rows. Ties on ``recorded_at``
    are broken by ``consent_id`` so two builds give the same answer.
    """
    if not wh.exists("consents"):
        return None
    ledger = wh.table("consents")
    idmap = wh.table("identity_map")
    if customer_id is not None:
        idmap = idmap.filter(idmap.customer_id == customer_id)
    rows = ledger.join(idmap, ledger.subject == idmap.identifier).select(
        "customer_id", "purpose", "status", "recorded_at", "consent_id"
    )
    latest = rows.mutate(
        _n=ibis.row_number().over(
            group_by=["customer_id", "purpose"],
            order_by=[ibis.desc("recorded_at"), ibis.desc("consent_id")],
        )
    )
    return latest.filter(latest._n == 0).select("customer_id", "purpose", "status")


class WarehouseConsent:
    """A ``ConsentCheck`` that asks the warehouse's ledger on every call.

    It deliberately keeps no cache: the outbox calls it again just before
    sending, and a revocation recorded a second ago must already count. Only
    ``granted`` allows: no row, ``denied`` and ``revoked`` all refuse, because
    e-mail, SMS and push marketing need an opt-in. It runs a query on the
    warehouse's one connection, so give each thread its own (the server's
    decide path would rather pass a check over its online store).
    """

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def __call__(self, customer_id: str, purpose: str) -> bool:
        current = consent_status(self.wh, customer_id)
        if current is None:
            return False
        mine = current.filter(current.purpose == purpose)
        statuses = self.wh.execute(mine.status)
        return len(statuses) == 1 and statuses.iloc[0] == "granted"
