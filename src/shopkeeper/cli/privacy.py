"""What is held about people: the audit of subject columns and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, state, table

privacy_app = typer.Typer(
    help="What is held about people: audit, export, deletion and suppression.",
    no_args_is_help=True,
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
    out.print(
        table(
            "Copies outside the warehouse (state directory)",
            ["copy", "names a person by", "on delete"],
            [list(row) for row in OTHER_COPIES],
        )
    )


OTHER_COPIES = (
    ("durable event log", "every message's ids and traits", "overwritten in place"),
    (
        "online store",
        "customer id and every identifier",
        "document and aliases deleted",
    ),
    (
        "decide workers' memory",
        "documents they resolved",
        "never served again; dropped within 1 s",
    ),
    ("webhook outbox", "customer id and the payload", "messages deleted"),
    ("suppression list", "salted HMAC digests only", "the tombstone is added"),
    ("privacy requests", "a salted digest once done", "kept as the audit record"),
    ("clean-room history", "keyed hashes of customer ids", "kept (aggregates only)"),
)
"""What erasure reaches beyond the registered tables (see docs/privacy.md)."""


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


def _requests(ctx: typer.Context) -> Any:
    from shopkeeper.collect.suppression import SuppressionList
    from shopkeeper.server.app import state_paths
    from shopkeeper.trust.requests import PrivacyRequests

    paths = state_paths(state(ctx).settings)
    return PrivacyRequests(paths["privacy"], SuppressionList(paths["suppression"]))


@privacy_app.command("request")
def privacy_request_cmd(
    ctx: typer.Context,
    type_: Annotated[
        str,
        typer.Argument(metavar="TYPE", help="delete, suppress or suppress_and_delete."),
    ],
    identifier: Annotated[str, typer.Argument(help="Any identifier of the customer.")],
    now: Annotated[
        bool,
        typer.Option(help="Carry it out now instead of leaving it to the server."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """File a deletion or suppression request (audited; runs asynchronously)."""
    from shopkeeper.server.serve import run_privacy_requests

    requests = _requests(ctx)
    request = requests.submit(type_, identifier, requested_by="cli")
    if now:
        run_privacy_requests(state(ctx).settings)
        request = requests.get(request.request_id)
    _print_requests([request], as_json)


@privacy_app.command("run")
def privacy_run_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Carry out every pending privacy request (the server does this by itself)."""
    from shopkeeper.server.serve import run_privacy_requests

    requests = _requests(ctx)
    done = run_privacy_requests(state(ctx).settings)
    _print_requests([requests.get(i) for i in done], as_json)


@privacy_app.command("requests")
def privacy_requests_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The audit of privacy requests (identifiers are not kept once done)."""
    _print_requests(_requests(ctx).list(), as_json)


def _print_requests(requests: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json([r.as_dict() for r in requests])
        return
    rows = []
    for r in requests:
        tables = (r.result or {}).get("tables") or {}
        removed = ", ".join(f"{t}: {n:,}" for t, n in tables.items())
        log = (r.result or {}).get("event_log")
        if log:
            removed += f"; event log: {log['messages']:,} messages"
        rows.append(
            [
                r.request_id,
                r.type,
                r.status,
                r.created_at,
                r.finished_at,
                removed or r.error,
            ]
        )
    columns = ["request", "type", "status", "created", "finished", "removed"]
    out.print(table("Privacy requests", columns, rows))


@privacy_app.command("link")
def privacy_link_cmd(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="Any identifier of the customer.")],
    hours: Annotated[int, typer.Option(help="How long the link works.")] = 72,
    base_url: Annotated[
        str, typer.Option(help="Where customers reach `shopkeeper serve`.")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Print a signed preference-center link for one customer (no login needed)."""
    from shopkeeper.profiles.customer360 import resolve
    from shopkeeper.server.app import state_paths
    from shopkeeper.trust.links import LinkSigner

    with open_warehouse(ctx) as wh:
        who = resolve(wh, identifier)
    signer = LinkSigner(state_paths(state(ctx).settings)["link_key"])
    token = signer.issue(who.customer_id, ttl_seconds=hours * 3600)
    out.print(f"{base_url.rstrip('/')}/preferences/{token}", soft_wrap=True)
