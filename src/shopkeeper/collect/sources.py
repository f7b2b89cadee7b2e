"""Sources and their write keys: who may send events, from which channel.

The registry is a small SQLite file in the state directory rather than a
warehouse table: every server worker reads it on the hot path while the CLI
adds or disables sources, and SQLite in WAL mode gives exactly that (many
readers, one short writer) without holding the warehouse's lock.

A write key is shown once, when created or rotated, and stored only as its
SHA-256: a leaked registry file does not leak keys, and keys never appear in
logs or error messages.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopkeeper.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

__all__ = ["CHANNELS", "Source", "SourceRegistry", "hash_key"]

CHANNELS = ("web", "app", "store", "email", "call_center", "partner")

_SCHEMA = """
create table if not exists sources (
    source_id text primary key,
    name text not null unique,
    channel text not null,
    key_sha256 text not null unique,
    status text not null default 'active',
    created_at text not null,
    key_rotated_at text not null
)
"""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Source:
    """A registered sender; ``write_key`` is set only right after add/rotate."""

    source_id: str
    name: str
    channel: str
    status: str
    created_at: str
    key_rotated_at: str
    write_key: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        out = asdict(self)
        if self.write_key is None:
            del out["write_key"]
        return out


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class SourceRegistry:
    """The sources file, with a short cache so auth costs a dict lookup.

    ``cache_seconds`` bounds how long a disabled or rotated key may still be
    honoured by a running server (one second by default).
    """

    def __init__(self, path: Path, *, cache_seconds: float = 1.0) -> None:
        self.path = path
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Source | None]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("pragma journal_mode=wal")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def _row(self, where: str, value: str) -> Source | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "select source_id, name, channel, status, created_at, key_rotated_at "
                f"from sources where {where} = ?",
                (value,),
            ).fetchone()
        return Source(**dict(row)) if row else None

    def add(self, name: str, channel: str) -> Source:
        if channel not in CHANNELS:
            raise InvalidInput(
                f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}"
            )
        if not name.strip():
            raise InvalidInput("a source needs a name")
        key = "sk_" + secrets.token_urlsafe(24)
        now = _now()
        source_id = "src_" + secrets.token_hex(6)
        try:
            with closing(self._connect()) as db, db:
                db.execute(
                    "insert into sources values (?, ?, ?, ?, 'active', ?, ?)",
                    (source_id, name, channel, hash_key(key), now, now),
                )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"a source named {name!r} already exists",
                hint="pick another name or `shopkeeper sources rotate` its key",
            ) from None
        return Source(source_id, name, channel, "active", now, now, write_key=key)

    def get(self, name_or_id: str) -> Source:
        found = self._row("name", name_or_id) or self._row("source_id", name_or_id)
        if found is None:
            raise NotFound(
                f"no source named {name_or_id!r}", hint="see `shopkeeper sources list`"
            )
        return found

    def list(self) -> list[Source]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "select source_id, name, channel, status, created_at, key_rotated_at "
                "from sources order by created_at, name"
            ).fetchall()
        return [Source(**dict(r)) for r in rows]

    def rotate(self, name_or_id: str) -> Source:
        """A new key for the source; the old one stops working at once."""
        source = self.get(name_or_id)
        key = "sk_" + secrets.token_urlsafe(24)
        now = _now()
        with closing(self._connect()) as db, db:
            db.execute(
                "update sources set key_sha256 = ?, key_rotated_at = ? "
                "where source_id = ?",
                (hash_key(key), now, source.source_id),
            )
        self._cache.clear()
        return Source(
            source.source_id,
            source.name,
            source.channel,
            source.status,
            source.created_at,
            now,
            write_key=key,
        )

    def set_status(self, name_or_id: str, status: str) -> Source:
        source = self.get(name_or_id)
        with closing(self._connect()) as db, db:
            db.execute(
                "update sources set status = ? where source_id = ?",
                (status, source.source_id),
            )
        self._cache.clear()
        return self.get(source.source_id)

    def authenticate(self, key: str | None) -> Source:
        """The active source a write key belongs to, or a 401/403 that says why."""
        if not key:
            raise Unauthorized(
                "missing write key: send it as the HTTP Basic user name "
                "or as writeKey in the body"
            )
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.cache_seconds:
            source = cached[1]
        else:
            source = self._row("key_sha256", digest)
            self._cache[digest] = (now, source)
        if source is None:
            raise Unauthorized("unknown write key")
        if source.status != "active":
            raise Forbidden(f"source {source.name!r} is disabled")
        return source
