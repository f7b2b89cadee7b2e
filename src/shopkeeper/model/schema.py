"""How a table is declared: its columns, types, key and the person it is about."""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.schema as sch

__all__ = ["TableSpec"]


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table, declared once and used by every engine.

    Types are Ibis type strings so DuckDB and Spark get the same columns.
    Timestamps are naive and mean UTC (both engines run with a UTC session).
    JSON payloads (event properties, traits, context) are stored as JSON text,
    which every engine can hold and query.

    Args:
        name: table name in the warehouse.
        columns: column name -> Ibis type, in table order.
        key: columns that identify a row; imports upsert on them and refuse
            duplicates.
        required: columns that may never be null (the key always is).
        subject: the column naming the person or household a row is about, so
            export and erasure can reach every table (None for reference data).
        subjects: every column that names the person (``subject`` included),
            with the identifier prefixes its raw values need: ``("",)`` when
            the column already holds typed identifiers or customer ids,
            ``("user:",)`` for an event's raw ``user_id``. Defaults to
            ``{subject: ("",)}``.
        subject_via: ``(parent table, column)`` for rows about a person only
            through a parent row (an order's lines through the order).
        doc: what a row is.
    """

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    doc: str
    required: tuple[str, ...] = ()
    subject: str | None = None
    stage: str = "collect"
    subjects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subject_via: tuple[str, str] | None = None
    _schema: sch.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [c for c in (*self.key, *self.required) if c not in self.columns]
        if self.subject is not None and self.subject not in self.columns:
            missing.append(self.subject)
        missing += [c for c in self.subjects if c not in self.columns]
        if self.subject_via is not None and self.subject_via[1] not in self.columns:
            missing.append(self.subject_via[1])
        if missing:
            raise ValueError(f"table {self.name}: unknown columns {missing}")
        object.__setattr__(self, "_schema", ibis.schema(self.columns))

    @property
    def schema(self) -> sch.Schema:
        return self._schema

    @property
    def subject_columns(self) -> dict[str, tuple[str, ...]]:
        """Column -> identifier prefixes, for every column naming the person."""
        out = {self.subject: ("",)} if self.subject is not None else {}
        return {**out, **self.subjects}

    @property
    def not_null(self) -> tuple[str, ...]:
        """Key and required columns, in table order."""
        wanted = set(self.key) | set(self.required)
        return tuple(c for c in self.columns if c in wanted)
