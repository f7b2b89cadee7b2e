"""Erase messages from the durable event log in place, without losing the rest.

Erasure must reach the log too, not only the warehouse: a replay would
otherwise bring a forgotten person back. Segments are append-only and a live
writer keeps appending to its file, so a segment is never rewritten into a new
file; instead each record that names the person is overwritten where it lies
with a record of exactly the same length: the request without that person's
messages, padded with JSON whitespace (or an empty batch when nothing is
left). Writers only append past the end we read, so nothing they write is
touched, and record boundaries, the loader's offsets and every other message
stay as they were.

Loader and scrubber exclude each other with a lock file in the log directory,
so the loader never reads a record while it is being overwritten.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shopkeeper.collect.eventlog import frame, read_segment, segments
from shopkeeper.collect.messages import dump_json, read_record, write_record

__all__ = ["EXPOSURE_KIND", "REFUSAL_KIND", "ScrubReport", "log_lock", "scrub_log"]

EXPOSURE_KIND = "exposure"
"""Log records of this kind hold the exposures of one decision, not events:
the decide API logs them durably before answering, like any event."""

REFUSAL_KIND = "refusal"
"""Log records of this kind hold one refused decision (consent, quiet hours,
cap, no candidates): rows shaped like exposures, naming their person in
``identifier``, so they are scrubbed the same way."""

_HEADER_BYTES = len(frame(b""))


@contextmanager
def log_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Shared for the loader's pass, exclusive for a scrub."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "scrub.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@dataclass
class ScrubReport:
    segments: int = 0
    records: int = 0
    messages: int = 0


def _without(
    payload: bytes, matches: Callable[[Mapping[str, Any]], bool]
) -> tuple[bytes, int] | None:
    """The record rewritten without matching messages, or None if none match."""
    header, body = read_record(payload)
    parsed = orjson.loads(body)
    kind = header.get("kind")
    if kind in (EXPOSURE_KIND, REFUSAL_KIND):
        # A decision's exposures or refusal: rows that name their person.
        rows = [r for r in parsed if not matches({"identifier": r.get("identifier")})]
        if len(rows) == len(parsed):
            return None
        return write_record(header, dump_json(rows)), len(parsed) - len(rows)
    if kind is not None:
        if not matches(parsed):
            return None
        # Nothing of the request is left: an empty batch, which loads as nothing.
        return write_record({**header, "kind": None}, b'{"batch":[]}'), 1
    batch = parsed.get("batch") or []
    shared = {"context": parsed["context"]} if parsed.get("context") else None
    if shared is not None and matches(shared):
        kept: list[Any] = []
    else:
        kept = [item for item in batch if not matches(item)]
    removed = len(batch) - len(kept)
    if removed == 0:
        return None
    if not kept:
        return write_record({**header, "kind": None}, b'{"batch":[]}'), removed
    # Keep the original digest so messages without a messageId keep the id
    # the loader generated for them (a replay must not duplicate them).
    digested = {**header, "digest": hashlib.sha256(payload).hexdigest()[:24]}
    new_body = dump_json({**parsed, "batch": kept})
    record = write_record(digested, new_body)
    if len(record) > len(payload):
        record = write_record(header, new_body)
    return record, removed


def scrub_log(
    directory: Path, matches: Callable[[Mapping[str, Any]], bool]
) -> ScrubReport:
    """Overwrite every message for which ``matches`` is true, in every segment."""
    report = ScrubReport()
    with log_lock(directory, exclusive=True):
        for path in segments(directory):
            contents = read_segment(path)
            offset = 0
            changed = False
            fd = None
            try:
                for payload in contents.records:
                    rewritten = _without(payload, matches)
                    if rewritten is not None:
                        record, removed = rewritten
                        padded = record + b" " * (len(payload) - len(record))
                        if fd is None:
                            fd = os.open(path, os.O_WRONLY)
                        os.pwrite(fd, frame(padded), offset)
                        changed = True
                        report.records += 1
                        report.messages += removed
                    offset += _HEADER_BYTES + len(payload)
                if fd is not None:
                    os.fdatasync(fd)
            finally:
                if fd is not None:
                    os.close(fd)
            report.segments += changed
    return report
