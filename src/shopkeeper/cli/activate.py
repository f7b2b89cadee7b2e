"""Activation commands: POS coupon files, staff lists, the webhook outbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, state, table

__all__ = ["app", "outbox_app"]

app = typer.Typer(
    help="Send decisions out: POS coupon files, staff lists, webhooks.",
    no_args_is_help=True,
)
outbox_app = typer.Typer(
    help="The webhook outbox (e-mail, SMS and push providers).", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")

DateOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--date",
        formats=["%Y-%m-%d"],
        help="The day (YYYY-MM-DD); default: the day after the last order.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _day(wh: Any, date: dt.datetime | None) -> dt.date:
    from shopkeeper.profiles.purchases import default_as_of

    return date.date() if date is not None else default_as_of(wh)


def _outbox_path(ctx: typer.Context) -> Path:
    from shopkeeper.activate import OUTBOX_FILE

    return Path(state(ctx).settings.state_dir) / OUTBOX_FILE


@app.command("pos-file")
def pos_file_cmd(
    ctx: typer.Context,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for <date>/<store_id>.csv files.")
    ] = Path("pos"),
    date: DateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one coupon file per store: the coupons to load on each card."""
    from shopkeeper.activate import write_pos_files

    with open_warehouse(ctx) as wh:
        written = write_pos_files(wh, _day(wh, date), out_dir)
    if as_json:
        emit_json(
            {
                "date": written.day.isoformat(),
                "folder": str(written.folder),
                "rows": written.rows,
                "rows_by_store": written.rows_by_store,
            }
        )
        return
    out.print(
        f"{written.rows:,} coupon loads in {len(written.rows_by_store):,} store "
        f"files under {written.folder}"
    )


@app.command("staff-list")
def staff_list_cmd(
    ctx: typer.Context,
    store: Annotated[str, typer.Option("--store", help="The store id.")],
    date: DateOption = None,
    weeks: Annotated[
        int, typer.Option(help="Past same weekdays to count visits on.")
    ] = 13,
    min_rate: Annotated[
        float, typer.Option(help="Least share of those weekdays with a visit.")
    ] = 0.25,
    limit: Annotated[int, typer.Option(help="Most shoppers on the list.")] = 100,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write it as .json or .csv.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Today's expected shoppers who consented, with tips for the staff."""
    from shopkeeper.activate import staff_list, write_staff_list

    with open_warehouse(ctx) as wh:
        day = _day(wh, date)
        shoppers = staff_list(
            wh, store, day, weeks=weeks, min_rate=min_rate, limit=limit
        )
    if out_file is not None:
        write_staff_list(shoppers, out_file)
    if as_json:
        emit_json([s.as_dict() for s in shoppers])
        return
    rows = [
        [
            s.first_name or s.customer_id,
            f"{s.visits}/{s.weeks}",
            s.usual_time,
            ", ".join(s.departments),
            ", ".join(str(r["product"]) for r in s.recommendations),
            s.conversation_starter,
        ]
        for s in shoppers
    ]
    columns = ["shopper", "visits", "usual time", "likes", "suggest", "say"]
    out.print(table(f"Store {store} on {day.isoformat()}", columns, rows))


@outbox_app.command("status")
def outbox_status_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Messages per endpoint and status."""
    from shopkeeper.activate import Outbox

    with Outbox(_outbox_path(ctx), consent=None) as box:
        counts = box.counts()
    if as_json:
        emit_json([{"endpoint": e, "status": s, "messages": n} for e, s, n in counts])
        return
    out.print(table("Outbox", ["endpoint", "status", "messages"], list(counts)))


@outbox_app.command("dead")
def outbox_dead_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Most messages to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The dead letters, newest first, with why they died."""
    from shopkeeper.activate import Outbox

    with Outbox(_outbox_path(ctx), consent=None) as box:
        dead = box.messages("dead", limit=limit)
    rows = [
        [m.idempotency_key, m.endpoint, m.customer_id, m.attempts, m.last_error]
        for m in dead
    ]
    if as_json:
        keys = ["idempotency_key", "endpoint", "customer_id", "attempts", "error"]
        emit_json([dict(zip(keys, r, strict=True)) for r in rows])
        return
    columns = ["key", "endpoint", "customer", "attempts", "error"]
    out.print(table("Dead letters", columns, rows))


@outbox_app.command("replay")
def outbox_replay_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The dead message's idempotency key.")],
) -> None:
    """Queue a dead letter again, once its cause is fixed."""
    from shopkeeper.activate import Outbox

    with Outbox(_outbox_path(ctx), consent=None) as box:
        message = box.replay(key)
    out.print(f"message {message.idempotency_key} is pending again")


@outbox_app.command("deliver")
def outbox_deliver_cmd(
    ctx: typer.Context,
    endpoints_file: Annotated[
        Path,
        typer.Option(
            "--endpoints", help="TOML or JSON endpoints file (see docs/activate.md)."
        ),
    ],
    limit: Annotated[int, typer.Option(help="Most messages in this pass.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Run one delivery pass: send what is due, checking consent again."""
    import httpx

    from shopkeeper.activate import (
        Outbox,
        WarehouseConsent,
        deliver_due,
        load_endpoints,
    )

    endpoints = load_endpoints(endpoints_file)
    with (
        open_warehouse(ctx) as wh,
        Outbox(_outbox_path(ctx), WarehouseConsent(wh)) as box,
        httpx.Client(headers={"User-Agent": "shopkeeper"}) as client,
    ):
        report = deliver_due(box, endpoints, client, limit=limit)
    summary = {
        "delivered": report.delivered,
        "retried": report.retried,
        "dead": report.dead,
        "suppressed": report.suppressed,
    }
    if as_json:
        emit_json(
            summary | {"errors": [{"key": k, "error": e} for k, e in report.errors]}
        )
        return
    out.print(table("Delivery pass", list(summary), [list(summary.values())]))
    for key, error in report.errors:
        out.print(f"[dim]{key}: {error}[/dim]", highlight=False)
