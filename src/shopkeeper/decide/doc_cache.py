"""A worker's memory of the documents it read, kept exactly as fresh as the store.

Every decision starts by resolving an identifier to its customer's document.
From SQLite that is a query, a page lookup and a JSON parse: about 70 us in a
busy server, a tenth of a decision. Most decisions are for customers decided
for a moment ago, so a worker keeps what it read; the question is only when
a kept document is stale, since any process (another worker, the collector,
an export, an erasure) may write the store.

Writers tell readers through a small file of write counters next to the
store, memory-mapped by every process that opens it: each key hashes to a
slot, and a writer adds one to its key's slot *after* it commits. A reader
notes the slot's value *before* it reads the key, and a kept document is
used only while the slots it was read under still hold those values. So a
document is never served after a write that committed before the decision
began; checking costs two reads of shared memory, not a query. Slots are
shared by many keys: a write elsewhere can only cause a needless re-read.

Nothing here keeps what the store has dropped for long: an entry whose
slots moved is dropped when it is next looked up, and :meth:`DocCache.prune`
(the arm sync calls it every second) drops every such entry, so an erased
customer leaves a worker's memory within a second. Pruning compares the
whole counter file with its last copy (one vectorized pass over 512 KiB) and
looks only at the entries of the slots that moved: walking every entry cost
4 ms a second with 2,500 customers kept, and would cost 80 ms at 50,000.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["DocCache", "Generations"]

Doc = dict[str, Any]

_SLOTS = 1 << 16
"""Write counters: 512 KiB shared; at a thousand writes a second a given
slot moves about once a minute, so needless re-reads stay rare."""
_MASK = (1 << 64) - 1


class Generations:
    """Write counters per key slot, shared by every process through one file."""

    def __init__(self, path: Path) -> None:
        size = _SLOTS * 8
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._slots = memoryview(self._map).cast("Q")

    def snapshot(self) -> np.ndarray:
        """A copy of every slot's counter, to tell later which ones moved."""
        return np.frombuffer(self._map, dtype=np.uint64).copy()

    @staticmethod
    def slot(view: str, key: str) -> int:
        return zlib.crc32(f"{view}\0{key}".encode()) & (_SLOTS - 1)

    def __getitem__(self, slot: int) -> int:
        return self._slots[slot]

    def bump(self, view: str, keys: Iterable[str]) -> None:
        """Mark these keys written: call after the write has committed.

        Two processes bumping one slot at once may both store the same value;
        it still differs from what any reader noted, which is all that counts.
        """
        slots = self._slots
        for key in keys:
            s = self.slot(view, str(key))
            slots[s] = (slots[s] + 1) & _MASK


class DocCache:
    """Identifier -> its resolved document, as read under which write counters.

    A resolved document is the same object for every decision that gets it:
    callers read it and never change it.
    """

    def __init__(self, generations: Generations, *, max_entries: int = 50_000) -> None:
        self.generations = generations
        self.max_entries = max_entries
        self._entries: dict[tuple[str, ...], tuple[int, int, int, int, Doc | None]] = {}
        # Which entries were read under each slot, and the counters as the
        # last prune saw them: a prune looks only where they have moved.
        self._by_slot: dict[int, set[tuple[str, ...]]] = {}
        self._seen = generations.snapshot()

    def resolve(
        self,
        alias_view: str,
        field: str,
        view: str,
        key: str,
        read: Callable[[str, str], bytes | None],
    ) -> Doc | None:
        """The ``view`` document the alias ``key`` names in ``field`` (None if
        the alias or its document is missing), read with ``read(view, key)``
        only when what is kept may be stale."""
        gens = self.generations
        name = (alias_view, field, view, key)
        kept = self._entries.get(name)
        if kept is not None:
            a_slot, a_gen, d_slot, d_gen, doc = kept
            if gens[a_slot] == a_gen and (d_slot < 0 or gens[d_slot] == d_gen):
                return doc
        a_slot = gens.slot(alias_view, key)
        a_gen = gens[a_slot]
        d_slot, d_gen, doc = -1, 0, None
        alias = read(alias_view, key)
        target = _field(alias, field) if alias is not None else None
        if target is not None:
            d_slot = gens.slot(view, target)
            d_gen = gens[d_slot]
            found = read(view, target)
            doc = orjson.loads(found) if found is not None else None
            if doc is None:
                # The alias names a document that is not there (yet): keep
                # nothing, so the next read looks again.
                self._entries.pop(name, None)
                return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
            self._by_slot.clear()
        self._entries[name] = (a_slot, a_gen, d_slot, d_gen, doc)
        self._by_slot.setdefault(a_slot, set()).add(name)
        if d_slot >= 0:
            self._by_slot.setdefault(d_slot, set()).add(name)
        return doc

    def prune(self) -> int:
        """Drop every entry a write has made stale; returns how many.

        A slot that moves after the copy is taken moves again relative to it,
        so the next prune sees it: nothing stale outlives two prunes.
        """
        gens = self.generations
        now = gens.snapshot()
        moved = np.flatnonzero(now != self._seen)
        self._seen = now
        dropped = 0
        for slot in moved.tolist():
            names = self._by_slot.pop(slot, None)
            if not names:
                continue
            for name in names:
                kept = self._entries.get(name)
                if kept is None:
                    continue
                a_slot, a_gen, d_slot, d_gen, _ = kept
                if gens[a_slot] != a_gen or (d_slot >= 0 and gens[d_slot] != d_gen):
                    del self._entries[name]
                    dropped += 1
                else:  # read again since the slot moved: still watched here
                    self._by_slot.setdefault(slot, set()).add(name)
        return dropped

    def __len__(self) -> int:
        return len(self._entries)


def _field(alias: bytes, field: str) -> str | None:
    value = orjson.loads(alias).get(field)
    return None if value is None else str(value)
