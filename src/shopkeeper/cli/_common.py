"""What every command shares: the root state, the warehouse, output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from shopkeeper.settings import Settings

__all__ = [
    "AutoTable",
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


class AutoTable:
    """A table that turns into records when the terminal is too narrow for it.

    Rich squeezes a table into the terminal by folding cells, which breaks
    numbers digit by digit. Like psql's expanded display, a table whose
    columns cannot stand side by side without breaking a word or a number
    is printed instead as one block per row: the row's name, then each
    column's name and value on a line of its own.
    """

    def __init__(
        self, table: Table, columns: list[str], rows: list[list[str]], *, extra: int
    ) -> None:
        self.table = table
        self.columns = columns
        self.rows = rows
        self.extra = extra

    def minimum_width(self) -> int:
        """The narrowest the table gets without breaking a word or a number:
        the row names whole, every other column as wide as its longest word."""

        def longest_word(text: str) -> int:
            return max((cell_len(w) for w in text.split()), default=0)

        widths = []
        for j, column in enumerate(self.columns):
            cells = [row[j] for row in self.rows]
            whole = [cell_len(c) for c in cells] if j == 0 else []
            widths.append(
                max([longest_word(column), *whole, *map(longest_word, cells)])
            )
        return sum(widths) + self.extra

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        if self.minimum_width() <= options.max_width:
            yield self.table
            return
        if self.table.title:
            yield Text(str(self.table.title))
        for row in self.rows:
            yield Text(f"{self.columns[0]}: {row[0]}", style="bold")
            record = Table.grid(padding=(0, 2))
            record.add_column(style="dim", no_wrap=True)
            record.add_column(overflow="fold")
            for column, value in zip(self.columns[1:], row[1:], strict=True):
                if value:
                    record.add_row(f"  {column}", value)
            yield record


def table(
    title: str, columns: list[str], rows: list[list[Any]], *, compact: bool = False
) -> AutoTable:
    """A Rich table (records where the terminal is too narrow: :class:`AutoTable`).

    ``compact`` drops the column rules and outer padding, so a wide table of
    short numbers still fits an 80-column terminal side by side.
    """
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
    cells = [[fmt(v) for v in row] for row in rows]
    for row in cells:
        table.add_row(*row)
    # Padding between columns, plus rules and outer padding unless compact.
    n = len(columns)
    return AutoTable(table, columns, cells, extra=2 * (n - 1) if compact else 3 * n + 1)


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
