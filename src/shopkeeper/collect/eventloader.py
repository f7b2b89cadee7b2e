"""Move the durable event log into the warehouse ``events`` table, exactly once.

Reading is at-least-once (a checkpoint records how far each segment was
loaded, and is written only after the warehouse commit), and writing is
idempotent (a row whose source and messageId are already stored is skipped),
so together every acknowledged event lands exactly once, even across a crash
between the two steps. ``replay`` ignores the checkpoint and reads every
segment again, which the same idempotence makes safe.

A segment whose writer is gone (its lock released, by exit or by SIGKILL) and
whose last record is incomplete has a torn tail: that record was never
acknowledged, so it is skipped with a log line instead of being half-loaded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import orjson
import pyarrow as pa

from shopkeeper import model
from shopkeeper.collect.consent_events import consent_rows
from shopkeeper.collect.eventlog import read_segment, segment_is_active, segments
from shopkeeper.collect.logscrub import EXPOSURE_KIND, REFUSAL_KIND, log_lock
from shopkeeper.collect.messages import read_record, record_rows
from shopkeeper.warehouse import Warehouse

__all__ = ["EventLoadReport", "load_events", "records_to_arrow", "unloaded_bytes"]

log = logging.getLogger(__name__)

CHECKPOINT = "loaded.json"
_TIME_COLUMNS = ("timestamp", "original_timestamp", "sent_at", "received_at")


@dataclass
class EventLoadReport:
    """What one loader pass did."""

    segments: int = 0
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    torn: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "segments": self.segments,
            "records": self.records,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "torn": self.torn,
        }


def _arrow_schema() -> pa.Schema:
    """The log's record layout: the events columns, times as epoch microseconds."""
    fields = []
    for name, dtype in model.EVENTS.columns.items():
        kind = pa.int64() if name in _TIME_COLUMNS else pa.string()
        assert dtype in ("string", "timestamp"), (name, dtype)
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


_SCHEMA = _arrow_schema()


def records_to_arrow(records: list[bytes]) -> pa.Table:
    """Decode log records (one per accepted request) into ``events`` rows."""
    rows = [row for r in records for row in record_rows(r)]
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    for name in _TIME_COLUMNS:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table[name].cast(pa.timestamp("us")))
    return table


def _read_checkpoint(directory: Path) -> dict[str, int]:
    path = directory / CHECKPOINT
    if not path.exists():
        return {}
    return {k: int(v) for k, v in json.loads(path.read_text()).items()}


def unloaded_bytes(directory: Path) -> int:
    """Bytes of the durable log the loader has not reached yet: the loader's
    health at a glance (steady near zero; growing means it is stuck)."""
    if not directory.exists():
        return 0
    offsets = _read_checkpoint(directory)
    return sum(
        max(0, path.stat().st_size - offsets.get(path.name, 0))
        for path in segments(directory)
    )


def _write_checkpoint(directory: Path, offsets: dict[str, int]) -> None:
    path = directory / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        json.dump(offsets, fh, indent=0, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _decision_rows(records: list[bytes], spec: model.TableSpec) -> pa.Table:
    """Rows of exposure or refusal records, times from epoch microseconds."""
    rows = [row for r in records for row in orjson.loads(read_record(r)[1])]
    schema = pa.schema(
        [
            pa.field(name, _EXPOSURE_TYPES.get(dtype, pa.string()))
            for name, dtype in spec.columns.items()
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    for i, (name, dtype) in enumerate(spec.columns.items()):
        if dtype == "timestamp":
            table = table.set_column(i, name, table[name].cast(pa.timestamp("us")))
    return table


_DECISION_KINDS = {EXPOSURE_KIND: model.EXPOSURES, REFUSAL_KIND: model.REFUSALS}
"""Log record kinds that hold decision rows, and the table each loads into."""


_EXPOSURE_TYPES = {
    "int32": pa.int32(),
    "float64": pa.float64(),
    "timestamp": pa.int64(),
}


def _store(wh: Warehouse, records: list[bytes]) -> tuple[int, int]:
    """Insert the records not stored yet; (inserted, duplicates)."""
    kinds = [read_record(r)[0].get("kind") for r in records]
    for kind, spec in _DECISION_KINDS.items():
        mine = [r for r, k in zip(records, kinds, strict=True) if k == kind]
        if not mine:
            continue
        batch = f"_tmp_{spec.name}_batch"
        staged = wh.stage_arrow(batch, _decision_rows(mine, spec))
        try:
            (key,) = spec.key
            wh.insert_new(spec, staged.distinct(on=key, keep="first"))
        finally:
            wh.drop_temp(batch)
    if any(k in _DECISION_KINDS for k in kinds):
        records = [
            r for r, k in zip(records, kinds, strict=True) if k not in _DECISION_KINDS
        ]
    data = records_to_arrow(records)
    staged = wh.stage_arrow("_tmp_events_batch", data)
    try:
        key = list(model.EVENTS.key)
        # A retried message can appear twice in one micro-batch: keep the
        # copy received first.
        ranked = staged.mutate(
            _rank=ibis.row_number().over(
                group_by=key, order_by=[staged.received_at, staged.timestamp]
            )
        )
        first = ranked.filter(ranked._rank == 0).drop("_rank")
        inserted = wh.insert_new(model.EVENTS, first)
        # Consent changes sent as events join the ledger in the same
        # transaction, keyed by their event, so replays add nothing.
        wh.insert_new(model.CONSENTS, consent_rows(first))
    finally:
        wh.drop_temp("_tmp_events_batch")
    return inserted, data.num_rows - inserted


def load_events(
    wh: Warehouse,
    directory: Path,
    *,
    replay: bool = False,
    batch_records: int = 2_000,
    progress: Callable[[int], None] | None = None,
) -> EventLoadReport:
    """Load every complete record not loaded yet (or all of them, with ``replay``).

    ``batch_records`` bounds a micro-batch in log records (one per accepted
    request, so up to 2,500 events each); ``report.records`` counts events.
    """
    report = EventLoadReport()
    offsets = {} if replay else _read_checkpoint(directory)
    pending: list[bytes] = []
    moved: dict[str, int] = {}

    def flush() -> None:
        if pending:
            with wh.transaction():
                inserted, dups = _store(wh, pending)
            report.inserted += inserted
            report.duplicates += dups
            report.records += inserted + dups
            if progress is not None:
                progress(inserted + dups)
            pending.clear()
        if moved:
            offsets.update(moved)
            _write_checkpoint(directory, offsets)
            moved.clear()

    with log_lock(directory, exclusive=False):
        _read_segments(directory, offsets, pending, moved, report, batch_records, flush)
    flush()
    return report


def _read_segments(
    directory: Path,
    offsets: dict[str, int],
    pending: list[bytes],
    moved: dict[str, int],
    report: EventLoadReport,
    batch_records: int,
    flush: Callable[[], None],
) -> None:
    for path in segments(directory):
        start = offsets.get(path.name, 0)
        size = path.stat().st_size
        if start >= size:
            continue
        report.segments += 1
        while True:
            # Decide liveness before reading: a writer that exits after this
            # check has only completed its records, never torn them.
            active = segment_is_active(path)
            room = batch_records - len(pending)
            contents = read_segment(path, start, limit=room)
            pending.extend(contents.records)
            start = contents.end
            if contents.problem and not active:
                message = (
                    f"{path.name}: {contents.problem} at byte {contents.end}; "
                    f"skipped the last {contents.tail} bytes (never acknowledged)"
                )
                log.warning("event log: %s", message)
                report.torn.append(message)
                start = contents.end + contents.tail
            moved[path.name] = start
            if len(pending) >= batch_records:
                flush()
                continue
            break
