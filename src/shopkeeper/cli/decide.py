"""The online store and trying a decision from the terminal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, state, table

online_app = typer.Typer(
    help="The online store that real-time decisions read.", no_args_is_help=True
)
app = typer.Typer()


@online_app.command("export")
def online_export_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write every customer's pre-joined row from the warehouse to the online store."""
    from shopkeeper.decide.online_rows import export_online
    from shopkeeper.decide.online_store import open_store
    from shopkeeper.server.realtime import online_store_url

    settings = state(ctx).settings
    store = open_store(online_store_url(settings))
    try:
        with open_warehouse(ctx) as wh:
            counts = export_online(wh, store)
    finally:
        store.close()
    if as_json:
        emit_json(counts)
        return
    out.print(
        f"online store {online_store_url(settings)}: "
        + ", ".join(f"{view}: {n:,}" for view, n in counts.items())
    )


@app.command("decide")
def decide_cmd(
    ctx: typer.Context,
    identifier: Annotated[
        str | None,
        typer.Argument(help="Any identifier; none for an anonymous visitor."),
    ] = None,
    channel: Annotated[str, typer.Option(help="web, app, email, push, ...")] = "web",
    placement: Annotated[str, typer.Option(help="Where the answer shows.")] = "home",
    limit: Annotated[int, typer.Option(help="How many items.")] = 5,
    kind: Annotated[str, typer.Option(help="items or offers.")] = "items",
    on: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="The day offers must be valid on (default today).",
        ),
    ] = None,
    store_id: Annotated[
        str | None, typer.Option("--store", help="Offers valid in this store.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ask for one decision from the online store (as POST /v1/decide would)."""
    from shopkeeper.decide.decisions import CHANNELS, KINDS, DecisionRequest
    from shopkeeper.errors import InvalidInput
    from shopkeeper.server.realtime import Realtime

    if channel not in CHANNELS:
        raise InvalidInput(f"--channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if kind not in KINDS:
        raise InvalidInput(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    realtime = Realtime(state(ctx).settings)
    try:
        decision = realtime.decider.decide(
            DecisionRequest(
                channel=channel,
                placement=placement,
                identifier=identifier,
                limit=limit,
                kind=kind,
                today=on.date() if on else None,
                store_id=store_id,
            )
        )
    finally:
        realtime.close()
    if as_json:
        emit_json(decision.as_dict())
        return
    if decision.refused:
        out.print(f"[yellow]nothing to show:[/yellow] {decision.refused}")
        return
    rows = [
        [i["rank"], i["item_id"], f"{i['propensity']:.3f}", i["reason"]]
        for i in decision.items
    ]
    who = decision.customer_id or "anonymous visitor"
    title = f"{decision.decision_id} for {who} ({json.dumps(decision.personalized)})"
    out.print(table(title, ["#", "item", "propensity", "why"], rows))
