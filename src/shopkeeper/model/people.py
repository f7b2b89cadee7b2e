"""Customers, households, their identifiers and their consents."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = [
    "CONSENTS",
    "CUSTOMERS",
    "HOUSEHOLDS",
    "IDENTIFIERS",
    "IDENTITY_LINKS",
    "IDENTITY_MAP",
    "IDENTITY_MERGES",
    "IDENTITY_REFUSED_LINKS",
]

CUSTOMERS = TableSpec(
    name="customers",
    doc=(
        "A customer record as a source system knows it (CRM, loyalty program). "
        "E-mail and phone are held only as SHA-256 of their normalized form."
    ),
    columns={
        "customer_ref": "string",
        "household_ref": "string",
        "email_sha256": "string",
        "phone_sha256": "string",
        "loyalty_card": "string",
        "first_name": "string",
        "last_name": "string",
        "street": "string",
        "postal_code": "string",
        "birth_year": "int32",
        "date_of_birth": "date",
        "signed_up_at": "timestamp",
        "source": "string",
    },
    key=("customer_ref",),
    subject="customer_ref",
)

HOUSEHOLDS = TableSpec(
    name="households",
    doc="Demographics of a household, in the bands the source reports them.",
    columns={
        "household_id": "string",
        "age_band": "string",
        "income_band": "string",
        "home_ownership": "string",
        "marital_status": "string",
        "household_size": "string",
        "household_composition": "string",
        "kids_count": "string",
    },
    key=("household_id",),
    subject="household_id",
)

IDENTIFIERS = TableSpec(
    name="identifiers",
    doc=(
        "Every typed identifier seen anywhere (household:, user:, anon:, email:, "
        "loyalty:, ...), where it was first and last seen and in which table."
    ),
    columns={
        "identifier": "string",
        "identifier_type": "string",
        "first_seen_at": "timestamp",
        "last_seen_at": "timestamp",
        "seen_in": "string",
    },
    key=("identifier",),
    required=("identifier_type", "seen_in"),
    subject="identifier",
    stage="identity",
)

IDENTITY_MAP = TableSpec(
    name="identity_map",
    doc="Which customer and household each identifier belongs to.",
    columns={
        "identifier": "string",
        "customer_id": "string",
        "household_id": "string",
    },
    key=("identifier",),
    required=("customer_id",),
    subject="identifier",
    stage="identity",
)

_LINK_COLUMNS = {
    "identifier_a": "string",
    "identifier_b": "string",
    "rule": "string",
    "evidence_table": "string",
    "evidence_id": "string",
    "seen_at": "timestamp",
    "probability": "float64",
}
"""``probability``: the match probability of a ``probabilistic`` link; null
for deterministic rules, which are certain by construction."""
_LINK_KEY = ("identifier_a", "identifier_b", "rule", "evidence_table", "evidence_id")

IDENTITY_LINKS = TableSpec(
    name="identity_links",
    doc=(
        "One piece of evidence that two identifiers are the same person, kept by "
        "the graph: the rule that made it (identify, alias, external_id, ...), "
        "the table and row it came from and when it was seen."
    ),
    columns=_LINK_COLUMNS,
    key=_LINK_KEY,
    subject="identifier_a",
    subjects={"identifier_b": ("",)},
    stage="identity",
)

IDENTITY_REFUSED_LINKS = TableSpec(
    name="identity_refused_links",
    doc=(
        "Evidence the graph refused, with the reason: a blocked value (null, "
        "test e-mail, ...) or a per-customer identifier limit (shared device)."
    ),
    columns={**_LINK_COLUMNS, "reason": "string"},
    key=_LINK_KEY,
    required=("reason",),
    subject="identifier_a",
    subjects={"identifier_b": ("",)},
    stage="identity",
)

IDENTITY_MERGES = TableSpec(
    name="identity_merges",
    doc=(
        "Append-only log of customers merged by a rebuild: the old customer_id "
        "now lives on as new_customer_id, so downstream tables can follow it."
    ),
    columns={
        "old_customer_id": "string",
        "new_customer_id": "string",
        "merged_at": "timestamp",
    },
    key=("old_customer_id", "new_customer_id"),
    required=("merged_at",),
    subject="old_customer_id",
    subjects={"new_customer_id": ("",)},
    stage="identity",
)

CONSENTS = TableSpec(
    name="consents",
    doc=(
        "Append-only consent ledger: a subject's status for a purpose, from a "
        "source, at a time, with evidence. The current state is the latest row."
    ),
    columns={
        "consent_id": "string",
        "subject": "string",
        "purpose": "string",
        "status": "string",
        "source": "string",
        "recorded_at": "timestamp",
        "evidence": "string",
    },
    key=("consent_id",),
    required=("subject", "purpose", "status", "source", "recorded_at"),
    subject="subject",
)
