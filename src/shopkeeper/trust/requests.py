"""Privacy requests (delete, suppress, suppress_and_delete) as audited jobs.

As in Segment's regulations API, a request is accepted at once and carried
out asynchronously: by the server's loader thread (the one process that
writes the warehouse while the service runs) or by ``shopkeeper privacy run``.
The audit record stays after the work is done, but without the identifier
it was about: only its salted digest, the per-table counts and the times.

- ``suppress``: tombstone every identifier of the customer, so the collector
  drops their new events; stored data stays.
- ``delete``: remove the customer from every registered table and from the
  durable event log, and tombstone the identifiers so the same identifiers
  arriving later are suppressed instead of re-creating the person.
- ``suppress_and_delete``: the same as ``delete``; Segment names it so and
  SDK users look for it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopkeeper.activate.outbox import Outbox
from shopkeeper.collect.logscrub import scrub_log
from shopkeeper.collect.personal import hash_email
from shopkeeper.collect.suppression import SuppressionList, message_identifiers
from shopkeeper.decide.online_rows import ALIAS, CUSTOMERS
from shopkeeper.decide.online_store import OnlineStore
from shopkeeper.errors import BadRequest, NotFound
from shopkeeper.profiles.customer360 import Customer, candidates, resolve
from shopkeeper.trust.erasure import erase_customer
from shopkeeper.warehouse import Warehouse

__all__ = ["REQUEST_TYPES", "PrivacyRequest", "PrivacyRequests", "run_request"]

REQUEST_TYPES = ("delete", "suppress", "suppress_and_delete")

_SCHEMA = """
create table if not exists requests (
    request_id text primary key,
    type text not null,
    subject_digest text not null,
    identifier text,
    status text not null,
    requested_by text not null,
    created_at text not null,
    finished_at text,
    result text,
    error text
)
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PrivacyRequest:
    """One request as the audit shows it (never with the identifier)."""

    request_id: str
    type: str
    status: str
    requested_by: str
    created_at: str
    finished_at: str | None
    result: dict[str, Any] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PrivacyRequests:
    """The request queue and audit log: a small SQLite file in the state dir."""

    def __init__(self, path: Path, suppression: SuppressionList) -> None:
        self.path = path
        self.suppression = suppression

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("pragma journal_mode=wal")
        db.execute(_SCHEMA)
        return db

    def submit(
        self, type_: str, identifier: str, *, requested_by: str
    ) -> PrivacyRequest:
        if type_ not in REQUEST_TYPES:
            raise BadRequest(f"type {type_!r} is not one of {', '.join(REQUEST_TYPES)}")
        names = candidates(identifier)  # refuses an empty identifier
        request_id = "prq_" + secrets.token_hex(8)
        with closing(self._connect()) as db, db:
            db.execute(
                "insert into requests (request_id, type, subject_digest, identifier,"
                " status, requested_by, created_at) values (?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    type_,
                    self.suppression.digest(names[0]),
                    identifier.strip(),
                    "pending",
                    requested_by,
                    _now(),
                ),
            )
        return self.get(request_id)

    def get(self, request_id: str) -> PrivacyRequest:
        with closing(self._connect()) as db:
            row = db.execute(
                "select * from requests where request_id = ?", (request_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no privacy request {request_id!r}")
        return _request(row)

    def list(self) -> list[PrivacyRequest]:
        with closing(self._connect()) as db:
            rows = db.execute("select * from requests order by created_at").fetchall()
        return [_request(r) for r in rows]

    def pending(self) -> list[tuple[str, str, str]]:
        """(request_id, type, identifier) of every request not done yet."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "select request_id, type, identifier from requests"
                " where status = 'pending' order by created_at"
            ).fetchall()
        return [(r["request_id"], r["type"], r["identifier"]) for r in rows]

    def finish(
        self, request_id: str, *, result: Mapping[str, Any] | None, error: str | None
    ) -> None:
        """Close a request; the identifier is forgotten, the audit record stays."""
        with closing(self._connect()) as db, db:
            db.execute(
                "update requests set status = ?, identifier = null, finished_at = ?,"
                " result = ?, error = ? where request_id = ?",
                (
                    "failed" if error else "done",
                    _now(),
                    json.dumps(result) if result is not None else None,
                    error,
                    request_id,
                ),
            )


def _request(row: sqlite3.Row) -> PrivacyRequest:
    return PrivacyRequest(
        request_id=row["request_id"],
        type=row["type"],
        status=row["status"],
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"],
    )


def _customer(wh: Warehouse | None, identifier: str) -> Customer:
    """The customer, or (not in the identity map yet) the identifier alone."""
    if wh is not None:
        try:
            return resolve(wh, identifier)
        except NotFound:
            pass
    names = candidates(identifier)
    return Customer(names[0], None, names)


def _names(message: Mapping[str, Any]) -> set[str]:
    """The identifiers a log message names (an exposure row names its person)."""
    found = message_identifiers(message)
    if isinstance(message.get("identifier"), str):
        found.add(message["identifier"])
    return found


def run_request(
    wh: Warehouse | None,
    requests: PrivacyRequests,
    events_dir: Path,
    request_id: str,
    type_: str,
    identifier: str,
    *,
    online: OnlineStore | None = None,
    outbox: Outbox | None = None,
) -> dict[str, Any]:
    """Carry out one request; returns what it did (also kept in the audit).

    Tombstones go first, so no new event slips in while the rest runs; then
    the log is scrubbed before the warehouse, so the loader cannot bring an
    erased event back in between.
    """
    who = _customer(wh, identifier)
    names = {*who.identifiers, who.customer_id}
    if "@" in identifier and ":" not in identifier:
        names.add("email:" + hash_email(identifier))
    result: dict[str, Any] = {"identifiers": len(names)}
    result["suppressed"] = requests.suppression.add(
        names, kind=type_, request_id=request_id
    )
    if type_ in ("delete", "suppress_and_delete"):
        scrub = scrub_log(events_dir, lambda message: _names(message) & names != set())
        result["event_log"] = {"records": scrub.records, "messages": scrub.messages}
        result["tables"] = erase_customer(wh, who) if wh is not None else {}
        if online is not None:
            result["online_store"] = online.delete(
                CUSTOMERS, [who.customer_id]
            ) + online.delete(ALIAS, sorted(names))
        if outbox is not None:
            result["outbox"] = outbox.erase(sorted(names))
    return result
