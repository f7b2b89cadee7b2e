"""Build the profiles stage: RFM, departments, CLV, habits, affinities,
promotion response, life stage, demographics and churn risk per customer."""

from __future__ import annotations

import datetime as dt
import logging

import ibis.expr.types as ir
import pyarrow as pa

from shopkeeper import model
from shopkeeper.errors import InvalidInput
from shopkeeper.model import TableSpec
from shopkeeper.profiles.affinities import affinities, affinity_lines
from shopkeeper.profiles.churn import churn_risk, profile_frame
from shopkeeper.profiles.clv import score, summary
from shopkeeper.profiles.demographics import demographics
from shopkeeper.profiles.departments import top_departments
from shopkeeper.profiles.features import feature_lines, features
from shopkeeper.profiles.life_stage import life_stage
from shopkeeper.profiles.promotion_response import featured_lines, promotion_response
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import rfm
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["STAGE", "build"]

log = logging.getLogger(__name__)

_STEPS = 10
_TEMPS = (
    "_tmp_profiles_lines",
    "_tmp_profiles_clv",
    "_tmp_profiles_churn",
    "_tmp_profiles_demographics",
)


def build(ctx: BuildContext) -> None:
    """Rewrite the profiles tables as of ``as_of``.

    Every table reads purchases before ``as_of`` only, and the models (CLV,
    churn) are fitted on them, so their predictions can be checked against
    what happened after it.
    """
    wh = ctx.wh
    as_of = ctx.as_of or default_as_of(wh)
    ctx.step("profiles: purchases", 0, _STEPS)
    lines = wh.checkpoint(purchase_lines(wh, as_of), "_tmp_profiles_lines")
    products = wh.table("products")
    try:
        ctx.step("profiles: rfm", 1, _STEPS)
        wh.write(
            model.PROFILES_RFM, rfm(baskets(lines), as_of, bins=ctx.settings.rfm_bins)
        )
        ctx.step("profiles: departments", 2, _STEPS)
        wh.write(
            model.PROFILES_DEPARTMENTS,
            top_departments(lines, products, top=ctx.settings.top_departments),
        )
        ctx.step("profiles: clv", 3, _STEPS)
        # The fit is a single-machine model: one summary row per customer
        # comes out as Arrow, the scored rows go back as a table.
        # Sorted rows and rounded spend: the engine's parallel sums differ in
        # the last bits from run to run, and the fit must not, so that a
        # rebuild gives the same table.
        rows = score(
            wh.to_arrow(summary(baskets(lines), as_of).order_by("customer_id"))
        )
        wh.write(model.PROFILES_CLV, wh.stage_arrow("_tmp_profiles_clv", rows))
        ctx.step("profiles: features", 4, _STEPS)
        enriched = feature_lines(
            lines, wh.table("orders"), wh.table("order_lines"), products
        )
        wh.write(model.PROFILES_FEATURES, features(enriched, as_of))
        ctx.step("profiles: affinities", 5, _STEPS)
        wh.write(model.PROFILES_AFFINITIES, affinities(affinity_lines(lines, products)))
        ctx.step("profiles: promotion response", 6, _STEPS)
        _promotions(ctx, lines, as_of)
        ctx.step("profiles: life stage", 7, _STEPS)
        wh.write(model.PROFILES_LIFE_STAGE, life_stage(lines, products, as_of))
        ctx.step("profiles: demographics", 8, _STEPS)
        _demographics(ctx)
        ctx.step("profiles: churn risk", 9, _STEPS)
        _churn(ctx, as_of)
    finally:
        for name in _TEMPS:
            wh.drop_temp(name)


def _promotions(ctx: BuildContext, lines: ir.Table, as_of: dt.date) -> None:
    # A warehouse without promotions (not every retailer exports them) still
    # gets a row per customer: nothing featured, shares 0, indexes null.
    wh = ctx.wh
    promotions = wh.table("promotions") if wh.exists("promotions") else None
    marked = featured_lines(lines, wh.table("orders"), promotions)
    wh.write(model.PROFILES_PROMOTIONS, promotion_response(marked, as_of))


def _demographics(ctx: BuildContext) -> None:
    wh = ctx.wh
    if not wh.exists("households"):
        wh.write(model.PROFILES_DEMOGRAPHICS, _empty(ctx, model.PROFILES_DEMOGRAPHICS))
        return
    wh.write(
        model.PROFILES_DEMOGRAPHICS,
        demographics(wh.table("identity_map"), wh.table("households")),
    )


def _churn(ctx: BuildContext, as_of: dt.date) -> None:
    # Too short a history (or a slice with no churners) leaves the table
    # empty rather than failing the whole build: risk is one feature of many.
    wh = ctx.wh
    try:
        rows = churn_risk(wh, as_of, now=profile_frame(wh))
    except InvalidInput as exc:
        log.warning("profiles_churn left empty: %s", exc)
        wh.write(model.PROFILES_CHURN, _empty(ctx, model.PROFILES_CHURN))
        return
    wh.write(model.PROFILES_CHURN, wh.stage_arrow("_tmp_profiles_churn", rows))


def _empty(ctx: BuildContext, spec: TableSpec) -> ir.Table:
    return ctx.wh.stage_arrow(
        f"_tmp_{spec.name}", pa.Table.from_pylist([], schema=spec.schema.to_pyarrow())
    )


STAGE = Stage(
    name="profiles",
    inputs=("orders", "order_lines", "products", "identity_map"),
    outputs=(
        model.PROFILES_RFM,
        model.PROFILES_DEPARTMENTS,
        model.PROFILES_CLV,
        model.PROFILES_FEATURES,
        model.PROFILES_AFFINITIES,
        model.PROFILES_PROMOTIONS,
        model.PROFILES_LIFE_STAGE,
        model.PROFILES_DEMOGRAPHICS,
        model.PROFILES_CHURN,
    ),
    run=build,
    doc=(
        "Per customer: RFM with scores and segment, top departments by spend, "
        "52-week CLV, expected purchases and P(alive) (BG/NBD + Gamma-Gamma), "
        "shopping habits (basket, cadence, promotion, private label, store, "
        "channel, day and time, top-department index), department, category and "
        "brand affinity indexes, response to displays and mailers, life-stage "
        "shift (category mix now vs six months earlier), demographics where "
        "known, and churn risk (LightGBM)."
    ),
)
