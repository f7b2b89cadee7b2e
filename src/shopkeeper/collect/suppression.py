"""Suppressed identifiers: whose events the collector drops on arrival.

A person who asked to be forgotten (or only suppressed) must not be re-created
by the next event their old cookie or e-mail sends. The list keeps no
identifier, only ``HMAC-SHA256(salt, identifier)``: a tombstone. The salt lives
in its own file, so a copy of the list alone cannot be matched against a
dictionary of e-mail addresses, and Shopkeeper can still recognise the same
identifier when it comes back.

The list is a small SQLite file in the state directory (as the source
registry is): server workers read it on the hot path, with a one-second cache,
while a privacy job adds to it.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopkeeper.collect.personal import hash_email, hash_phone
from shopkeeper.collect.secret_file import secret_file

__all__ = ["SuppressionList", "message_identifiers"]

_SCHEMA = """
create table if not exists tombstones (
    digest text primary key,
    kind text not null,
    request_id text,
    created_at text not null
)
"""

_LOYALTY_KEYS = ("loyaltyId", "loyalty_card", "loyaltyCard")


def _traits(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = []
    for traits in (message.get("traits"), (message.get("context") or {}).get("traits")):
        if isinstance(traits, Mapping):
            found.append(traits)
    return found


def message_identifiers(message: Mapping[str, Any]) -> set[str]:
    """Every typed identifier a Segment message names, as the identity stage reads
    them: user and anonymous ids, the alias's previous id (either kind), e-mail,
    phone and loyalty card in its traits, and ``context.externalIds``."""
    names: set[str] = set()
    for key, prefixes in (
        ("userId", ("user:",)),
        ("anonymousId", ("anon:",)),
        ("previousId", ("user:", "anon:")),
    ):
        value = message.get(key)
        if value is not None and value != "":
            names.update(prefix + str(value) for prefix in prefixes)
    for traits in _traits(message):
        if isinstance(traits.get("email"), str) and traits["email"].strip():
            names.add("email:" + hash_email(traits["email"]))
        if isinstance(traits.get("phone"), str) and traits["phone"].strip():
            names.add("phone:" + hash_phone(traits["phone"]))
        for key in _LOYALTY_KEYS:
            if traits.get(key) not in (None, ""):
                names.add(f"loyalty:{traits[key]}")
    external = (message.get("context") or {}).get("externalIds")
    if isinstance(external, list):
        for item in external:
            if not isinstance(item, Mapping) or item.get("id") in (None, ""):
                continue
            raw, kind = str(item["id"]), str(item.get("type", "")).lower()
            if kind == "email":
                names.add("email:" + hash_email(raw))
            elif kind == "phone":
                names.add("phone:" + hash_phone(raw))
            elif kind in ("loyalty", "loyalty_card", "loyaltyid"):
                names.add("loyalty:" + raw)
            elif kind in ("user_id", "userid"):
                names.add("user:" + raw)
            elif kind in ("anonymous_id", "anonymousid"):
                names.add("anon:" + raw)
    return names


class SuppressionList:
    """Tombstones of suppressed identifiers, checked on every tracked message."""

    def __init__(
        self, path: Path, *, salt_path: Path | None = None, cache_seconds: float = 1.0
    ) -> None:
        self.path = path
        self.salt_path = salt_path or path.with_suffix(".salt")
        self.cache_seconds = cache_seconds
        self._salt: bytes | None = None
        self._digests: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("pragma journal_mode=wal")
        db.execute(_SCHEMA)
        return db

    def salt(self) -> bytes:
        """The secret salt, created (readable by the owner only) on first use."""
        if self._salt is None:
            self._salt = secret_file(self.salt_path)
        return self._salt

    def digest(self, identifier: str) -> str:
        return hmac.new(self.salt(), identifier.encode(), hashlib.sha256).hexdigest()

    def add(
        self, identifiers: Iterable[str], *, kind: str, request_id: str | None
    ) -> int:
        """Tombstone ``identifiers``; returns how many were not suppressed yet."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [(self.digest(i), kind, request_id, now) for i in set(identifiers)]
        with closing(self._connect()) as db, db:
            before = db.total_changes
            db.executemany("insert or ignore into tombstones values (?, ?, ?, ?)", rows)
            added = db.total_changes - before
        self._read_at = float("-inf")
        return added

    def digests(self) -> frozenset[str]:
        """Every tombstone, re-read at most once per ``cache_seconds``."""
        now = time.monotonic()
        if now - self._read_at >= self.cache_seconds:
            if self.path.exists():
                with closing(self._connect()) as db:
                    found = db.execute("select digest from tombstones").fetchall()
                self._digests = frozenset(row[0] for row in found)
            self._read_at = now
        return self._digests

    def contains(self, identifier: str) -> bool:
        return self.digest(identifier) in self.digests()

    def suppressed(self, message: Mapping[str, Any]) -> bool:
        """Whether the message names any suppressed identifier."""
        digests = self.digests()
        if not digests:
            return False
        return any(self.digest(i) in digests for i in message_identifiers(message))

    def count(self) -> int:
        return len(self.digests())
