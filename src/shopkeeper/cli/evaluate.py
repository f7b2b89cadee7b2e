"""``shopkeeper evaluate``: offline evaluation of the models on real baskets."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, progress_bar, table

__all__ = ["app", "print_evaluation"]

app = typer.Typer(help="Measure the models offline on your own orders.")

COLUMNS = (
    "recall@10",
    "recall@20",
    "ndcg@10",
    "ndcg@20",
    "phr@10",
    "repeat_recall@10",
    "explore_recall@10",
)

SHORT = ("R@10", "R@20", "N@10", "N@20", "PHR@10", "rep R@10", "exp R@10")


@app.command("recommend")
def recommend_cmd(
    ctx: typer.Context,
    orders: Annotated[
        Path | None,
        typer.Option(
            help="Evaluate an orders CSV (docs/import.md layout) instead of the "
            "warehouse; it is imported into a temporary warehouse first."
        ),
    ] = None,
    methods: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            help="A method to run (repeat); default all: G-TopFreq, P-TopFreq, "
            "GP-TopFreq, TIFU-KNN, ALS, Shopkeeper, Shopkeeper discover.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Next-basket recommenders side by side (protocol: docs/recommend.md)."""
    from shopkeeper.recommend.evaluate import evaluate

    with progress_bar(not as_json) as progress:
        if orders is None:
            with open_warehouse(ctx) as wh:
                run = evaluate(wh, methods, progress=progress)
        else:
            from shopkeeper.collect.csvfile import import_csv
            from shopkeeper.warehouse import connect

            with tempfile.TemporaryDirectory() as folder:
                wh = connect(f"duckdb:///{folder}/orders.duckdb")
                try:
                    import_csv(wh, "orders", orders, progress=progress)
                    run = evaluate(wh, methods, progress=progress)
                finally:
                    wh.close()
    if as_json:
        emit_json(run.as_dict())
    else:
        print_evaluation(run)


def print_evaluation(run: Any) -> None:
    """The methods as one table (R = Recall, N = NDCG, rep/exp = repeat and
    explore items), then the complements hit rates."""
    out.print(
        table(
            f"Next basket: {run.households:,} households, {run.items:,} items, "
            f"{run.baskets:,} baskets",
            ["method", *SHORT],
            [
                [r.method, *[f"{r.metrics.get(c, 0.0):.4f}" for c in COLUMNS]]
                for r in run.results
            ],
            compact=True,
        )
    )
    out.print(
        table(
            "Seconds per method",
            ["method", "tune", "train and score"],
            [
                [r.method, f"{r.tune_seconds:.1f}", f"{r.train_score_seconds:.1f}"]
                for r in run.results
            ],
            compact=True,
        )
    )
    for lead in run.leads:
        if lead["lead"] is None:
            continue
        out.print(
            f"{lead['method']} {lead['metric']}: {lead['lead']:+.1%} over "
            f"{lead['baseline']} (95% interval {lead['low']:+.1%} to "
            f"{lead['high']:+.1%})"
        )
    c = run.complements
    out.print(
        f"Complements, hidden test item hit@10 over {int(c['cases']):,} baskets: "
        f"lift {c['lift_hit@10']:.4f}, co-count {c['cocount_hit@10']:.4f}, "
        f"popularity {c['popularity_hit@10']:.4f}"
    )


@app.command("decisions")
def decisions_cmd(
    ctx: typer.Context,
    placements: Annotated[
        list[str] | None,
        typer.Option("--placement", help="Only this placement (repeat); default all."),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--bootstrap", min=10, help="Bootstrap resamples.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap and cross-fit seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Off-policy evaluation of our decisions from the exposure log: per
    placement, the logging policy's outcome rate and IPS/SNIPS/DM/DR estimates
    of the uniform-random and the recommender-order policies (docs/decide.md)."""
    from shopkeeper.decide.exposure_log import evaluate_decisions

    with progress_bar(not as_json) as progress:
        with open_warehouse(ctx) as wh:
            results = evaluate_decisions(
                wh, placements=placements, n_boot=n_boot, seed=seed, progress=progress
            )
    if as_json:
        emit_json([r.as_dict() for r in results])
        return
    print_decisions(results)


def print_decisions(results: list[Any]) -> None:
    """One table per placement: estimator rows, policy columns, 95% intervals."""
    from shopkeeper.decide.exposure_log import ESTIMATORS, POLICIES

    def cell(e: Any) -> str:
        if e is None:
            return "n/a"
        return f"{e.value:.4f} [{e.ci_low:.4f}, {e.ci_high:.4f}]"

    for r in results:
        rows = [
            [name.upper(), *[cell(r.estimates[p][name]) for p in POLICIES]]
            for name in ESTIMATORS
        ]
        out.print(
            table(
                f"{r.placement}: {r.exposures:,} exposures, {r.decisions:,} "
                f"decisions, {r.outcomes:,} outcomes, {r.items:,} items; "
                f"logging policy (observed) {r.on_policy:.4f}",
                ["estimator", "uniform random (95% CI)", "recommender order (95% CI)"],
                rows,
            )
        )
        for note in r.notes:
            out.print(f"[dim]{note}[/dim]")
