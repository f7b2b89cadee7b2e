"""Named stages with declared inputs and outputs, run in dependency order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from shopkeeper.errors import InvalidInput, NotFound
from shopkeeper.model import TableSpec
from shopkeeper.settings import Settings
from shopkeeper.warehouse.core import Warehouse, hint_for

__all__ = ["BuildContext", "Progress", "Stage", "StageResult", "plan", "run_build"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(description, done, total)``; the CLI draws it with Rich."""


@dataclass
class BuildContext:
    """What a stage's ``run`` receives: where to write and how to behave."""

    wh: Warehouse
    settings: Settings
    as_of: date | None = None
    progress: Progress | None = None

    def step(self, description: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(description, done, total)


@dataclass(frozen=True)
class Stage:
    """A unit of the build: reads ``inputs`` tables and (re)writes ``outputs``.

    Stages are rerunnable: ``run`` replaces its outputs from its inputs, so
    building twice gives the same tables.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[TableSpec, ...]
    run: Callable[[BuildContext], None]
    doc: str

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)


@dataclass(frozen=True)
class StageResult:
    stage: str
    seconds: float
    rows: dict[str, int]


def plan(stages: Sequence[Stage], wanted: Sequence[str] | None = None) -> list[Stage]:
    """The stages to run, upstream first.

    With ``wanted`` only those stages run (their inputs must already exist);
    without it, every stage. Order comes from matching inputs to outputs, not
    from the order given, so adding a stage never needs a hand-kept list.
    """
    by_name = {s.name: s for s in stages}
    unknown = [w for w in wanted or () if w not in by_name]
    if unknown:
        raise InvalidInput(
            f"unknown stage(s) {unknown}; stages are: {', '.join(by_name)}"
        )
    producer = {out: s.name for s in stages for out in s.output_names}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise InvalidInput(f"stage {name!r} depends on itself")
        visiting.add(name)
        for table in by_name[name].inputs:
            upstream = producer.get(table)
            if upstream is not None and upstream != name:
                visit(upstream)
        visiting.discard(name)
        ordered.append(name)

    for stage in stages:
        visit(stage.name)
    chosen = set(wanted) if wanted else set(by_name)
    return [by_name[n] for n in ordered if n in chosen]


def run_build(
    wh: Warehouse,
    stages: Sequence[Stage],
    wanted: Sequence[str] | None = None,
    *,
    settings: Settings,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> list[StageResult]:
    """Run the planned stages; fails before any work if an input is missing."""
    chosen = plan(stages, wanted)
    will_exist = {name for s in chosen for name in s.output_names}
    for stage in chosen:
        missing = [t for t in stage.inputs if t not in will_exist and not wh.exists(t)]
        if missing:
            raise NotFound(
                f"stage {stage.name!r} needs table(s) {missing}, which the "
                "warehouse does not have",
                hint=hint_for(missing[0]),
            )
    results = []
    for index, stage in enumerate(chosen):
        if progress is not None:
            progress(f"build {stage.name}", index, len(chosen))
        started = time.perf_counter()
        stage.run(BuildContext(wh, settings, as_of, progress))
        rows = {name: wh.count(name) for name in stage.output_names}
        results.append(StageResult(stage.name, time.perf_counter() - started, rows))
    if progress is not None:
        progress("build done", len(chosen), len(chosen))
    return results
