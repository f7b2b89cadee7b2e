"""Delivering the outbox: signed POSTs, retries with backoff, dead letters.

One pass (``deliver_due``) claims the messages that are due, checks consent
again, POSTs each to its endpoint and records the outcome:

- 2xx: delivered (only now; a crash before this line means a resend, which the
  receiver drops by ``Idempotency-Key``);
- 408, 429, 5xx, a timeout or a connection error: retried after an
  exponential backoff with jitter (at least ``Retry-After`` if the receiver
  sent one), until ``max_attempts`` tries, then dead;
- any other status (400, 401, 404, 410, a redirect, ...): dead at once,
  because sending the same request again cannot succeed.

``WebhookWorker`` runs passes in a thread for ``shopkeeper serve``; ``wake()``
starts a pass at once, for messages that must leave within a second.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from shopkeeper.activate.consent import purpose_for
from shopkeeper.activate.endpoints import Endpoint
from shopkeeper.activate.outbox import Message, Outbox
from shopkeeper.activate.signing import SIGNATURE_HEADER, sign

__all__ = ["DeliveryReport", "WebhookWorker", "backoff", "deliver_due", "envelope"]

log = logging.getLogger(__name__)

_RETRYABLE = {408, 425, 429}
_MAX_RETRY_AFTER = 3600.0


@dataclass
class DeliveryReport:
    """What one pass did, by outcome; ``errors`` holds (key, reason) pairs."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    suppressed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.dead


def backoff(attempt: int, endpoint: Endpoint, rng: random.Random) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based).

    Exponential with "equal jitter": half the step is fixed, half random, so
    retries spread out after an outage yet never come back too soon.
    """
    step = min(endpoint.backoff_cap, endpoint.backoff_base * 2 ** (attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def envelope(message: Message) -> bytes:
    """The request body: identical bytes on every attempt of one message."""
    created = datetime.fromtimestamp(message.created_at, UTC)
    body = {
        "id": message.idempotency_key,
        "type": f"{message.channel}.send",
        "channel": message.channel,
        "customer_id": message.customer_id,
        "created_at": created.isoformat(timespec="milliseconds"),
        "payload": message.payload,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None


def _send(
    message: Message, endpoint: Endpoint, client: httpx.Client
) -> tuple[str, str | None, float | None]:
    """One POST; returns (outcome, error, retry_after) with outcome one of
    delivered, retry, dead."""
    body = envelope(message)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": message.idempotency_key,
        "Shopkeeper-Attempt": str(message.attempts),
        SIGNATURE_HEADER: sign(endpoint.secret.get_secret_value(), body),
    }
    try:
        response = client.post(
            endpoint.url, content=body, headers=headers, timeout=endpoint.timeout
        )
    except httpx.TimeoutException:
        return "retry", f"timed out after {endpoint.timeout:g} s", None
    except httpx.TransportError as exc:
        return "retry", f"connection failed: {type(exc).__name__}", None
    status = response.status_code
    if 200 <= status < 300:
        return "delivered", None, None
    error = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status in _RETRYABLE or status >= 500:
        return "retry", error, _retry_after(response)
    if 300 <= status < 400:
        error += " (webhooks do not follow redirects; fix the endpoint url)"
    return "dead", error, None


def deliver_due(
    outbox: Outbox,
    endpoints: Mapping[str, Endpoint],
    client: httpx.Client,
    *,
    now: float | None = None,
    rng: random.Random | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send every message due at ``now`` (default: the clock), up to ``limit``.

    Messages for endpoints not in ``endpoints`` stay pending, untouched: a
    provider missing from today's config is not a reason to drop its mail.

    Args:
        outbox: where the messages wait.
        endpoints: by name, from ``load_endpoints``.
        client: one ``httpx.Client`` for the pass (connection reuse).
        now: the pass's clock, for tests; retries are scheduled from it.
        rng: the jitter's random source; seed it for reproducible schedules.
        limit: most messages one pass claims.
    """
    rng = rng or random.Random()
    report = DeliveryReport()
    start = time.time() if now is None else now
    lease = max((e.timeout for e in endpoints.values()), default=5.0) + 30.0
    claimed = outbox.claim_due(endpoints, now=start, lease_seconds=lease, limit=limit)
    for message in claimed:
        endpoint = endpoints[message.endpoint]
        key = message.idempotency_key
        if endpoint.channel != message.channel:
            error = (
                f"endpoint {endpoint.name} delivers {endpoint.channel}, the "
                f"message is {message.channel}"
            )
            outbox.mark_dead(message.id, error=error)
            report.dead += 1
            report.errors.append((key, error))
            continue
        purpose = purpose_for(message.channel)
        if not outbox.allowed(message.customer_id, purpose):
            outbox.suppress(message.id, reason=f"no {purpose} consent at send")
            report.suppressed += 1
            continue
        outcome, error, retry_after = _send(message, endpoint, client)
        clock = time.time() if now is None else now
        if outcome == "delivered":
            outbox.mark_delivered(message.id, now=clock)
            report.delivered += 1
            continue
        error = error or "unknown failure"
        report.errors.append((key, error))
        if outcome == "retry" and message.attempts < endpoint.max_attempts:
            wait = max(backoff(message.attempts, endpoint, rng), retry_after or 0.0)
            outbox.schedule_retry(message.id, at=clock + wait, error=error)
            report.retried += 1
            continue
        if outcome == "retry":
            error = f"gave up after {message.attempts} attempts; last: {error}"
        outbox.mark_dead(message.id, error=error)
        report.dead += 1
    return report


class WebhookWorker(threading.Thread):
    """Runs ``deliver_due`` every ``interval`` seconds until ``stop()``.

    A failing pass is logged and the next one runs anyway: the outbox is the
    source of truth, so nothing is lost by a pass that broke half-way.
    """

    def __init__(
        self,
        outbox: Outbox,
        endpoints: Mapping[str, Endpoint],
        *,
        interval: float = 1.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(name="shopkeeper-webhooks", daemon=True)
        self.outbox = outbox
        self.endpoints = dict(endpoints)
        self.interval = interval
        self._client = client
        self._halt = threading.Event()
        self._wake = threading.Event()
        self.passes = 0

    def wake(self) -> None:
        """Start the next pass now (a message was just enqueued)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._halt.set()
        self._wake.set()
        self.join(timeout)

    def run(self) -> None:
        client = self._client or httpx.Client(headers={"User-Agent": "shopkeeper"})
        try:
            while not self._halt.is_set():
                try:
                    deliver_due(self.outbox, self.endpoints, client)
                except Exception:
                    log.exception("webhook delivery pass failed; retrying next pass")
                self.passes += 1
                self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            if self._client is None:
                client.close()
