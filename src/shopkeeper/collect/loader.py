"""All-or-nothing loading of validated batches into canonical tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import ImportRefused
from shopkeeper.model import TableSpec
from shopkeeper.warehouse import Progress, UpsertResult, Warehouse

__all__ = ["Batch", "LoadReport", "check_batch", "load"]


@dataclass(frozen=True)
class Batch:
    """Rows bound for one canonical table, and where they came from.

    ``rows`` may carry extra columns; the warehouse keeps only the declared
    ones. ``notes`` explain anything the importer did to the source rows (for
    example exact duplicate rows collapsed) so the report can say it.
    """

    spec: TableSpec
    rows: ir.Table
    source: str
    notes: tuple[str, ...] = ()


@dataclass
class LoadReport:
    """What one import did, table by table."""

    source: str
    results: list[UpsertResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(r.written for r in self.results)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "tables": [
                {
                    "table": r.table,
                    "inserted": r.inserted,
                    "updated": r.updated,
                    "unchanged": r.unchanged,
                }
                for r in self.results
            ],
            "notes": self.notes,
        }


def check_batch(wh: Warehouse, batch: Batch, *, examples: int = 3) -> list[str]:
    """Problems that would make ``batch`` unsafe to load: null or duplicate keys.

    Runs on the engine, so it costs one aggregation per table, not a Python
    loop over rows. Each problem names the source and shows example keys.
    """
    problems: list[str] = []
    rows = batch.rows
    not_null = batch.spec.not_null
    counts = wh.execute(
        rows.aggregate([rows[c].isnull().sum().name(c) for c in not_null])
    )
    for column in not_null:
        nulls = int(counts[column].iloc[0] or 0)
        if nulls:
            problems.append(
                f"{batch.source}: {nulls} row(s) with no {column} "
                f"(required for table {batch.spec.name})"
            )
    key = list(batch.spec.key)
    dupes = rows.group_by(key).agg(n=ibis._.count()).filter(ibis._.n > 1)
    n_dupes = wh.count(dupes)
    if n_dupes:
        sample = wh.execute(dupes.order_by(key).limit(examples))
        shown = ", ".join(
            "(" + ", ".join(str(r[c]) for c in key) + ")"
            for r in sample.to_dict("records")
        )
        problems.append(
            f"{batch.source}: duplicate key {tuple(key)} for {n_dupes} key(s), "
            f"e.g. {shown}"
        )
    return problems


def load(
    wh: Warehouse,
    batches: Sequence[Batch],
    *,
    source: str,
    progress: Progress | None = None,
) -> LoadReport:
    """Stage and validate every batch, then upsert them all in one transaction.

    Each batch is conformed to its table's schema and materialised once, so
    the checks and the write read the same rows and casts run once.

    Nothing is written unless every batch passes; on DuckDB an interruption
    during the writes (an error, Ctrl-C) rolls back the whole import. Loading
    the same rows again changes nothing.
    """
    missing = [
        f"{b.source}: missing column(s) {', '.join(cols)}"
        for b in batches
        if (cols := [c for c in b.spec.columns if c not in b.rows.columns])
    ]
    if missing:
        raise ImportRefused(source, missing)
    staged: list[Batch] = []
    try:
        for index, batch in enumerate(batches):
            _tick(progress, f"read {batch.spec.name}", index, len(batches))
            rows = wh.conform(batch.spec, batch.rows)
            rows = wh.checkpoint(rows, f"_tmp_stage_{batch.spec.name}")
            staged.append(Batch(batch.spec, rows, batch.source, batch.notes))
        problems = [p for batch in staged for p in check_batch(wh, batch)]
        if problems:
            raise ImportRefused(source, problems)
        report = LoadReport(source)
        for batch in staged:
            report.notes.extend(batch.notes)
        wh.create_tables([b.spec for b in staged])
        with wh.transaction():
            for index, batch in enumerate(staged):
                _tick(progress, f"load {batch.spec.name}", index, len(staged))
                report.results.append(wh.upsert(batch.spec, batch.rows))
            _tick(progress, "load done", len(staged), len(staged))
        return report
    finally:
        for batch in staged:
            wh.drop_temp(f"_tmp_stage_{batch.spec.name}")


def _tick(progress: Progress | None, description: str, done: int, total: int) -> None:
    if progress is not None:
        progress(description, done, total)
