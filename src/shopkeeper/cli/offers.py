"""Uplift models and budgeted offer plans from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopkeeper.cli._common import emit_json, open_warehouse, out, progress, table

if TYPE_CHECKING:
    from shopkeeper.offers.hillstrom import Experiment
    from shopkeeper.offers.hillstrom_splits import RepeatedSplits

app = typer.Typer(
    help="Next best offer: uplift models on Hillstrom and budgeted offer plans.",
    no_args_is_help=True,
)


@app.command("evaluate-uplift")
def evaluate_uplift_cmd(
    ctx: typer.Context,
    outcome: Annotated[
        str, typer.Option(help="Outcome to model: spend, conversion or visit.")
    ] = "spend",
    learners: Annotated[
        str, typer.Option(help="Comma-separated learner types to compare.")
    ] = "t_learner,s_learner,x_learner,dr_learner,class_transformation,ensemble",
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 200,
    folds: Annotated[int, typer.Option(help="Training folds for the choice.")] = 3,
    seed: Annotated[int, typer.Option(help="Seeds the bootstrap.")] = 0,
    sample: Annotated[
        float,
        typer.Option(help="Share of Hillstrom's rows to use (hashed, for quick runs)."),
    ] = 1.0,
    splits: Annotated[
        int,
        typer.Option(
            help="Also repeat the whole protocol on this many hashed splits "
            "(0: skip) and print each learner's and policy's mean."
        ),
    ] = 0,
    save: Annotated[
        bool,
        typer.Option(
            help="Keep the run in the warehouse (offers_uplift_runs, "
            "offers_uplift_curves, offers_policy_values) for the dashboard."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare uplift learners on Hillstrom's held-out split, with the policy values.

    The run (scores, curves, policy values) is appended to the warehouse
    under a new run id, which the dashboard's uplift page reads. One split
    of Hillstrom's 578 buyers can barely tell the learners apart; --splits
    repeats the protocol on other hashed splits to show what holds on average.
    """
    from shopkeeper.errors import InvalidInput
    from shopkeeper.offers.hillstrom import (
        OUTCOMES,
        hashed_sample,
        hillstrom_experiment,
    )
    from shopkeeper.offers.hillstrom_headroom import segment_gaps
    from shopkeeper.offers.uplift_runs import evaluate_hillstrom, record_comparison

    if outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome must be one of {', '.join(OUTCOMES)}")
    if splits < 0:
        raise InvalidInput(f"--splits must be 0 or more, not {splits}")
    names = tuple(n.strip() for n in learners.split(",") if n.strip())
    with progress(not as_json) as callback:
        c = evaluate_hillstrom(
            outcome,
            names,
            sample_share=sample,
            folds=folds,
            n_boot=n_boot,
            seed=seed,
            progress=callback,
        )
    run_id = None
    if save:
        with open_warehouse(ctx) as wh:
            run_id = record_comparison(
                wh, c, sample_share=sample, n_boot=n_boot, folds=folds, seed=seed
            )
    ev, pv = c.evaluation, c.policies
    rows: list[dict[str, Any]] = []
    for name in ev.names:
        rows.append(
            {
                "learner": name,
                "chosen": name == c.chosen,
                "cv_qini": c.validation[name],
                "qini": ev.score(name, "qini").as_dict(),
                "auuc": ev.score(name, "auuc").as_dict(),
            }
        )
    policies = [{"policy": n, **pv.value(n).as_dict()} for n in pv.names]
    used = hashed_sample(hillstrom_experiment(), sample)
    closest = [g.as_dict() for g in segment_gaps(used, outcome)]
    repeated = _repeated(outcome, names, used, folds, splits, not as_json)
    if as_json:
        emit_json(
            {
                "outcome": outcome,
                "run_id": run_id,
                "sample": sample,
                "chosen": c.chosen,
                "n_train": c.n_train,
                "n_test": c.n_test,
                "learners": rows,
                "policies": policies,
                "closest_segments": closest,
                "repeated_splits": repeated.as_dict() if repeated else None,
            }
        )
        return

    def span(d: dict[str, float]) -> str:
        return f"{d['value']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"

    out.print(
        table(
            f"Hillstrom {outcome}: {c.n_test:,} held-out customers "
            f"(* = chosen on the training split)",
            ["learner", "cv Qini (train)", "Qini (95% CI)", "AUUC (95% CI)"],
            [
                [
                    ("* " if r["chosen"] else "") + r["learner"],
                    f"{r['cv_qini']:+.4f}",
                    span(r["qini"]),
                    span(r["auuc"]),
                ]
                for r in rows
            ],
        )
    )
    out.print(
        table(
            f"Policy value, {outcome} per customer (IPS on the test split)",
            ["policy", "value (95% CI)"],
            [[p["policy"], span(p)] for p in policies],
        )
    )
    _print_closest(outcome, closest[:3])
    if repeated is not None:
        _print_repeated(repeated)
    if run_id is not None:
        out.print(f"Kept as run {run_id}: the dashboard's /ui/uplift shows it.")


def _print_closest(outcome: str, gaps: list[dict[str, Any]]) -> None:
    """The segments where a targeted policy could gain, if anywhere."""

    def gap(d: dict[str, float]) -> str:
        return f"{d['value']:+.4f} ± {d['stderr']:.4f}"

    out.print(
        table(
            f"{outcome}: where another arm comes closest to the best one "
            f"(rival - best per customer in the segment)",
            ["segment", "share", "rival", "train half", "test half", "all rows"],
            [
                [
                    g["segment"],
                    f"{g['share']:.2f}",
                    g["rival"],
                    gap(g["train"]),
                    gap(g["test"]),
                    gap(g["all"]),
                ]
                for g in gaps
            ],
        )
    )


def _repeated(
    outcome: str,
    learners: tuple[str, ...],
    experiment: Experiment,
    folds: int,
    splits: int,
    show: bool,
) -> RepeatedSplits | None:
    """The protocol on ``splits`` hashed splits of the same rows, or None."""
    import os

    from shopkeeper.offers.hillstrom_splits import repeated_splits

    if splits == 0:
        return None
    if show:
        out.print(f"Repeating the protocol on {splits} hashed splits...")
    return repeated_splits(
        outcome,
        splits,
        learners,
        experiment=experiment,
        folds=folds,
        workers=min(splits, os.cpu_count() or 1),
    )


def _print_repeated(rs: RepeatedSplits) -> None:
    n = len(rs.replicates)
    choice = rs.choice()
    out.print(
        table(
            f"{rs.outcome}: test Qini over {n} hashed splits (split 0 is the one "
            f"above); the choice on each training half averaged "
            f"{choice['qini_mean']:+.4f} and topped {choice['top_in']} of {n}",
            ["learner", "mean", "sd", "chosen in", "top in"],
            [
                [
                    r["learner"],
                    f"{r['qini_mean']:+.4f}",
                    f"{r['qini_sd']:.4f}",
                    str(r["chosen_in"]),
                    str(r["top_in"]),
                ]
                for r in rs.learner_rows()
            ],
        )
    )
    out.print(
        table(
            f"{rs.outcome}: mean test value per customer of each policy ({n} splits)",
            ["policy", "mean", "sd", "beats all send-everyone"],
            [
                [
                    p["policy"],
                    f"{p['value_mean']:.4f}",
                    f"{p['value_sd']:.4f}",
                    ""
                    if p["beats_every_everyone_in"] is None
                    else f"{p['beats_every_everyone_in']} of {n}",
                ]
                for p in rs.policy_rows()
            ],
        )
    )


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    candidates: Annotated[
        Path,
        typer.Argument(
            help="CSV with customer_id, offer_id, incremental_margin, cost "
            "(and optionally channel per offer_id via --channels)."
        ),
    ],
    budget: Annotated[
        float | None, typer.Option(help="Total cost allowed (default: none).")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Most offers per customer.")] = 1,
    cap: Annotated[
        list[str] | None,
        typer.Option(help="OFFER=N: at most N customers get OFFER (repeatable)."),
    ] = None,
    consent: Annotated[
        Path | None,
        typer.Option(help="CSV of customer_id, channel pairs that may be contacted."),
    ] = None,
    channels: Annotated[
        Path | None,
        typer.Option(help="CSV of offer_id, channel (needed with --consent)."),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the chosen offers as CSV.")
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            help="Keep the plan's summary in the warehouse (offers_plans, "
            "offers_plan_offers; no per-customer rows) for the dashboard."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Choose at most K offers per customer to maximize incremental margin (exact).

    The plan's headline and per-offer summary are appended to the warehouse
    under a new plan id, which the dashboard's uplift page shows; which
    customer gets which offer goes only to --out.
    """
    import pandas as pd

    from shopkeeper.errors import InvalidInput, NotFound
    from shopkeeper.offers.allocate import allocate

    def read(path: Path) -> pd.DataFrame:
        if not path.exists():
            raise NotFound(f"no such file: {path}")
        return pd.read_csv(path, dtype={"customer_id": str, "offer_id": str})

    caps: dict[str, int] = {}
    for item in cap or []:
        offer, _, count = item.rpartition("=")
        if not offer or not count.isdigit():
            raise InvalidInput(f"--cap takes OFFER=N, not {item!r}")
        caps[offer] = int(count)
    offer_channels = None
    if channels is not None:
        frame = read(channels)
        offer_channels = dict(
            zip(
                frame["offer_id"].astype(str), frame["channel"].astype(str), strict=True
            )
        )
    plan = allocate(
        read(candidates),
        budget=budget,
        max_per_customer=k,
        caps=caps,
        consent=read(consent) if consent is not None else None,
        offer_channels=offer_channels,
    )
    if out_file is not None:
        plan.assignments.to_csv(out_file, index=False)
    summary: dict[str, Any] = dict(plan.summary())
    if save:
        from shopkeeper.offers.plan_runs import record_plan

        with open_warehouse(ctx) as wh:
            summary["plan_id"] = record_plan(
                wh,
                plan,
                budget=budget,
                max_per_customer=k,
                caps=caps,
                offer_channels=offer_channels,
                source=candidates.name,
            )
    if as_json:
        emit_json(summary)
        return
    out.print(
        table(
            "Offer plan",
            ["figure", "value"],
            [[key.replace("_", " "), value] for key, value in summary.items()],
        )
    )
    if "plan_id" in summary:
        out.print(
            f"Kept as plan {summary['plan_id']}: the dashboard's /ui/uplift shows it."
        )
