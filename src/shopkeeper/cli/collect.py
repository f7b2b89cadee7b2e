"""Event sources, the durable event log's loader, and the HTTP server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, out, state, table

app = typer.Typer()
sources_app = typer.Typer(
    help="Event sources and their write keys.", no_args_is_help=True
)
collect_app = typer.Typer(
    help="The durable event log and its loader.", no_args_is_help=True
)


# -- sources, collect, serve ---------------------------------------------------
def _registry(ctx: typer.Context) -> Any:
    from shopkeeper.collect.sources import SourceRegistry
    from shopkeeper.server.app import state_paths

    return SourceRegistry(state_paths(state(ctx).settings)["sources"])


def _print_source(source: Any, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(source.as_dict())
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
        emit_json([s.as_dict() for s in sources])
        return
    rows = [
        [s.name, s.source_id, s.channel, s.status, s.created_at, s.key_rotated_at]
        for s in sources
    ]
    columns = ["name", "id", "channel", "status", "created", "key rotated"]
    out.print(table("Sources", columns, rows))


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

    report = load_once(state(ctx).settings, replay=replay)
    if as_json:
        emit_json(report.as_dict())
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
        state(ctx).settings,
        host=host,
        port=port,
        workers=workers,
        loader=loader,
        access_log=access_log,
    )
