"""The outbox: messages waiting to be sent to e-mail, SMS and push providers.

Deciding to contact someone and calling their provider are separated by a
durable table, so a decision survives a crash or a provider outage and every
message is sent at least once. The table is a small SQLite file in the state
directory (WAL: a server thread enqueues while a worker delivers), like the
sources registry, rather than a warehouse table that a server holds read-only.

Each message carries an idempotency key, unique in the outbox (enqueuing the
same key twice stores one message) and sent as the ``Idempotency-Key`` header,
so a receiver that sees a message twice (a crash between sending and marking
it delivered) can drop the copy: at least once here, exactly once there.

Consent is checked when a message is enqueued *and* again right before each
send: a customer who revokes consent while their message waits for a retry is
never contacted; the message ends ``suppressed`` with the reason.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopkeeper.activate.consent import ConsentCheck, purpose_for
from shopkeeper.errors import BadRequest, ConfigError, Conflict, NotFound, TooLarge

__all__ = ["MAX_PAYLOAD_BYTES", "OUTBOX_FILE", "STATUSES", "Message", "Outbox"]

OUTBOX_FILE = "outbox.sqlite"
"""The outbox's file name inside ``settings.state_dir``."""

STATUSES = ("pending", "delivered", "dead", "suppressed")
"""pending: waiting for its next attempt; delivered: a 2xx came back; dead:
given up (permanent refusal or max attempts), kept for inspection and replay;
suppressed: never to be sent, because consent was missing."""

MAX_PAYLOAD_BYTES = 64 * 1024
"""Providers cap request bodies well above this; a bigger payload is a bug."""

_SCHEMA = """
create table if not exists messages (
    id integer primary key autoincrement,
    endpoint text not null,
    channel text not null,
    customer_id text not null,
    idempotency_key text not null unique,
    payload text not null,
    status text not null,
    attempts integer not null default 0,
    next_attempt_at real not null,
    last_error text,
    created_at real not null,
    delivered_at real
);
create index if not exists messages_due on messages (status, next_attempt_at);
"""

_COLUMNS = (
    "id, endpoint, channel, customer_id, idempotency_key, payload, status, "
    "attempts, next_attempt_at, last_error, created_at, delivered_at"
)


@dataclass(frozen=True)
class Message:
    """One message as stored; times are Unix seconds (UTC)."""

    id: int
    endpoint: str
    channel: str
    customer_id: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    delivered_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Message:
        values = dict(row)
        values["payload"] = json.loads(values["payload"])
        return cls(**values)


def _canonical(payload: dict[str, Any]) -> str:
    """The payload as the same text every time, so a re-enqueue can be compared."""
    try:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"the payload is not JSON-serialisable: {exc}") from None


class Outbox:
    """The outbox file; every method opens its own connection, so one Outbox
    may be shared by server threads and a delivery worker.

    Args:
        path: the SQLite file (created with its folder if missing).
        consent: ``consent(customer_id, purpose) -> bool``; passed in so the
            outbox needs no warehouse (``WarehouseConsent`` asks the ledger).
            None opens it for inspection only: enqueue and delivery refuse.
    """

    def __init__(self, path: str | Path, consent: ConsentCheck | None) -> None:
        self.path = Path(path)
        self.consent = consent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection behind a lock: SQLite calls here take microseconds,
        # and opening one per call would checkpoint the WAL on every close.
        # Other processes (the CLI beside a server) are serialised by SQLite.
        self._db = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("pragma journal_mode=wal")
            self._db.executescript(_SCHEMA)

    def allowed(self, customer_id: str, purpose: str) -> bool:
        """Whether ``customer_id`` may be contacted for ``purpose`` right now."""
        if self.consent is None:
            raise ConfigError(
                "this outbox was opened without a consent check, so it cannot "
                "enqueue or deliver",
                hint="open it with consent=WarehouseConsent(wh)",
            )
        return bool(self.consent(customer_id, purpose))

    def erase(self, customer_ids: list[str]) -> int:
        """Delete every message to these customers, sent or not (erasure):
        a payload names its person and what was decided for them."""
        if not customer_ids:
            return 0
        marks = ",".join("?" * len(customer_ids))
        with self._write() as db:
            cursor = db.execute(
                f"delete from messages where customer_id in ({marks})", customer_ids
            )
            return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def enqueue(
        self,
        channel: str,
        endpoint: str,
        customer_id: str,
        payload: dict[str, Any],
        idempotency_key: str,
        *,
        now: float | None = None,
    ) -> Message:
        """Store a message for ``endpoint``, once per idempotency key.

        Enqueuing a key again returns the stored message unchanged (whatever
        its status), so a retried decision cannot send twice; the same key with
        a different message is a caller bug and raises Conflict. Without
        consent for the channel's purpose the message is stored ``suppressed``
        (an audit trail of who was not contacted and why) and never sent.

        Returns:
            the stored message; check ``status`` to see if it will be sent.
        """
        purpose = purpose_for(channel)
        for name, value in (
            ("endpoint", endpoint),
            ("customer_id", customer_id),
            ("idempotency_key", idempotency_key),
        ):
            if not value or not value.strip():
                raise BadRequest(f"a message needs a non-empty {name}")
        if not isinstance(payload, dict):
            raise BadRequest("the payload must be a JSON object")
        text = _canonical(payload)
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise TooLarge(
                f"the payload is {len(text.encode())} bytes; at most "
                f"{MAX_PAYLOAD_BYTES} are allowed"
            )
        stored = self._find(idempotency_key)
        if stored is None:
            at = time.time() if now is None else now
            allowed = self.allowed(customer_id, purpose)
            status = "pending" if allowed else "suppressed"
            reason = None if allowed else f"no {purpose} consent at enqueue"
            with self._write() as db:
                db.execute(
                    "insert into messages (endpoint, channel, customer_id, "
                    "idempotency_key, payload, status, next_attempt_at, last_error, "
                    "created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "on conflict (idempotency_key) do nothing",
                    (
                        endpoint,
                        channel,
                        customer_id,
                        idempotency_key,
                        text,
                        status,
                        at,
                        reason,
                        at,
                    ),
                )
            stored = self.get(idempotency_key)
        same = (stored.endpoint, stored.channel, stored.customer_id) == (
            endpoint,
            channel,
            customer_id,
        ) and _canonical(stored.payload) == text
        if not same:
            raise Conflict(
                f"idempotency key {idempotency_key!r} was already used for another "
                "message",
                hint="derive the key from what makes the message unique "
                "(decision id, campaign and customer)",
            )
        return stored

    def _find(self, idempotency_key: str) -> Message | None:
        with self._read() as db:
            row = db.execute(
                f"select {_COLUMNS} from messages where idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
        return Message.from_row(row) if row else None

    def get(self, idempotency_key: str) -> Message:
        found = self._find(idempotency_key)
        if found is None:
            raise NotFound(f"no message with idempotency key {idempotency_key!r}")
        return found

    def claim_due(
        self,
        endpoints: Collection[str],
        *,
        now: float,
        lease_seconds: float,
        limit: int = 100,
    ) -> list[Message]:
        """Take up to ``limit`` pending messages due at ``now`` for ``endpoints``.

        Claiming counts the attempt and moves ``next_attempt_at`` past the
        lease in one transaction, before anything is sent: a second worker does
        not pick the same message, and if this process dies mid-send the
        message becomes due again when the lease ends (at least once).
        """
        names = sorted(endpoints)
        if not names:
            return []
        marks = ", ".join("?" * len(names))
        with self._write() as db:
            rows = db.execute(
                f"select {_COLUMNS} from messages where status = 'pending' "
                f"and next_attempt_at <= ? and endpoint in ({marks}) "
                "order by next_attempt_at, id limit ?",
                (now, *names, limit),
            ).fetchall()
            ids = [r["id"] for r in rows]
            db.executemany(
                "update messages set attempts = attempts + 1, next_attempt_at = ? "
                "where id = ?",
                [(now + lease_seconds, i) for i in ids],
            )
        claimed = []
        for row in rows:
            values = dict(row)
            values["attempts"] += 1
            values["next_attempt_at"] = now + lease_seconds
            values["payload"] = json.loads(values["payload"])
            claimed.append(Message(**values))
        return claimed

    def _finish(self, message_id: int, sets: str, *values: object) -> None:
        with self._write() as db:
            db.execute(
                f"update messages set {sets} where id = ? and status = 'pending'",
                (*values, message_id),
            )

    def mark_delivered(self, message_id: int, *, now: float) -> None:
        self._finish(
            message_id, "status = 'delivered', delivered_at = ?, last_error = null", now
        )

    def schedule_retry(self, message_id: int, *, at: float, error: str) -> None:
        self._finish(message_id, "next_attempt_at = ?, last_error = ?", at, error)

    def mark_dead(self, message_id: int, *, error: str) -> None:
        self._finish(message_id, "status = 'dead', last_error = ?", error)

    def suppress(self, message_id: int, *, reason: str) -> None:
        self._finish(message_id, "status = 'suppressed', last_error = ?", reason)

    def replay(self, idempotency_key: str, *, now: float | None = None) -> Message:
        """Send a dead-lettered message again, with a fresh attempt budget.

        For after the cause is fixed (a rotated secret, a corrected URL). The
        key is unchanged, so a receiver that did accept it once still drops it.
        """
        message = self.get(idempotency_key)
        if message.status != "dead":
            raise Conflict(
                f"message {idempotency_key!r} is {message.status}; only dead "
                "messages can be replayed"
            )
        at = time.time() if now is None else now
        with self._write() as db:
            db.execute(
                "update messages set status = 'pending', attempts = 0, "
                "next_attempt_at = ? where id = ? and status = 'dead'",
                (at, message.id),
            )
        return self.get(idempotency_key)

    def counts(self) -> list[tuple[str, str, int]]:
        """(endpoint, status, messages), for ``shopkeeper activate outbox status``."""
        with self._read() as db:
            rows = db.execute(
                "select endpoint, status, count(*) from messages "
                "group by endpoint, status order by endpoint, status"
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def messages(self, status: str | None = None, *, limit: int = 100) -> list[Message]:
        """The newest messages, optionally of one status (e.g. the dead letters)."""
        if status is not None and status not in STATUSES:
            raise BadRequest(
                f"unknown status {status!r}; statuses are {', '.join(STATUSES)}"
            )
        where = "where status = ?" if status else ""
        params: tuple[object, ...] = (status, limit) if status else (limit,)
        with self._read() as db:
            rows = db.execute(
                f"select {_COLUMNS} from messages {where} order by id desc limit ?",
                params,
            ).fetchall()
        return [Message.from_row(r) for r in rows]
