"""Partners, their keys, and the log of every clean-room query.

One SQLite file in the state directory, like the sources registry: the server
reads it on every request while the CLI adds partners, and SQLite in WAL mode
gives many readers and one short writer without holding the warehouse's lock.
Partner keys are shown once and stored as SHA-256.

Besides the log, the file keeps what each answered row released: for every
customer in the row, a keyed hash of the customer and of what they added to
it. The difference check compares a new answer against these, and it runs in
the same ``BEGIN IMMEDIATE`` transaction that records the answer, so two
queries sent at once by one partner are checked against each other too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shopkeeper.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

__all__ = ["Partner", "PartnerRegistry", "Released"]

_SCHEMA = """
create table if not exists meta (k text primary key, v text not null);
create table if not exists partners (
    partner_id text primary key,
    name text not null unique,
    key_sha256 text not null unique,
    manufacturer_ids text not null,
    status text not null default 'active',
    created_at text not null
);
create table if not exists queries (
    query_id integer primary key autoincrement,
    partner_id text not null,
    asked_at text not null,
    query text not null,
    outcome text not null,
    reason text,
    rows_returned integer not null default 0,
    rows_suppressed integer not null default 0
);
create table if not exists released (
    query_id integer not null,
    partner_id text not null,
    view text not null,
    label text not null,
    customers integer not null,
    who blob not null,
    pairs blob not null
);
create index if not exists released_by_size on released (partner_id, customers);
"""


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Partner:
    """A brand or vendor; ``key`` is set only right after it was added."""

    partner_id: str
    name: str
    manufacturer_ids: tuple[str, ...]
    status: str
    created_at: str
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["manufacturer_ids"] = list(self.manufacturer_ids)
        if self.key is None:
            del out["key"]
        return out


@dataclass(frozen=True, eq=False)
class Released:
    """One answered row as the difference check sees it: keyed hashes of its
    customers (``who``) and of (customer, contribution) (``pairs``), aligned."""

    label: str
    who: np.ndarray
    pairs: np.ndarray

    @property
    def customers(self) -> int:
        return len(self.who)


Checker = Callable[[list[tuple[int, str, Released]]], str | None]
"""Given earlier (query id, label, rows), the reason to refuse, or None."""


class PartnerRegistry:
    """The clean room's SQLite file: partners, query log, released rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("pragma journal_mode=wal")
            db.executescript(_SCHEMA)
            db.execute(
                "insert or ignore into meta values ('salt', ?)",
                (secrets.token_hex(16),),
            )
            self._salt = bytes.fromhex(
                db.execute("select v from meta where k = 'salt'").fetchone()[0]
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    # -- partners ----------------------------------------------------------
    def add(self, name: str, manufacturer_ids: list[str]) -> Partner:
        """Register a partner that owns ``manufacturer_ids``; returns its key once."""
        ids = tuple(sorted({m.strip() for m in manufacturer_ids if m.strip()}))
        if not name.strip():
            raise InvalidInput("a partner needs a name")
        if not ids:
            raise InvalidInput(
                "a partner needs at least one manufacturer id: the clean room "
                "only shows a partner the sales of its own products"
            )
        key = "cr_" + secrets.token_urlsafe(24)
        partner = Partner("ptn_" + secrets.token_hex(6), name, ids, "active", _now())
        try:
            with closing(self._connect()) as db:
                db.execute(
                    "insert into partners values (?, ?, ?, ?, 'active', ?)",
                    (
                        partner.partner_id,
                        name,
                        _key_hash(key),
                        json.dumps(list(ids)),
                        partner.created_at,
                    ),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a partner named {name!r} already exists") from None
        return Partner(**{**asdict(partner), "key": key})

    @staticmethod
    def _partner(row: sqlite3.Row) -> Partner:
        return Partner(
            row["partner_id"],
            row["name"],
            tuple(json.loads(row["manufacturer_ids"])),
            row["status"],
            row["created_at"],
        )

    def _find(self, column: str, value: str) -> Partner | None:
        with closing(self._connect()) as db:
            row = db.execute(
                f"select * from partners where {column} = ?", (value,)
            ).fetchone()
        return self._partner(row) if row else None

    def get(self, name_or_id: str) -> Partner:
        found = self._find("name", name_or_id) or self._find("partner_id", name_or_id)
        if found is None:
            raise NotFound(
                f"no partner named {name_or_id!r}",
                hint="see `shopkeeper cleanroom partners`",
            )
        return found

    def list(self) -> list[Partner]:
        with closing(self._connect()) as db:
            rows = db.execute("select * from partners order by created_at, name")
            return [self._partner(r) for r in rows.fetchall()]

    def set_status(self, name_or_id: str, status: str) -> Partner:
        partner = self.get(name_or_id)
        with closing(self._connect()) as db:
            db.execute(
                "update partners set status = ? where partner_id = ?",
                (status, partner.partner_id),
            )
        return self.get(partner.partner_id)

    def authenticate(self, key: str | None) -> Partner:
        """The active partner a key belongs to, or a 401/403 that says why."""
        if not key:
            raise Unauthorized(
                "missing partner key: send Authorization: Bearer <partner key>"
            )
        partner = self._find("key_sha256", _key_hash(key))
        if partner is None:
            raise Unauthorized(
                "unknown partner key; the clean room takes only partner keys "
                "(not the admin token, not a write key)"
            )
        if partner.status != "active":
            raise Forbidden(f"partner {partner.name!r} is disabled")
        return partner

    # -- released rows and the log --------------------------------------------
    def hash_customers(self, customer_ids: list[str]) -> np.ndarray:
        """Keyed 64-bit hashes, so the file holds no customer id in the clear."""
        return np.array(
            [
                int.from_bytes(
                    hashlib.blake2b(c.encode(), digest_size=8, key=self._salt).digest(),
                    "little",
                )
                for c in customer_ids
            ],
            dtype=np.uint64,
        )

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db:
            db.execute("begin immediate")
            try:
                yield db
            except BaseException:
                db.execute("rollback")
                raise
            db.execute("commit")

    def log(
        self,
        partner: Partner,
        query: str,
        outcome: str,
        reason: str | None,
        *,
        returned: int = 0,
        suppressed: int = 0,
        db: sqlite3.Connection | None = None,
    ) -> int:
        """Append one query to the log; returns its query id."""
        values = (
            partner.partner_id,
            _now(),
            query,
            outcome,
            reason,
            returned,
            suppressed,
        )
        sql = (
            "insert into queries (partner_id, asked_at, query, outcome, reason, "
            "rows_returned, rows_suppressed) values (?, ?, ?, ?, ?, ?, ?)"
        )
        if db is not None:
            return int(db.execute(sql, values).lastrowid or 0)
        with closing(self._connect()) as own:
            return int(own.execute(sql, values).lastrowid or 0)

    def release(
        self,
        partner: Partner,
        view: str,
        query: str,
        rows: list[Released],
        *,
        min_crowd: int,
        check: Checker,
        returned: int,
        suppressed: int,
    ) -> int:
        """Check ``rows`` against what this partner got before, then log the
        query and store the rows, or log the refusal and raise Forbidden.

        Rows of every view count: all views fingerprint the same order lines,
        so "buyers" in one and "sales minus a store" in another are compared.
        Only earlier rows whose size is within ``min_crowd - 1`` of a new
        row's are loaded: two sets whose sizes differ by ``min_crowd`` or
        more cannot differ in fewer than ``min_crowd`` customers.
        """
        with self._immediate() as db:
            earlier: list[tuple[int, str, Released]] = []
            sizes = sorted({r.customers for r in rows})
            for size in sizes:
                found = db.execute(
                    "select query_id, label, who, pairs from released where "
                    "partner_id = ? and customers between ? and ?",
                    (partner.partner_id, size - min_crowd + 1, size + min_crowd - 1),
                ).fetchall()
                earlier.extend(
                    (
                        r["query_id"],
                        r["label"],
                        Released(
                            r["label"],
                            np.frombuffer(r["who"], dtype=np.uint64),
                            np.frombuffer(r["pairs"], dtype=np.uint64),
                        ),
                    )
                    for r in found
                )
            unique = {(q, label): (q, label, rel) for q, label, rel in earlier}
            reason = check(list(unique.values()))
            query_id = self.log(
                partner,
                query,
                "refused" if reason else "answered",
                reason,
                returned=0 if reason else returned,
                suppressed=0 if reason else suppressed,
                db=db,
            )
            if reason is None:
                db.executemany(
                    "insert into released values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            query_id,
                            partner.partner_id,
                            view,
                            r.label,
                            r.customers,
                            r.who.tobytes(),
                            r.pairs.tobytes(),
                        )
                        for r in rows
                    ],
                )
        if reason is not None:
            raise Forbidden(reason)
        return query_id

    def queries(
        self, partner: Partner | None = None, *, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The log, newest first, with the partner's name."""
        where, args = (
            ("where q.partner_id = ?", [partner.partner_id]) if partner else ("", [])
        )
        with closing(self._connect()) as db:
            rows = db.execute(
                "select q.query_id, p.name as partner, q.asked_at, q.query, "
                "q.outcome, q.reason, q.rows_returned, q.rows_suppressed "
                f"from queries q join partners p using (partner_id) {where} "
                "order by q.query_id desc limit ?",
                [*args, limit],
            ).fetchall()
        return [dict(r) for r in rows]
