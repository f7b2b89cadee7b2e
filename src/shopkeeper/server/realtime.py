"""The decide side of one server worker: online store, learner and updates.

Opened in the app's lifespan: the online store, the in-memory arm statistics
with the thread that syncs them with the other workers every second, the
:class:`Decider`, the webhook outbox and its worker (when endpoints are
configured), and the hook the collector calls for every accepted message:
feedback on decisions, consent changes, and the store-zone trigger.

The store-zone trigger: when an app sends ``Store Zone Entered`` (with the
``store_id``) through the collector, the worker decides a push for that
customer at once (consent, quiet hours and the daily push cap apply like for
any decision), enqueues it in the outbox under the decision's idempotency key
and wakes the webhook worker, so the push leaves within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shopkeeper.activate.endpoints import load_endpoints
from shopkeeper.activate.outbox import Outbox
from shopkeeper.activate.webhooks import WebhookWorker
from shopkeeper.collect.eventlog import EventLog
from shopkeeper.decide.decisions import Decider, Decision, DecisionRequest
from shopkeeper.decide.feedback import ArmStats, apply_message, remember
from shopkeeper.decide.online_rows import CUSTOMERS
from shopkeeper.decide.online_store import OnlineStore, open_store
from shopkeeper.server.exposures import log_decision
from shopkeeper.settings import Settings

__all__ = ["STORE_ZONE_EVENT", "Realtime", "online_store_url"]

log = logging.getLogger(__name__)

_SWEEP_SECONDS = 60.0
"""How often a worker removes expired decisions and counters from the store."""

STORE_ZONE_EVENT = "Store Zone Entered"


def online_store_url(settings: Settings) -> str:
    return (
        settings.online_store
        or f"sqlite:///{Path(settings.state_dir) / 'online.sqlite'}"
    )


class Realtime:
    def __init__(
        self,
        settings: Settings,
        *,
        outbox_path: Path | None = None,
        eventlog: EventLog | None = None,
        sync_seconds: float = 1.0,
        sweep_seconds: float = _SWEEP_SECONDS,
    ) -> None:
        self.store: OnlineStore = open_store(online_store_url(settings))
        self.arms = ArmStats()
        self.eventlog = eventlog
        self.decider = Decider(
            self.store,
            self.arms,
            daily_caps=settings.decide_daily_caps,
            quiet_hours=settings.decide_quiet_hours,
            exploration=settings.decide_exploration,
            require_opt_in=settings.decide_require_opt_in,
        )
        self.outbox: Outbox | None = None
        self.webhooks: WebhookWorker | None = None
        self.push_endpoint: str | None = None
        if settings.webhook_endpoints and outbox_path is not None:
            endpoints = load_endpoints(settings.webhook_endpoints)
            self.outbox = Outbox(outbox_path, self.granted)
            self.webhooks = WebhookWorker(
                self.outbox, endpoints, interval=settings.webhook_interval_seconds
            )
            self.webhooks.start()
            pushes = sorted(e.name for e in endpoints.values() if e.channel == "push")
            self.push_endpoint = pushes[0] if pushes else None
        self._stop = threading.Event()
        self._sync_seconds = sync_seconds
        self._sweep_seconds = sweep_seconds
        self._thread = threading.Thread(
            target=self._run, name="shopkeeper-arm-sync", daemon=True
        )
        self._thread.start()

    def granted(self, customer_id: str, purpose: str) -> bool:
        """The outbox's consent check, read from the online store (current)."""
        (doc,) = self.store.read_many(CUSTOMERS, [customer_id])
        return bool(doc) and doc.get("consents", {}).get(purpose) == "granted"

    def _run(self) -> None:
        swept = time.monotonic()
        while not self._stop.wait(self._sync_seconds):
            try:
                self.arms.sync(self.store)
                self.decider.refresh_noise()
                self.store.prune()
                if time.monotonic() - swept >= self._sweep_seconds:
                    swept = time.monotonic()
                    self.store.sweep()
            except Exception as exc:  # a sync that fails is retried next second
                log.warning("arm sync failed: %s", exc)

    def log_exposures(self, decision: Decision, identifier: str | None) -> None:
        """Log a decision made outside a request (a trigger) as exposures, or
        as a refusal when it showed nothing for a reason."""
        if self.eventlog is not None:
            log_decision(self.eventlog, decision, identifier)

    def store_zone(self, message: Mapping[str, Any]) -> Decision | None:
        """Decide and enqueue a push for a shopper who entered a store's zone."""
        if self.outbox is None or self.push_endpoint is None:
            return None
        props = message.get("properties") or {}
        user, anon = message.get("userId"), message.get("anonymousId")
        local_hour = props.get("local_hour")
        decision = self.decider.decide(
            DecisionRequest(
                channel="push",
                placement="store_zone",
                identifier=f"user:{user}" if user else None,
                anonymous_id=str(anon) if anon else None,
                limit=3,
                store_id=str(props.get("store_id") or "") or None,
                local_hour=local_hour if isinstance(local_hour, int) else None,
            )
        )
        if decision.refused:
            asked = f"user:{user}" if user else f"anon:{anon}" if anon else None
            self.log_exposures(decision, asked)
        if not decision.items or decision.customer_id is None:
            return decision
        remember(self.arms, decision)
        self.log_exposures(decision, decision.customer_id)
        names = ", ".join(i["item_id"] for i in decision.items)
        self.outbox.enqueue(
            "push",
            self.push_endpoint,
            decision.customer_id,
            {
                "decision_id": decision.decision_id,
                "store_id": props.get("store_id"),
                "title": "Welcome in!",
                "body": f"Picked for you today: {names}",
                "items": decision.items,
            },
            f"{decision.decision_id}:push",
        )
        assert self.webhooks is not None
        self.webhooks.wake()
        return decision

    def on_accepted(self, parsed: dict[str, Any], kind: str | None) -> None:
        """Apply what real time needs from an accepted tracking request."""
        messages = parsed.get("batch", []) if kind is None else [parsed]
        for message in messages:
            if message.get("type", kind) != "track":
                continue
            try:
                if message.get("event") == STORE_ZONE_EVENT:
                    self.store_zone(message)
                else:
                    apply_message(self.store, self.arms, message)
            except Exception as exc:  # never fail an accepted, durable event
                log.warning("real-time update skipped: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.outbox is not None:
            self.outbox.close()
        self.arms.sync(self.store)
        self.store.close()
