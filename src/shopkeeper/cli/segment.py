"""``shopkeeper segment``: create, list, show, preview and export segments."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, table

app = typer.Typer(
    help="Segments: named, versioned definitions; preview and export audiences.",
    no_args_is_help=True,
)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    from shopkeeper.errors import BadRequest

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"--as-of must be a date like 2017-12-31, not {value!r}"
        ) from None


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Segment name, e.g. produce_lovers.")],
    definition: Annotated[str, typer.Argument(help="The definition (quote it).")],
    description: Annotated[
        str | None, typer.Option(help="What the segment is for.")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Validate a definition and store it as the next version of NAME."""
    from shopkeeper.segments import create_segment

    with open_warehouse(ctx) as wh:
        created = create_segment(wh, name, definition, description)
    if as_json:
        emit_json(created.as_dict())
        return
    out.print(f"segment {created.name} version {created.version}: {created.definition}")
    out.print("[dim]run `shopkeeper build segments` to materialise its members[/dim]")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: _JSON = False) -> None:
    """Every segment with its latest version and current member count."""
    from shopkeeper.segments import list_segments
    from shopkeeper.segments.membership import member_counts

    with open_warehouse(ctx) as wh:
        found = list_segments(wh)
        counts = member_counts(wh)
    rows = [d.as_dict() | {"members": counts.get((d.name, d.version))} for d in found]
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            "Segments",
            ["name", "version", "members", "definition", "description"],
            [
                [
                    r["name"],
                    r["version"],
                    r["members"],
                    r["definition"],
                    r["description"],
                ]
                for r in rows
            ],
        )
    )


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Segment name.")],
    as_json: _JSON = False,
) -> None:
    """Every version of NAME, and its members' entries and exits by date."""
    from shopkeeper.segments import versions
    from shopkeeper.segments.membership import member_history

    with open_warehouse(ctx) as wh:
        found = versions(wh, name)
        history = member_history(wh, name)
    if as_json:
        emit_json({"versions": [d.as_dict() for d in found], "history": history})
        return
    out.print(
        table(
            f"Segment {name}",
            ["version", "created_at", "definition", "description"],
            [[d.version, d.created_at, d.definition, d.description] for d in found],
        )
    )
    if history:
        out.print(
            table(
                "Membership changes",
                ["date", "version", "entered", "exited", "members after"],
                [
                    [h["date"], h["version"], h["entered"], h["exited"], h["members"]]
                    for h in history
                ],
            )
        )


@app.command("preview")
def preview_cmd(
    ctx: typer.Context,
    definition: Annotated[str, typer.Argument(help="The definition (quote it).")],
    sample: Annotated[int, typer.Option(help="Members to show.")] = 10,
    as_of: Annotated[
        str | None, typer.Option(help="Evaluate as of this date (default: profiles').")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Size, share of all customers and a sample of a definition's members."""
    from shopkeeper.segments import preview

    with open_warehouse(ctx) as wh:
        found = preview(wh, definition, as_of=_as_of(as_of), sample=sample)
    if as_json:
        emit_json(found)
        return
    out.print(
        f"[bold]{found['size']:,}[/bold] of {found['customers']:,} customers "
        f"({found['share']:.1%}) as of {found['as_of']}"
    )
    columns = found["fields"]
    rows: list[list[Any]] = [[r.get(c) for c in columns] for r in found["sample"]]
    if rows:
        out.print(table(f"Sample of {len(rows)}", columns, rows))


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Segment name.")],
    out_file: Annotated[Path, typer.Option("--out", help="The file to write.")],
    format: Annotated[
        str, typer.Option("--format", help="csv, parquet or audience (hashed).")
    ] = "csv",
    fields: Annotated[
        str,
        typer.Option(help="Comma-separated columns for csv/parquet."),
    ] = "customer_id",
    purpose: Annotated[
        str,
        typer.Option(
            "--require-consent",
            help="Consent purpose members need (csv/parquet); audiences need ads.",
        ),
    ] = "personalization",
    identifier: Annotated[
        str, typer.Option(help="Audience: email or phone hashes.")
    ] = "email",
    platform: Annotated[
        str, typer.Option(help="Audience header: google, meta or tiktok.")
    ] = "google",
    as_json: _JSON = False,
) -> None:
    """Write the current members of NAME who gave the needed consent."""
    from shopkeeper.errors import BadRequest
    from shopkeeper.segments import export_audience, export_members

    with open_warehouse(ctx) as wh:
        if format == "audience":
            result = export_audience(
                wh, name, out_file, identifier=identifier, platform=platform
            )
        elif format in ("csv", "parquet"):
            chosen = [f.strip() for f in fields.split(",") if f.strip()]
            result = export_members(
                wh, name, out_file, format=format, fields=chosen, purpose=purpose
            )
        else:
            raise BadRequest(
                f"--format must be csv, parquet or audience, not {format!r}"
            )
    if as_json:
        emit_json(result.as_dict())
        return
    out.print(
        f"wrote {result.rows:,} rows to {result.path} (segment {name} version "
        f"{result.version}: {result.members:,} members, {result.without_consent:,} "
        "left out for lack of consent)"
    )
