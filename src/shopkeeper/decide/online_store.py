"""The online store: one pre-joined row per customer, read in microseconds.

The decide path never queries the warehouse. The build exports what a decision
needs (profile, segments, recommendations, consents) as one JSON document per
customer, plus an alias from every identifier to its customer, and the
collector updates the parts real time needs (consent changes, cart, recent
views) as events arrive. Counters (frequency caps, bandit clicks and shows)
are atomic increments so that caps hold under concurrent requests.

Two backends behind one small protocol, as Feast does it: embedded
SQLite (the default: no server, safe across processes in WAL mode) and Redis
(for many workers on many machines). One contract test suite runs on both.
The SQLite store also keeps the customers it resolved in each worker's
memory, exactly as fresh as the file (:mod:`shopkeeper.decide.doc_cache`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

import orjson

from shopkeeper.decide.doc_cache import DocCache, Generations
from shopkeeper.errors import ConfigError, MissingDependency

__all__ = ["OnlineStore", "RedisStore", "SQLiteStore", "merge", "open_store"]

Doc = dict[str, Any]

_MMAP_BYTES = 1 << 30
_CACHE_KIB = 64 * 1024


class OnlineStore(Protocol):
    """What the decide path may do with the online store, and nothing more."""

    def write_batch(
        self,
        view: str,
        rows: Iterable[tuple[str, Doc]],
        *,
        ttl_seconds: int | None = None,
    ) -> int:
        """Replace the documents of these keys; returns how many were written.
        With ``ttl_seconds`` they go that long after the write (see sweep)."""

    def read_many(self, view: str, keys: list[str]) -> list[Doc | None]:
        """The documents of ``keys`` in order (None where a key is missing)."""

    def read_through(
        self, alias_view: str, field: str, view: str, keys: list[str]
    ) -> Doc | None:
        """The ``view`` document that the first of ``keys`` found in
        ``alias_view`` names in its ``field``: who an identifier is, in one
        read where the backend can join (the decide path's first step)."""

    def delete(self, view: str, keys: list[str]) -> int:
        """Remove these documents (erasure reaches the online store too)."""

    def incr(self, counter: str, by: int = 1, *, ttl_seconds: int | None = None) -> int:
        """Add to a counter atomically and return its new value; the counter
        disappears ``ttl_seconds`` after it was created."""

    def incr_many(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Many increments (no expiry) in one round trip or transaction: how a
        worker syncs its learning every second without holding the store."""

    def prune(self) -> int:
        """Drop what this process keeps in memory that writes made stale (the
        arm sync calls it every second); returns how many entries went."""

    def sweep(self) -> int:
        """Remove the documents and counters whose time to live has passed;
        returns how many (Redis expires them itself: 0). A decision kept for
        feedback lives a week; at a thousand a second, that is the store's
        size unless something removes them."""

    def close(self) -> None: ...


class SQLiteStore:
    """The embedded default: one SQLite file in WAL mode, shared by processes."""

    _SCHEMA = (
        "create table if not exists docs (view text, key text, doc blob,"
        " expires real, primary key (view, key)) without rowid",
        "create table if not exists counters (name text primary key,"
        " value integer not null, expires real)",
    )
    # Only what expires is indexed by expiry (a week of decisions, caps and
    # feedback marks), so a sweep reads just the rows it removes.
    _INDEXES = (
        "create index if not exists docs_expiry on docs (expires)"
        " where expires is not null",
        "create index if not exists counters_expiry on counters (expires)"
        " where expires is not null",
    )

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._generations = Generations(path.with_name(path.name + "-gen"))
        self._cache = DocCache(self._generations)
        with closing(self._open()) as db:
            for statement in self._SCHEMA:
                db.execute(statement)
            columns = {row[1] for row in db.execute("pragma table_info(docs)")}
            if "expires" not in columns:  # a store made before documents expired
                db.execute("alter table docs add column expires real")
            for statement in self._INDEXES:
                db.execute(statement)
            db.commit()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("pragma journal_mode=wal")
        db.execute("pragma synchronous=normal")
        # Reads through a memory map, with a page cache that holds the whole
        # store of a mid-size retailer (SQLite's default is 2 MB): on the full
        # Complete Journey, the two customer reads took 57 us without them.
        db.execute(f"pragma mmap_size={_MMAP_BYTES}")
        db.execute(f"pragma cache_size=-{_CACHE_KIB}")
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections are not thread-safe.
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open()
        return db

    def write_batch(
        self,
        view: str,
        rows: Iterable[tuple[str, Doc]],
        *,
        ttl_seconds: int | None = None,
    ) -> int:
        # One statement over a JSON array of [key, document text] pairs, not
        # a row each (see incr_many): the arm sync writes a second's decisions
        # this way while the decide path runs. The text goes in unparsed and
        # is stored as the same bytes orjson wrote.
        data = [(key, orjson.dumps(doc).decode()) for key, doc in rows]
        expires = time.time() + ttl_seconds if ttl_seconds is not None else None
        db = self._db
        db.execute("begin immediate")
        try:
            db.execute(
                "insert or replace into docs (view, key, doc, expires)"
                " select ?, value ->> 0, cast(value ->> 1 as blob), ?"
                " from json_each(?)",
                (view, expires, orjson.dumps(data)),
            )
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")
        self._generations.bump(view, (key for key, _ in data))
        return len(data)

    def read_many(self, view: str, keys: list[str]) -> list[Doc | None]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        found = dict(
            self._db.execute(
                f"select key, doc from docs where view = ? and key in ({marks})",
                [view, *keys],
            ).fetchall()
        )
        return [orjson.loads(found[k]) if k in found else None for k in keys]

    def read_through(
        self, alias_view: str, field: str, view: str, keys: list[str]
    ) -> Doc | None:
        # From this worker's memory while no process has written the keys
        # since (see doc_cache); two point reads when it has.
        for key in keys:
            doc = self._cache.resolve(alias_view, field, view, key, self._read_one)
            if doc is not None:
                return doc
        return None

    def _read_one(self, view: str, key: str) -> bytes | None:
        row = self._db.execute(
            "select doc from docs where view = ? and key = ?", (view, key)
        ).fetchone()
        return None if row is None else row[0]

    def prune(self) -> int:
        return self._cache.prune()

    def sweep(self) -> int:
        now = time.time()
        db = self._db
        db.execute("begin immediate")
        try:
            gone = db.execute(
                "delete from docs where expires <= ? returning view, key", (now,)
            ).fetchall()
            counters = db.execute(
                "delete from counters where expires <= ?", (now,)
            ).rowcount
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")
        for view, key in gone:
            self._generations.bump(view, [key])
        return len(gone) + max(counters, 0)

    def delete(self, view: str, keys: list[str]) -> int:
        db = self._db
        db.execute("begin immediate")
        try:
            before = db.total_changes
            db.executemany(
                "delete from docs where view = ? and key = ?", [(view, k) for k in keys]
            )
            removed = db.total_changes - before
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")
        self._generations.bump(view, keys)
        self._cache.prune()
        return removed

    def incr(self, counter: str, by: int = 1, *, ttl_seconds: int | None = None) -> int:
        now = time.time()
        expires = now + ttl_seconds if ttl_seconds is not None else None
        db = self._db
        db.execute("begin immediate")
        try:
            db.execute(
                "delete from counters where name = ? and expires <= ?", (counter, now)
            )
            (value,) = db.execute(
                "insert into counters values (?, ?, ?) on conflict(name) do update"
                " set value = value + excluded.value returning value",
                (counter, by, expires),
            ).fetchone()
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")
        return int(value)

    def incr_many(self, counts: Mapping[str, int]) -> dict[str, int]:
        # Two statements for any number of counters, the increments passed as
        # one JSON object: a worker syncs thousands of arms a second, and
        # Python's sqlite3 hands the GIL back and forth on every row it binds
        # or fetches. Row by row, a sync of 2,000 arms took 150-300 ms of
        # wall time at 1,000 decisions/s and stalled the decide path with
        # thousands of GIL handoffs; this way SQLite does it in one step each.
        if not counts:
            return {}
        payload = orjson.dumps(counts)
        db = self._db
        db.execute("begin immediate")
        try:
            db.execute(
                "insert into counters select key, value, null from json_each(?)"
                " where value != 0 on conflict(name) do update"
                " set value = value + excluded.value",
                (payload,),
            )
            ((totals,),) = db.execute(
                "select json_group_object(name, value) from counters"
                " where name in (select key from json_each(?))",
                (payload,),
            ).fetchall()
        except BaseException:
            db.execute("rollback")
            raise
        db.execute("commit")
        found = orjson.loads(totals)
        return {name: int(found.get(name, 0)) for name in counts}

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class RedisStore:
    """Many workers, many machines: documents as strings under ``view:key``."""

    def __init__(self, url: str, *, prefix: str = "sk:") -> None:
        try:
            import redis
        except ImportError:
            raise MissingDependency(
                "the Redis online store needs the redis client",
                hint="pip install 'shopkeeper[redis]'",
            ) from None
        self.prefix = prefix
        self.client = redis.Redis.from_url(url)

    def _key(self, view: str, key: str) -> str:
        return f"{self.prefix}{view}:{key}"

    def write_batch(
        self,
        view: str,
        rows: Iterable[tuple[str, Doc]],
        *,
        ttl_seconds: int | None = None,
    ) -> int:
        n = 0
        pipe = self.client.pipeline(transaction=False)
        for key, doc in rows:
            pipe.set(self._key(view, key), orjson.dumps(doc), ex=ttl_seconds)
            n += 1
            if n % 5_000 == 0:
                pipe.execute()
        pipe.execute()
        return n

    def read_many(self, view: str, keys: list[str]) -> list[Doc | None]:
        if not keys:
            return []
        found = self.client.mget([self._key(view, k) for k in keys])
        return [orjson.loads(v) if v is not None else None for v in found]

    def read_through(
        self, alias_view: str, field: str, view: str, keys: list[str]
    ) -> Doc | None:
        for alias in self.read_many(alias_view, keys):
            if alias and alias.get(field) is not None:
                (doc,) = self.read_many(view, [str(alias[field])])
                if doc is not None:
                    return doc
        return None

    def delete(self, view: str, keys: list[str]) -> int:
        if not keys:
            return 0
        return int(self.client.delete(*[self._key(view, k) for k in keys]))

    def incr(self, counter: str, by: int = 1, *, ttl_seconds: int | None = None) -> int:
        name = f"{self.prefix}counter:{counter}"
        pipe = self.client.pipeline()
        pipe.incrby(name, by)
        if ttl_seconds is not None:
            pipe.expire(name, ttl_seconds, nx=True)
        value = pipe.execute()[0]
        return int(value)

    def incr_many(self, counts: Mapping[str, int]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        names = list(counts)
        for counter in names:
            pipe.incrby(f"{self.prefix}counter:{counter}", counts[counter])
        return {n: int(v) for n, v in zip(names, pipe.execute(), strict=True)}

    def prune(self) -> int:
        return 0  # nothing kept: every read goes to Redis

    def sweep(self) -> int:
        return 0  # Redis removes what expired itself

    def close(self) -> None:
        self.client.close()


def open_store(url: str) -> OnlineStore:
    """``sqlite:///path/online.sqlite`` (default) or ``redis://host:port/db``."""
    if url.startswith("sqlite:///"):
        return SQLiteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    raise ConfigError(
        f"online store URL {url!r} is neither sqlite:///PATH nor redis://HOST:PORT/DB"
    )


def merge(store: OnlineStore, view: str, key: str, patch: Mapping[str, Any]) -> None:
    """Set top-level fields of one document. Read, then write: the real-time
    changes that use it (a consent, a cart) come one at a time per customer."""
    (doc,) = store.read_many(view, [key])
    store.write_batch(view, [(key, {**(doc or {}), **patch})])
