"""Learning from feedback in real time, and other updates events make.

Outcomes are ordinary tracked events that carry the ``decision_id`` they
answer (``Product Clicked``, ``Product Added``, ``Order Completed``, ``Coupon
Redeemed`` ...) and the item (``product_id``, or ``offer_id`` for an offer), so
any Segment SDK can send them. When one arrives, the collector credits the
item of that decision in its placement, once per decision and item however
often the event is retried.

Shows and clicks live in each worker's memory (:class:`ArmStats`) so the
decide path never waits for a write, and every second a worker adds its
deltas to shared counters in the online store and reads back the totals, so
all workers learn from all traffic within about a second.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shopkeeper.decide.online_rows import ALIAS, CUSTOMERS
from shopkeeper.decide.online_store import OnlineStore, merge

__all__ = ["DECISIONS", "ArmStats", "apply_consent", "apply_message", "remember"]

DECISIONS = "decision"
_DECISION_TTL = 7 * 86_400


class ArmStats:
    """Shows and clicks per (placement, item), synced with the online store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shows: dict[tuple[str, str], float] = defaultdict(float)
        self._clicks: dict[tuple[str, str], float] = defaultdict(float)
        self._pending_shows: dict[tuple[str, str], int] = defaultdict(int)
        self._pending_clicks: dict[tuple[str, str], int] = defaultdict(int)
        self._decisions: dict[str, dict[str, Any]] = {}

    def get(self, placement: str, items: list[str]) -> tuple[list[float], list[float]]:
        """Shows and clicks of each item in this placement (0 where unseen).

        No lock: each dict read is atomic, and a sync landing between the two
        reads only mixes counts a second apart. The decide path calls this on
        every request; the sync thread holds the lock for milliseconds.
        """
        shows, clicks = self._shows.get, self._clicks.get
        keys = [(placement, i) for i in items]
        return [shows(key, 0.0) for key in keys], [clicks(key, 0.0) for key in keys]

    def shown(self, placement: str, items: list[str]) -> None:
        with self._lock:
            for item in items:
                self._shows[(placement, item)] += 1
                self._pending_shows[(placement, item)] += 1

    def clicked(self, placement: str, item: str) -> None:
        with self._lock:
            self._clicks[(placement, item)] += 1
            self._pending_clicks[(placement, item)] += 1

    def sync(self, store: OnlineStore) -> int:
        """Push local deltas to the shared counters and take back the totals,
        in one transaction (or one Redis round trip) for all arms."""
        with self._lock:
            shows, self._pending_shows = self._pending_shows, defaultdict(int)
            clicks, self._pending_clicks = self._pending_clicks, defaultdict(int)
            decisions, self._decisions = self._decisions, {}
        if decisions:
            store.write_batch(DECISIONS, decisions.items(), ttl_seconds=_DECISION_TTL)
        arms = set(shows) | set(clicks)
        if not arms:
            return 0
        counts: dict[str, int] = {}
        for placement, item in arms:
            name = f"{placement}|{item}"
            counts[f"arm:shows:{name}"] = shows.get((placement, item), 0)
            counts[f"arm:clicks:{name}"] = clicks.get((placement, item), 0)
        totals = store.incr_many(counts)
        new_shows = {arm: totals[f"arm:shows:{arm[0]}|{arm[1]}"] for arm in arms}
        new_clicks = {arm: totals[f"arm:clicks:{arm[0]}|{arm[1]}"] for arm in arms}
        # The lock is held only to add what arrived locally since the swap
        # above (a few milliseconds' worth) and for two C-level updates: the
        # decide path takes it on every request.
        with self._lock:
            for fresh, pending in (
                (new_shows, self._pending_shows),
                (new_clicks, self._pending_clicks),
            ):
                for arm, extra in pending.items():
                    if arm in fresh:
                        fresh[arm] += extra
            self._shows.update(new_shows)
            self._clicks.update(new_clicks)
        return len(arms)

    def remember(self, decision_id: str, doc: dict[str, Any]) -> None:
        """Hold a decision for feedback; written to the store with the next sync."""
        with self._lock:
            self._decisions[decision_id] = doc

    def recall(self, decision_id: str) -> dict[str, Any] | None:
        """A decision this worker made and has not synced yet."""
        with self._lock:
            return self._decisions.get(decision_id)


def remember(arms: ArmStats, decision: Any) -> None:
    """Keep what a decision showed, so its outcome can be credited later.

    Nothing about the person is kept (erasure could not find it by key): the
    placement and the items. The worker's next sync writes it to the store.
    """
    if decision.items:
        arms.remember(
            decision.decision_id,
            {
                "placement": decision.placement,
                "items": [i["item_id"] for i in decision.items],
            },
        )


def _credit(store: OnlineStore, arms: ArmStats, props: Mapping[str, Any]) -> bool:
    decision_id = props.get("decision_id") or props.get("decisionId")
    if not isinstance(decision_id, str):
        return False
    decision = arms.recall(decision_id)
    if decision is None:
        (decision,) = store.read_many(DECISIONS, [decision_id])
    if not decision:
        return False
    item = (
        props.get("offer_id")
        or props.get("product_id")
        or props.get("item_id")
        or props.get("productId")
    )
    item = str(item) if item is not None else decision["items"][0]
    if item not in decision["items"]:
        return False
    # Retried events and repeated clicks credit the item once per decision.
    if store.incr(f"fb:{decision_id}:{item}", ttl_seconds=_DECISION_TTL) != 1:
        return False
    arms.clicked(decision["placement"], item)
    return True


def apply_consent(
    store: OnlineStore, identifier: str, purpose: str, status: str
) -> bool:
    """Make a consent change visible to the next decision (no rebuild needed)."""
    (alias,) = store.read_many(ALIAS, [identifier])
    if not alias:
        return False
    (doc,) = store.read_many(CUSTOMERS, [alias["customer_id"]])
    consents = dict((doc or {}).get("consents") or {})
    consents[purpose] = status
    merge(store, CUSTOMERS, alias["customer_id"], {"consents": consents})
    return True


def apply_message(
    store: OnlineStore, arms: ArmStats, message: Mapping[str, Any]
) -> None:
    """What one accepted tracking message changes in real time."""
    if message.get("type", "track") != "track":
        return
    props = message.get("properties")
    if not isinstance(props, Mapping):
        return
    if message.get("event") == "Consent Updated":
        purpose, status = props.get("purpose"), props.get("status")
        if isinstance(purpose, str) and isinstance(status, str):
            for key, prefix in (("userId", "user:"), ("anonymousId", "anon:")):
                if message.get(key):
                    apply_consent(store, prefix + str(message[key]), purpose, status)
        return
    _credit(store, arms, props)
