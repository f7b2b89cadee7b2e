"""The partner clean room: partners and their keys, queries, the query log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, state, table

app = typer.Typer(
    help="The partner clean room: aggregate-only queries over approved views.",
    no_args_is_help=True,
)


def _room(ctx: typer.Context) -> Any:
    from shopkeeper.trust.cleanroom import CleanRoom

    return CleanRoom.from_settings(state(ctx).settings)


def _print_partner(partner: Any, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(partner.as_dict())
        return
    out.print(
        f"{verb} partner [bold]{partner.name}[/bold], id {partner.partner_id}, "
        f"manufacturers {', '.join(partner.manufacturer_ids)}, {partner.status}"
    )
    if partner.key:
        out.print(f"partner key (shown once, hand it over now): {partner.key}")


@app.command("partner-add")
def partner_add_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The brand or vendor.")],
    manufacturer: Annotated[
        list[str],
        typer.Option(help="A manufacturer id the partner owns (repeat for more)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register a partner and print its key (only this once)."""
    _print_partner(_room(ctx).registry.add(name, manufacturer), as_json, "Added")


@app.command("partner-disable")
def partner_disable_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Partner name or id.")],
) -> None:
    """Stop a partner's key from opening the clean room (the log stays)."""
    _print_partner(_room(ctx).registry.set_status(name, "disabled"), False, "Disabled")


@app.command("partners")
def partners_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List partners (keys are stored hashed and never shown again)."""
    partners = _room(ctx).registry.list()
    if as_json:
        emit_json([p.as_dict() for p in partners])
        return
    rows = [
        [p.name, p.partner_id, ", ".join(p.manufacturer_ids), p.status, p.created_at]
        for p in partners
    ]
    columns = ["name", "id", "manufacturers", "status", "created"]
    out.print(table("Clean-room partners", columns, rows))


@app.command("views")
def views_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What each approved view allows, and its minimum crowd per row."""
    room = _room(ctx)
    views = [v.describe() | {"min_crowd": room.crowd(v)} for v in room.views.values()]
    if as_json:
        emit_json(views)
        return
    rows = [
        [
            v["view"],
            v["min_crowd"],
            ", ".join(v["dimensions"]),
            ", ".join(f"{c} ({'/'.join(f)})" for c, f in v["measures"].items()),
        ]
        for v in views
    ]
    out.print(
        table("Clean-room views", ["view", "min crowd", "dimensions", "measures"], rows)
    )


@app.command("query")
def query_cmd(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="The query as JSON, or @FILE to read it from a file.")
    ],
    partner: Annotated[str, typer.Option(help="Run it as this partner.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a query as a partner, checked, answered and logged as theirs.

    It counts towards the partner's difference check like their own queries.
    """
    text = Path(query[1:]).read_text() if query.startswith("@") else query
    room = _room(ctx)
    with open_warehouse(ctx) as wh:
        answer = room.query(wh, partner, text)
    if as_json:
        emit_json(answer.as_dict())
        return
    rows = [[r[c] for c in answer.columns] for r in answer.rows]
    title = (
        f"Query #{answer.query_id} for {answer.partner} on {answer.view} "
        f"(at least {answer.min_crowd} customers per row)"
    )
    out.print(table(title, answer.columns, rows))
    out.print(f"{answer.suppressed_rows} row(s) withheld")
    for note in answer.notes:
        out.print(f"[dim]note: {note}[/dim]")


@app.command("log")
def log_cmd(
    ctx: typer.Context,
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    limit: Annotated[int, typer.Option(help="Newest entries to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every query partners asked, newest first, with its outcome."""
    registry = _room(ctx).registry
    who = registry.get(partner) if partner else None
    entries = registry.queries(who, limit=limit)
    if as_json:
        emit_json(entries)
        return
    rows = [
        [
            e["query_id"],
            e["asked_at"],
            e["partner"],
            e["outcome"],
            e["rows_returned"],
            e["rows_suppressed"],
            e["query"],
            e["reason"],
        ]
        for e in entries
    ]
    columns = [
        "#",
        "asked",
        "partner",
        "outcome",
        "rows",
        "withheld",
        "query",
        "reason",
    ]
    out.print(table("Clean-room query log", columns, rows))
