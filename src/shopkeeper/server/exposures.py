"""A decision's items as one durable log record of exposures, or its refusal.

The decide API and the store-zone trigger log what they showed the same way:
one record of kind ``exposure`` in the event log, which the loader moves into
the warehouse ``exposures`` table with its propensities and reasons. A refused
decision is one record of kind ``refusal`` (one row, in the ``refusals``
table), so how often each limit refuses can be counted.
"""

from __future__ import annotations

import logging
import time

import orjson

from shopkeeper.collect.eventlog import EventLog
from shopkeeper.collect.logscrub import EXPOSURE_KIND, REFUSAL_KIND
from shopkeeper.collect.messages import write_record
from shopkeeper.decide.decisions import REFUSAL_KINDS, Decision, exposure_id

__all__ = ["exposure_record", "log_decision", "refusal_record"]

log = logging.getLogger(__name__)


def log_decision(
    eventlog: EventLog, decision: Decision, identifier: str | None
) -> None:
    """Queue a decision's exposures, or its refusal, for the event log.

    Not awaited: a decision must answer in milliseconds, and a disk flush can
    take tens of them; the record is committed within the log's
    ``LAZY_FLUSH_SECONDS``, so a crash may lose the last 50 ms of exposures
    and refusals (never events). A decision that showed nothing for no
    reason logs nothing.
    """
    if decision.items:
        record = exposure_record(decision, identifier)
    elif decision.refused:
        record = refusal_record(decision, identifier)
    else:
        return
    if not eventlog.append_nowait([record]):
        log.warning("exposures or refusal not logged: the event log is full or closed")


def exposure_record(decision: Decision, identifier: str | None) -> bytes:
    now = time.time_ns() // 1000
    who = decision.customer_id or identifier
    rows = [
        {
            "exposure_id": exposure_id(decision.decision_id, item["rank"]),
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


def refusal_record(decision: Decision, identifier: str | None) -> bytes:
    """One refused decision as a log record of one row (a list, like exposures,
    so the log scrubber erases both alike)."""
    now = time.time_ns() // 1000
    kind = decision.refused_kind
    row = {
        # One refusal per decision: its id is the decision's.
        "refusal_id": "ref_" + decision.decision_id.removeprefix("dec_"),
        "decision_id": decision.decision_id,
        "identifier": decision.customer_id or identifier,
        "channel": decision.channel,
        "placement": decision.placement,
        "reason_kind": kind if kind in REFUSAL_KINDS else "other",
        "reason": decision.refused,
        "refused_at": now,
    }
    header = {"kind": REFUSAL_KIND, "received_at": now, "source_id": "decide"}
    return write_record(header, orjson.dumps([row]))
