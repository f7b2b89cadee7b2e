"""Measurement commands: holdouts, campaign readouts, attribution, all channels."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from shopkeeper.cli._common import (
    emit_json,
    open_warehouse,
    out,
    progress,
    state,
    table,
)

__all__ = ["measure_app", "report_app"]

measure_app = typer.Typer(
    help="Holdouts, campaign readouts and attribution.", no_args_is_help=True
)
report_app = typer.Typer(
    help="Reports across the whole business.", no_args_is_help=True
)


def _ci(low: float, high: float) -> str:
    return f"[{low:,.2f}, {high:,.2f}]"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


@measure_app.command("holdout")
def holdout_cmd(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(help="The campaign to hold out of.")],
    share: Annotated[
        float, typer.Option(help="Share of members held out, in [0, 1).")
    ] = 0.1,
    force: Annotated[
        bool, typer.Option(help="Redraw even if another share was recorded.")
    ] = False,
) -> None:
    """Assign and record the campaign's holdout by hashing customer ids.

    The shares also go to the online store at once, so running servers stop
    offering the campaign's coupons to its held-out members without waiting
    for the next `shopkeeper online export`."""
    from shopkeeper.decide.offer_rows import export_holdouts
    from shopkeeper.decide.online_store import open_store
    from shopkeeper.measure import assign_holdouts
    from shopkeeper.server.realtime import online_store_url

    with open_warehouse(ctx) as wh:
        done = assign_holdouts(wh, campaign_id, share, force=force)
        store = open_store(online_store_url(state(ctx).settings))
        try:
            export_holdouts(wh, store)
        finally:
            store.close()
    out.print(
        f"campaign {done.campaign_id}: {done.holdout:,} of {done.members:,} members "
        f"held out (share {done.share:g}; rule {done.rule})"
    )


def _readout_json(r: Any) -> dict[str, Any]:
    data = dataclasses.asdict(r)
    data["incremental_revenue"] = r.incremental_revenue
    return data


def _print_readout(r: Any) -> None:
    c = r.campaign
    out.print(
        f"[bold]{c.name or c.campaign_id}[/bold] ({c.campaign_type or 'no type'}, "
        f"{c.channel or 'no channel'}), {c.start_date} to {c.end_date}; "
        f"pre-period from {c.pre_start}; method: {r.method}"
    )
    if r.redemptions is not None:
        x = r.redemptions
        out.print(
            f"coupons: {x.coupons:,}; redemptions: {x.redemptions:,} by "
            f"{x.redeemers:,} treated customers ({_pct(x.rate)} of those targeted)"
        )
    cols = ["measure", "treated", "holdout", "difference", "95% Welch", "95% bootstrap"]
    if r.randomized is not None:
        rd = r.randomized
        rows: list[list[Any]] = [
            ["customers (reach)", rd.treated, rd.holdout, None, None, None]
        ]
        for name, d in (
            ("conversion rate", rd.conversion),
            ("revenue per customer", rd.revenue),
        ):
            rows.append(
                [
                    name,
                    d.treated_mean,
                    d.holdout_mean,
                    d.diff,
                    _ci(d.welch.low, d.welch.high),
                    _ci(d.bootstrap.low, d.bootstrap.high),
                ]
            )
        if rd.cuped is not None:
            rows.append(
                [
                    "revenue per customer, CUPED",
                    None,
                    None,
                    rd.cuped.diff,
                    _ci(rd.cuped.welch.low, rd.cuped.welch.high),
                    None,
                ]
            )
        if r.store is not None:
            s = r.store
            rows.append(
                [
                    "store revenue per customer (online to offline)",
                    s.treated_mean,
                    s.holdout_mean,
                    s.diff,
                    _ci(s.welch.low, s.welch.high),
                    _ci(s.bootstrap.low, s.bootstrap.high),
                ]
            )
        out.print(table(f"Campaign {c.campaign_id}: treated vs holdout", cols, rows))
        if rd.cuped is not None:
            out.print(
                f"CUPED: theta {rd.cuped.theta:.3f}, variance reduced by "
                f"{_pct(rd.cuped.variance_reduction)}"
            )
        if rd.srm is not None:
            verdict = "MISMATCH: do not trust this readout" if rd.srm.mismatch else "ok"
            out.print(
                f"sample ratio: {rd.srm.treated:,} / {rd.srm.holdout:,} against a "
                f"{rd.srm.expected_holdout_share:g} holdout: chi2 {rd.srm.chi2:.2f}, "
                f"p {rd.srm.p_value:.3g} ({verdict})"
            )
    if r.matched is not None:
        m = r.matched
        rows = [
            ["customers", m.treated_matched, m.controls, None, None, None],
            [
                m.outcome + " per customer",
                m.treated_mean,
                m.control_mean,
                m.diff,
                _ci(m.interval.low, m.interval.high),
                _ci(m.bootstrap.low, m.bootstrap.high),
            ],
            [
                "unmatched difference (for contrast)",
                None,
                None,
                m.naive_diff,
                None,
                None,
            ],
        ]
        cols[2] = "matched non-targeted"
        cols[1] = "targeted"
        cols[4] = "95% stratified normal"
        out.print(
            table(
                f"Campaign {c.campaign_id}: targeted vs matched non-targeted "
                f"({m.strata} strata)",
                cols,
                rows,
            )
        )
    if r.caveat:
        out.print(f"[yellow]{r.caveat}[/yellow]")
    for note in r.notes:
        out.print(f"[dim]note: {note}[/dim]")


@measure_app.command("campaign")
def campaign_cmd(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(help="The campaign to read out.")],
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read out one campaign: treated vs holdout, or matched if it kept none."""
    from shopkeeper.measure import campaign_readout

    with open_warehouse(ctx) as wh:
        r = campaign_readout(wh, campaign_id, seed=seed, resamples=resamples)
    if as_json:
        emit_json(_readout_json(r))
    else:
        _print_readout(r)


@measure_app.command("attribution")
def attribution_cmd(
    ctx: typer.Context,
    lookback_days: Annotated[
        int, typer.Option(help="Days before a conversion a touch may count.")
    ] = 30,
    half_life_hours: Annotated[
        float, typer.Option(help="Half-life of the time-decay model.")
    ] = 168.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Credit conversions to channels with every attribution model."""
    from shopkeeper.measure.attribution import MODELS, attribute
    from shopkeeper.measure.paths import touch_paths

    with open_warehouse(ctx) as wh:
        paths = touch_paths(wh, lookback_days=lookback_days)
    results = (
        [attribute(paths.paths, m, half_life_hours=half_life_hours) for m in MODELS]
        if paths.paths
        else []
    )
    if as_json:
        emit_json(
            {
                "paths": len(paths.paths),
                "untouched_conversions": paths.untouched_conversions,
                "models": [dataclasses.asdict(a) for a in results],
            }
        )
        return
    if not results:
        out.print(
            "no touch paths: the warehouse has no exposures or e-mail/push events"
        )
        return
    channels = sorted({c for a in results for c in a.conversions})
    rows = [[a.model, *[a.conversions.get(c, 0.0) for c in channels]] for a in results]
    out.print(
        table(
            f"Conversions credited ({len(paths.paths):,} paths, "
            f"{lookback_days}-day lookback)",
            ["model", *channels],
            rows,
        )
    )


def _estimate(e: Any) -> str:
    return "" if e is None else f"{e.value:,.2f} {_ci(e.low, e.high)}"


def _costs(values: list[str]) -> dict[str, float]:
    from shopkeeper.errors import InvalidInput

    costs = {}
    for item in values:
        channel, sep, amount = item.partition("=")
        try:
            costs[channel] = float(amount)
        except ValueError:
            sep = ""
        if not sep or not channel:
            raise InvalidInput(f"--cost wants CHANNEL=AMOUNT, got {item!r}")
    return costs


@report_app.command("channels")
def channels_cmd(
    ctx: typer.Context,
    cost: Annotated[
        list[str] | None,
        typer.Option(help="Cost per contact, CHANNEL=AMOUNT; repeat per channel."),
    ] = None,
    model: Annotated[str, typer.Option(help="Attribution model.")] = "markov",
    lookback_days: Annotated[
        int, typer.Option(help="Days before a conversion a touch may count.")
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    show_progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress.")
    ] = True,
) -> None:
    """Every channel and campaign: reach, sales, credit, lift, cost and ROI."""
    from shopkeeper.measure.channels import channels_report

    costs = _costs(cost or [])
    with open_warehouse(ctx) as wh, progress(show_progress and not as_json) as cb:
        report = channels_report(
            wh, costs=costs, model=model, lookback_days=lookback_days, progress=cb
        )
    if as_json:
        emit_json(report.to_dict())
        return
    out.print(
        table(
            f"Channels (attribution: {report.attribution_model}, "
            f"{report.lookback_days}-day lookback)",
            [
                "channel",
                "reach",
                "exposures",
                "orders",
                "sales",
                "credited conv.",
                "credited revenue",
                "incremental revenue [95%]",
                "cost",
                "incr. ROI",
                "store lift (online to offline) [95%]",
            ],
            [
                [
                    r.channel,
                    r.reach,
                    r.exposures,
                    r.orders,
                    r.sales,
                    r.attributed_conversions,
                    r.attributed_revenue,
                    _estimate(r.incremental_revenue),
                    r.cost,
                    _pct(r.incremental_roi),
                    _estimate(r.store_lift),
                ]
                for r in report.channels
            ],
        )
    )
    out.print(
        table(
            "Campaigns",
            [
                "campaign",
                "type",
                "channel",
                "method",
                "reach",
                "holdout",
                "redemptions",
                "redemption rate",
                "revenue",
                "lift vs holdout or matched [95%]",
                "cost",
                "incr. ROI",
                "store lift [95%]",
            ],
            [
                [
                    r.campaign_id,
                    r.campaign_type,
                    r.channel,
                    r.method,
                    r.reach,
                    r.holdout,
                    r.redemptions,
                    _pct(r.redemption_rate),
                    r.revenue,
                    _estimate(r.incremental_revenue),
                    r.cost,
                    _pct(r.incremental_roi),
                    _estimate(r.store_lift),
                ]
                for r in report.campaigns
            ],
        )
    )
    out.print(
        "[dim]revenue: observational rows count spend on the campaign's coupon "
        "products; randomized rows count all spend in the campaign window[/dim]"
    )
    for r in report.campaigns:
        if r.note:
            out.print(f"[dim]campaign {r.campaign_id}: {r.note}[/dim]")
    for note in report.notes:
        out.print(f"[yellow]note: {note}[/yellow]")
