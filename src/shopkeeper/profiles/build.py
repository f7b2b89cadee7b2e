"""Build the profiles stage: RFM, top departments, CLV and habits per customer."""

from __future__ import annotations

from shopkeeper import model
from shopkeeper.profiles.clv import score, summary
from shopkeeper.profiles.departments import top_departments
from shopkeeper.profiles.features import feature_lines, features
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import rfm
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["STAGE", "build"]


def build(ctx: BuildContext) -> None:
    """Rewrite the profiles tables (rfm, departments, clv, features) as of ``as_of``.

    The CLV models are fitted on purchases before ``as_of`` only, so their
    predictions can be checked against what happened after it.
    """
    wh = ctx.wh
    as_of = ctx.as_of or default_as_of(wh)
    ctx.step("profiles: purchases", 0, 5)
    lines = wh.checkpoint(purchase_lines(wh, as_of), "_tmp_profiles_lines")
    try:
        ctx.step("profiles: rfm", 1, 5)
        wh.write(
            model.PROFILES_RFM, rfm(baskets(lines), as_of, bins=ctx.settings.rfm_bins)
        )
        ctx.step("profiles: departments", 2, 5)
        wh.write(
            model.PROFILES_DEPARTMENTS,
            top_departments(
                lines, wh.table("products"), top=ctx.settings.top_departments
            ),
        )
        ctx.step("profiles: clv", 3, 5)
        # The fit is a single-machine model: one summary row per customer
        # comes out as Arrow, the scored rows go back as a table.
        # Sorted rows and rounded spend: the engine's parallel sums differ in
        # the last bits from run to run, and the fit must not, so that a
        # rebuild gives the same table.
        rows = score(
            wh.to_arrow(summary(baskets(lines), as_of).order_by("customer_id"))
        )
        wh.write(model.PROFILES_CLV, wh.stage_arrow("_tmp_profiles_clv", rows))
        ctx.step("profiles: features", 4, 5)
        enriched = feature_lines(
            lines, wh.table("orders"), wh.table("order_lines"), wh.table("products")
        )
        wh.write(model.PROFILES_FEATURES, features(enriched, as_of))
    finally:
        wh.drop_temp("_tmp_profiles_lines")
        wh.drop_temp("_tmp_profiles_clv")


STAGE = Stage(
    name="profiles",
    inputs=("orders", "order_lines", "products", "identity_map"),
    outputs=(
        model.PROFILES_RFM,
        model.PROFILES_DEPARTMENTS,
        model.PROFILES_CLV,
        model.PROFILES_FEATURES,
    ),
    run=build,
    doc=(
        "Per customer: RFM with scores and segment, top departments by spend, "
        "52-week CLV, expected purchases and P(alive) (BG/NBD + Gamma-Gamma), and "
        "shopping habits (basket, cadence, promotion, private label, store, "
        "channel, day and time, top-department index)."
    ),
)
