"""The durable event log: an event is on disk before its 200 is sent.

Each server process appends to its own segment files, so workers never
contend for a lock. A record is framed as ``magic | length | crc32 | payload``
so a reader can tell a complete record from one torn by a crash. Appends use
group commit: requests that arrive while a write+fsync is in flight are queued
and written together by the next one, so one fsync covers many events and
throughput stays high while every acknowledged event is durable.

A writer holds an exclusive ``flock`` on the segment it writes; the kernel
drops it when the process dies, even by SIGKILL. The loader uses that to tell
"still being written" from "writer is gone, the tail is torn".
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shopkeeper.errors import Unavailable

__all__ = [
    "EventLog",
    "SegmentContents",
    "frame",
    "read_segment",
    "segment_is_active",
    "segments",
]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<2sII")
_MAGIC = b"SK"
SUFFIX = ".seg"
LAZY_FLUSH_SECONDS = 0.05
"""The longest a record queued with :meth:`EventLog.append_nowait` waits for
its commit: what a crash may lose of decisions' exposures, never of events."""


def frame(payload: bytes) -> bytes:
    """One record as it lies on disk."""
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def segments(directory: Path) -> list[Path]:
    """Every segment in the log, oldest first (names start with their time)."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == SUFFIX)


def segment_is_active(path: Path) -> bool:
    """Whether a live writer still holds the segment (its tail may be growing)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SegmentContents:
    """The complete records of a segment from an offset, and what follows them.

    ``end`` is the offset just past the last good record; ``tail`` is how many
    bytes after it do not form a complete, checksummed record (0 when clean).
    """

    records: list[bytes]
    end: int
    tail: int
    problem: str | None


def read_segment(
    path: Path, start: int = 0, limit: int | None = None
) -> SegmentContents:
    """Read good records from ``start``; stop at the first incomplete one."""
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read()
    records: list[bytes] = []
    pos = 0
    problem = None
    while pos + _HEADER.size <= len(data):
        if limit is not None and len(records) >= limit:
            break
        magic, length, crc = _HEADER.unpack_from(data, pos)
        if magic != _MAGIC:
            problem = "bad record header"
            break
        body_end = pos + _HEADER.size + length
        if body_end > len(data):
            problem = "record cut short"
            break
        payload = data[pos + _HEADER.size : body_end]
        if zlib.crc32(payload) != crc:
            problem = "checksum mismatch"
            break
        records.append(payload)
        pos = body_end
    else:
        if pos < len(data):
            problem = "record header cut short"
    if limit is not None and len(records) >= limit:
        problem = None
    tail = 0 if problem is None else len(data) - pos
    return SegmentContents(records, start + pos, tail, problem)


class _Segment:
    """One open segment: append-only, exclusively locked while open."""

    def __init__(self, directory: Path) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        self.path = directory / name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self.fd = os.open(self.path, flags, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        _fsync_dir(directory)
        self.size = 0

    def write(self, data: bytes, *, sync: bool) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)
        if sync:
            os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventLog:
    """Group-commit appender for one process's event loop.

    ``append`` returns only when the records are written and (with ``fsync``)
    flushed to disk. When more than ``max_pending`` records wait, or the disk
    refuses a write, it raises :class:`Unavailable` so the API answers 503 with
    Retry-After and the SDK retries: overload never turns into lost events.
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        max_pending: int = 100_000,
        fsync: bool = True,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_pending = max_pending
        self.fsync = fsync
        self._queue: list[tuple[bytes, int, asyncio.Future[None] | None]] = []
        self._pending = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._segment: _Segment | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eventlog")
        self._closing = False
        self._lazy: asyncio.TimerHandle | None = None
        self.appended = 0
        self.commits = 0

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._flusher(), name="eventlog-flusher")

    async def append(self, payloads: list[bytes], *, count: int | None = None) -> None:
        """Make ``payloads`` durable; raises Unavailable instead of waiting forever.

        ``count`` is how many events the payloads hold (a batch request is one
        record of many events); back-pressure and counters are in events.
        """
        if self._wake is None or self._closing:
            raise Unavailable("the event log is not open", retry_after=1)
        count = len(payloads) if count is None else count
        if self._pending + count > self.max_pending:
            raise Unavailable(
                f"the event log has {self._pending} events waiting for disk",
                retry_after=1,
            )
        data = b"".join(frame(p) for p in payloads)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((data, count, future))
        self._pending += count
        self._wake.set()
        # Not shielded: a client that goes away cancels only its wait; the
        # flusher still writes the queued bytes and skips the done future.
        await future

    def append_nowait(self, payloads: list[bytes]) -> bool:
        """Queue ``payloads`` for the next group commit without waiting for it.

        For records whose caller answers before the disk does (a decision's
        exposures): no future, no task, a few microseconds. They wait up to
        ``LAZY_FLUSH_SECONDS`` for a commit, so a thousand decisions a second
        cost about twenty writes instead of a thousand (an event that must be
        durable before its answer flushes them at once). Returns False, having
        queued nothing, when the log is closed or too full; a failed write is
        logged by the flusher.
        """
        if self._wake is None or self._closing:
            return False
        if self._pending + len(payloads) > self.max_pending:
            return False
        self._queue.append((b"".join(frame(p) for p in payloads), len(payloads), None))
        self._pending += len(payloads)
        if self._lazy is None:
            self._lazy = asyncio.get_running_loop().call_later(
                LAZY_FLUSH_SECONDS, self._flush_lazy
            )
        return True

    def _flush_lazy(self) -> None:
        self._lazy = None
        if self._wake is not None:
            self._wake.set()

    async def _flusher(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                if self._closing:
                    return
                continue
            group, self._queue = self._queue, []
            data = b"".join(item[0] for item in group)
            try:
                await loop.run_in_executor(self._executor, self._write, data)
            except OSError as exc:
                log.error("event log write failed: %s", exc)
                error = Unavailable(f"the event log cannot write: {exc.strerror}")
                for _, _, future in group:
                    if future is not None and not future.done():
                        future.set_exception(error)
            else:
                self.commits += 1
                for _, count, future in group:
                    self.appended += count
                    if future is not None and not future.done():
                        future.set_result(None)
            finally:
                self._pending -= sum(item[1] for item in group)
            if self._queue:
                self._wake.set()

    def _write(self, data: bytes) -> None:
        if self._segment is None:
            self._segment = _Segment(self.directory)
        self._segment.write(data, sync=self.fsync)
        if self._segment.size >= self.segment_bytes:
            self._segment.close()
            self._segment = None

    async def close(self) -> None:
        """Write what is queued, then release the segment (a clean shutdown)."""
        self._closing = True
        if self._lazy is not None:
            self._lazy.cancel()
            self._lazy = None
        if self._wake is not None and self._task is not None:
            self._wake.set()
            await self._task
        if self._segment is not None:
            self._segment.close()
            self._segment = None
        self._executor.shutdown(wait=True)
