"""Activation: getting decisions to customers through the channels they use.

Connectors: a webhook outbox for e-mail, SMS and push providers (signed,
retried, idempotent, dead-lettered), POS coupon files per store and day, and
store-staff lists of expected shoppers. Every connector checks consent.
"""

from shopkeeper.activate.consent import (
    CHANNEL_PURPOSE,
    ConsentCheck,
    WarehouseConsent,
    consent_status,
    purpose_for,
)
from shopkeeper.activate.endpoints import Endpoint, load_endpoints, parse_endpoints
from shopkeeper.activate.outbox import (
    MAX_PAYLOAD_BYTES,
    OUTBOX_FILE,
    STATUSES,
    Message,
    Outbox,
)
from shopkeeper.activate.pos import (
    POS_COLUMNS,
    PosFiles,
    coupon_loads,
    preferred_stores,
    write_pos_files,
)
from shopkeeper.activate.signing import SIGNATURE_HEADER, sign, verify
from shopkeeper.activate.staff import (
    ExpectedShopper,
    expected_visits,
    staff_list,
    write_staff_list,
)
from shopkeeper.activate.webhooks import (
    DeliveryReport,
    WebhookWorker,
    backoff,
    deliver_due,
    envelope,
)

__all__ = [
    "CHANNEL_PURPOSE",
    "MAX_PAYLOAD_BYTES",
    "OUTBOX_FILE",
    "POS_COLUMNS",
    "SIGNATURE_HEADER",
    "STATUSES",
    "ConsentCheck",
    "DeliveryReport",
    "Endpoint",
    "ExpectedShopper",
    "Message",
    "Outbox",
    "PosFiles",
    "WarehouseConsent",
    "WebhookWorker",
    "backoff",
    "consent_status",
    "coupon_loads",
    "deliver_due",
    "envelope",
    "expected_visits",
    "load_endpoints",
    "parse_endpoints",
    "preferred_stores",
    "purpose_for",
    "sign",
    "staff_list",
    "verify",
    "write_pos_files",
    "write_staff_list",
]
