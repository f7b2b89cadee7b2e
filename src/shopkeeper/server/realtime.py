"""The decide side of one server worker: online store, learner and updates.

Opened in the app's lifespan: the online store, the in-memory arm statistics
with the thread that syncs them with the other workers every second, the
:class:`Decider`, and the hook the collector calls for every accepted
message (feedback on decisions, consent changes).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from shopkeeper.decide.decisions import Decider
from shopkeeper.decide.feedback import ArmStats, apply_message
from shopkeeper.decide.online_store import OnlineStore, open_store
from shopkeeper.settings import Settings

__all__ = ["Realtime", "online_store_url"]

log = logging.getLogger(__name__)


def online_store_url(settings: Settings) -> str:
    return (
        settings.online_store
        or f"sqlite:///{Path(settings.state_dir) / 'online.sqlite'}"
    )


class Realtime:
    def __init__(self, settings: Settings, *, sync_seconds: float = 1.0) -> None:
        self.store: OnlineStore = open_store(online_store_url(settings))
        self.arms = ArmStats()
        self.decider = Decider(
            self.store,
            self.arms,
            daily_caps=settings.decide_daily_caps,
            quiet_hours=settings.decide_quiet_hours,
            exploration=settings.decide_exploration,
            require_opt_in=settings.decide_require_opt_in,
        )
        self._stop = threading.Event()
        self._sync_seconds = sync_seconds
        self._thread = threading.Thread(
            target=self._run, name="shopkeeper-arm-sync", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._sync_seconds):
            try:
                self.arms.sync(self.store)
            except Exception as exc:  # a sync that fails is retried next second
                log.warning("arm sync failed: %s", exc)

    def on_accepted(self, parsed: dict[str, Any], kind: str | None) -> None:
        """Apply what real time needs from an accepted tracking request."""
        messages = parsed.get("batch", []) if kind is None else [parsed]
        for message in messages:
            if message.get("type", kind) == "track":
                try:
                    apply_message(self.store, self.arms, message)
                except Exception as exc:  # never fail an accepted, durable event
                    log.warning("real-time update skipped: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.arms.sync(self.store)
        self.store.close()
