"""What is held about people: the audit of subject columns and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, table

privacy_app = typer.Typer(
    help="What is held about people: audit and export.", no_args_is_help=True
)


# -- privacy -------------------------------------------------------------------
@privacy_app.command("audit")
def privacy_audit_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every table with the columns that name the person in it."""
    from shopkeeper.trust.export import audit

    rows = audit()
    if as_json:
        emit_json(rows)
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
        table(
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

    with open_warehouse(ctx) as wh:
        export = export_customer(wh, identifier)
    out_file.write_bytes(export_zip(export))
    counts = ", ".join(f"{t}: {len(r):,}" for t, r in export["tables"].items())
    out.print(f"wrote {out_file} for {export['customer_id']} ({counts})")
