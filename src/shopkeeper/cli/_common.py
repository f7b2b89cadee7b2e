"""What every command shares: the root state, the warehouse, output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopkeeper.settings import Settings

__all__ = [
    "State",
    "emit_json",
    "err",
    "fmt",
    "open_warehouse",
    "out",
    "print_load",
    "progress",
    "progress_bar",
    "state",
    "table",
]

out = Console()
err = Console(stderr=True)


@dataclass
class State:
    """What the root callback read once at the edge, for every command."""

    settings: Settings
    debug: bool


def state(ctx: typer.Context) -> State:
    """The root State, from any (sub)command's context."""
    root: State = ctx.find_root().obj
    return root


@contextmanager
def open_warehouse(ctx: typer.Context) -> Iterator[Any]:
    from shopkeeper.warehouse import connect

    current = state(ctx)
    wh = connect(settings=current.settings, debug=current.debug)
    try:
        yield wh
    finally:
        wh.close()


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar driven by the library's progress callback."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def callback(description: str, done: int, total: int) -> None:
        group = description.split(" ")[0].rstrip(":")
        if group not in tasks:
            tasks[group] = bar.add_task(description, total=total)
        bar.update(tasks[group], description=description, completed=done, total=total)

    with bar:
        yield callback


def emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def table(
    title: str, columns: list[str], rows: list[list[Any]], *, compact: bool = False
) -> Table:
    """A Rich table; ``compact`` drops the column rules and outer padding, so
    a wide table of short numbers still fits an 80-column terminal."""
    table = (
        Table(
            title=title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        if compact
        else Table(title=title, title_justify="left")
    )
    for index, column in enumerate(columns):
        # The first column names the row; never wrap it.
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*[fmt(v) for v in row])
    return table


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def print_load(report: Any) -> None:
    rows = [[r.table, r.inserted, r.updated, r.unchanged] for r in report.results]
    out.print(
        table(
            f"Loaded {report.source}",
            ["table", "inserted", "updated", "unchanged"],
            rows,
        )
    )
    for note in report.notes:
        out.print(f"[dim]note: {note}[/dim]")


progress = progress_bar
"""The same as progress_bar (do not shadow it with a local named progress)."""
