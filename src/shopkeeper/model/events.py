"""Behavioural events as the Segment spec defines them, plus our exposures and
refusals."""

from __future__ import annotations

from shopkeeper.model.schema import TableSpec

__all__ = ["EVENTS", "EXPOSURES", "OUTCOMES", "REFUSALS"]

EVENTS = TableSpec(
    name="events",
    doc=(
        "One Segment-spec message (identify, track, page, screen, group, alias) "
        "from any source. properties, traits, context and integrations are JSON text."
    ),
    columns={
        "message_id": "string",
        "type": "string",
        "event": "string",
        "user_id": "string",
        "anonymous_id": "string",
        "previous_id": "string",
        "group_id": "string",
        "name": "string",
        "timestamp": "timestamp",
        "original_timestamp": "timestamp",
        "sent_at": "timestamp",
        "received_at": "timestamp",
        "source_id": "string",
        "channel": "string",
        "properties": "string",
        "traits": "string",
        "context": "string",
        "integrations": "string",
    },
    key=("source_id", "message_id"),
    required=("type", "timestamp", "received_at", "channel"),
    subject="user_id",
    subjects={
        "user_id": ("user:",),
        "anonymous_id": ("anon:",),
        "previous_id": ("user:", "anon:"),
    },
)

EXPOSURES = TableSpec(
    name="exposures",
    doc=(
        "One item or offer shown to a person by a decision, with the propensity of "
        "the policy that chose it (for off-policy evaluation) and its reason; "
        "candidates is how many the policy chose from and base_rank the item's "
        "place in the recommender's own order (to evaluate other policies)."
    ),
    columns={
        "exposure_id": "string",
        "decision_id": "string",
        "identifier": "string",
        "channel": "string",
        "placement": "string",
        "item_type": "string",
        "item_id": "string",
        "rank": "int32",
        "policy": "string",
        "propensity": "float64",
        "reason": "string",
        "exposed_at": "timestamp",
        "candidates": "int32",
        "base_rank": "int32",
    },
    key=("exposure_id",),
    required=("decision_id", "identifier", "channel", "item_id", "exposed_at"),
    subject="identifier",
)

REFUSALS = TableSpec(
    name="refusals",
    doc=(
        "One decision refused by a limit: reason_kind is consent, quiet_hours, "
        "cap, no_candidates or other, reason the words the caller was answered "
        "with; nothing was shown, so it is not an exposure."
    ),
    columns={
        "refusal_id": "string",
        "decision_id": "string",
        "identifier": "string",
        "channel": "string",
        "placement": "string",
        "reason_kind": "string",
        "reason": "string",
        "refused_at": "timestamp",
    },
    key=("refusal_id",),
    required=("decision_id", "channel", "reason_kind", "refused_at"),
    subject="identifier",
)

OUTCOMES = TableSpec(
    name="outcomes",
    doc="What followed a decision: a click, a purchase, a redemption, with its value.",
    columns={
        "outcome_id": "string",
        "decision_id": "string",
        "identifier": "string",
        "kind": "string",
        "item_id": "string",
        "value": "float64",
        "occurred_at": "timestamp",
    },
    key=("outcome_id",),
    required=("identifier", "kind", "occurred_at"),
    subject="identifier",
)
