"""A decision's items as one durable log record of exposures.

The decide API and the store-zone trigger log what they showed the same way:
one record of kind ``exposure`` in the event log, which the loader moves into
the warehouse ``exposures`` table with its propensities and reasons.
"""

from __future__ import annotations

import time

import orjson

from shopkeeper.collect.logscrub import EXPOSURE_KIND
from shopkeeper.collect.messages import write_record
from shopkeeper.decide.decisions import Decision, exposure_id

__all__ = ["exposure_record"]


def exposure_record(decision: Decision, identifier: str | None) -> bytes:
    now = time.time_ns() // 1000
    who = decision.customer_id or identifier
    rows = [
        {
            "exposure_id": exposure_id(decision.decision_id, item["item_id"]),
            "decision_id": decision.decision_id,
            "identifier": who,
            "channel": decision.channel,
            "placement": decision.placement,
            "item_type": item["item_type"],
            "item_id": item["item_id"],
            "rank": item["rank"],
            "policy": decision.policy,
            "propensity": item["propensity"],
            "reason": item["reason"],
            "exposed_at": now,
            # For off-policy evaluation (loaded where the table has them):
            # the uniform policy's support and the pre-policy order.
            "candidates": decision.candidates,
            "base_rank": item.get("base_rank"),
        }
        for item in decision.items
    ]
    header = {"kind": EXPOSURE_KIND, "received_at": now, "source_id": "decide"}
    return write_record(header, orjson.dumps(rows))
