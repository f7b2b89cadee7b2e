"""Recording a consent decision made through the API into the ledger.

The ledger is append-only: a change is a new row, never an update, so the
history of who allowed what, when and on which evidence stays auditable. The
current state is always derived (latest row per purpose).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyarrow as pa

from shopkeeper import model
from shopkeeper.collect.consent_events import check_consent
from shopkeeper.errors import BadRequest
from shopkeeper.warehouse import Warehouse

__all__ = ["record_consent"]


def record_consent(
    wh: Warehouse,
    subject: str,
    purpose: str,
    status: str,
    *,
    source: str,
    evidence: str | None = None,
    at: datetime | None = None,
) -> str:
    """Append one decision for a typed identifier; returns its consent_id."""
    if ":" not in subject or subject.startswith(":") or subject.endswith(":"):
        raise BadRequest(
            f"consents are recorded for a typed identifier (user:42, "
            f"email:<hash>, household:7), not {subject!r}"
        )
    try:
        check_consent({"purpose": purpose, "status": status})
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    when = (at or datetime.now(UTC)).replace(tzinfo=None)
    consent_id = hashlib.sha256(
        "|".join((subject, purpose, status, source, when.isoformat())).encode()
    ).hexdigest()
    row = {
        "consent_id": consent_id,
        "subject": subject,
        "purpose": purpose,
        "status": status,
        "source": source,
        "recorded_at": when,
        "evidence": evidence,
    }
    data = pa.Table.from_pylist([row], schema=model.CONSENTS.schema.to_pyarrow())
    with wh.transaction():
        wh.insert_new(model.CONSENTS, wh.stage_arrow("_tmp_consent", data))
    wh.drop_temp("_tmp_consent")
    return consent_id
