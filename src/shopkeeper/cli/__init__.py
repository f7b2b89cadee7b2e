"""The ``shopkeeper`` command line: thin commands over library functions.

Each module holds one group of commands; this one builds the root app, reads
the global options once, and mounts the groups.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from shopkeeper.cli import (
    activate,
    cleanroom,
    collect,
    core,
    decide,
    evaluate,
    insights,
    measure,
    offers,
    privacy,
    segment,
)
from shopkeeper.cli._common import State, err
from shopkeeper.errors import ShopkeeperError
from shopkeeper.settings import load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Shopkeeper: know every customer, in the store and online.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.registered_commands += core.app.registered_commands
app.registered_commands += collect.app.registered_commands
app.registered_commands += decide.app.registered_commands
app.add_typer(core.import_app, name="import")
app.add_typer(collect.sources_app, name="sources")
app.add_typer(collect.collect_app, name="collect")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(decide.online_app, name="online")
app.add_typer(segment.app, name="segment")
app.add_typer(cleanroom.app, name="cleanroom")
app.add_typer(measure.measure_app, name="measure")
app.add_typer(measure.report_app, name="report")
app.add_typer(offers.app, name="offers")
app.add_typer(activate.app, name="activate")
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(insights.app, name="insights")


@app.callback()
def root(
    ctx: typer.Context,
    warehouse: Annotated[
        str | None,
        typer.Option(help="Warehouse URL; overrides SHOPKEEPER_WAREHOUSE."),
    ] = None,
    debug: Annotated[
        bool, typer.Option(help="Show tracebacks and log the SQL of each write.")
    ] = False,
) -> None:
    if debug:
        logging.basicConfig(level=logging.INFO)
    ctx.obj = State(load_settings(warehouse=warehouse), debug)


def main() -> None:
    """Entry point: run the app, turning ShopkeeperError into one red line.

    Usage errors are Typer's own (exit 2); a ShopkeeperError prints a message
    and a hint on stderr and exits 1; the traceback only shows with --debug.
    """
    try:
        app()
    except ShopkeeperError as exc:
        if "--debug" in sys.argv:
            err.print_exception()
        err.print(f"[red]Error:[/red] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"[dim]Hint: {exc.hint}[/dim]", highlight=False)
        sys.exit(1)
