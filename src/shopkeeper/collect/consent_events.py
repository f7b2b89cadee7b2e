"""``Consent Updated`` events: consent changes that arrive through tracking.

A website's cookie banner or an app's settings screen already sends events;
a ``track`` named ``Consent Updated`` with ``properties.purpose`` and
``properties.status`` (and optionally ``evidence``) is a consent change. It is
checked at the edge like every message (a typo'd purpose is a 400, not a
silently ignored row), and the loader appends it to the ``consents`` ledger in
the same transaction as the event itself, keyed by the event, so a replayed
log adds nothing twice.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.warehouse.jsontext import json_text

__all__ = ["CONSENT_EVENT", "STATUSES", "check_consent", "consent_rows"]

CONSENT_EVENT = "Consent Updated"
STATUSES = ("granted", "denied", "revoked")


def check_consent(properties: dict[str, Any] | None) -> None:
    """Raise ValueError naming the problem if a consent event is malformed."""
    props = properties or {}
    purpose, status = props.get("purpose"), props.get("status")
    if purpose not in PURPOSES:
        raise ValueError(
            f"{CONSENT_EVENT} needs properties.purpose, one of {', '.join(PURPOSES)}"
        )
    if status not in STATUSES:
        raise ValueError(
            f"{CONSENT_EVENT} needs properties.status, one of {', '.join(STATUSES)}"
        )


def consent_rows(events: ir.Table) -> ir.Table:
    """``consents`` rows for the consent events among ``events`` rows."""
    e = events.filter((events.type == "track") & (events.event == CONSENT_EVENT))
    subject = e.user_id.notnull().ifelse(
        ibis.literal("user:") + e.user_id, ibis.literal("anon:") + e.anonymous_id
    )
    return e.select(
        consent_id=ibis.literal("event:") + e.source_id + "/" + e.message_id,
        subject=subject,
        purpose=json_text(e.properties, "purpose"),
        status=json_text(e.properties, "status"),
        source=ibis.literal("event:") + e.source_id,
        recorded_at=e.timestamp,
        evidence=json_text(e.properties, "evidence").coalesce(e.message_id),
    )
