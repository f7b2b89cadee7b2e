"""Merchandising insights for the category teams, in marketing's segments."""

from __future__ import annotations

from typing import Annotated

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, table

app = typer.Typer(
    help="Merchandising insights: affinity by segment, basket rules, promotions.",
    no_args_is_help=True,
)


def _show(title: str, rows: list[dict], as_json: bool) -> None:
    if as_json:
        emit_json(rows)
        return
    columns = list(rows[0]) if rows else []
    out.print(table(title, columns, [list(r.values()) for r in rows]))


@app.command("affinity")
def affinity_cmd(
    ctx: typer.Context,
    level: Annotated[str, typer.Option(help="department or category")] = "department",
    top: Annotated[int, typer.Option(help="Rows per segment.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each segment's share of spend per department over everyone's (the index)."""
    import ibis

    from shopkeeper.segments.insights import affinity_by_segment

    with open_warehouse(ctx) as wh:
        t = affinity_by_segment(wh, level=level)
        rank = ibis.row_number().over(group_by="segment", order_by=ibis.desc("index"))
        t = t.mutate(_r=rank).filter(ibis._._r < top).drop("_r")
        rows = wh.to_arrow(t.order_by(["segment", ibis.desc("index")])).to_pylist()
    _show(f"Top {top} {level} affinities per segment", rows, as_json)


@app.command("rules")
def rules_cmd(
    ctx: typer.Context,
    min_support: Annotated[float, typer.Option(help="Least share of baskets.")] = 0.01,
    top: Annotated[int, typer.Option(help="How many rules, by lift.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Category pairs bought together: support, confidence and lift."""
    from shopkeeper.segments.insights import category_rules

    with open_warehouse(ctx) as wh:
        rows = wh.to_arrow(category_rules(wh, min_support=min_support).limit(top))
    _show("Basket rules between categories", rows.to_pylist(), as_json)


@app.command("promotions")
def promotions_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Share of each segment's spend on display and mailer promotions."""
    from shopkeeper.segments.insights import promotion_response

    with open_warehouse(ctx) as wh:
        rows = wh.to_arrow(promotion_response(wh)).to_pylist()
    _show("Promotion response by segment", rows, as_json)
