"""Build the profiles stage: RFM and top departments per customer."""

from __future__ import annotations

from shopkeeper import model
from shopkeeper.profiles.departments import top_departments
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.profiles.rfm import rfm
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["STAGE", "build"]


def build(ctx: BuildContext) -> None:
    """Rewrite profiles_rfm and profiles_departments as of ``ctx.as_of``."""
    wh = ctx.wh
    as_of = ctx.as_of or default_as_of(wh)
    ctx.step("profiles: purchases", 0, 3)
    lines = wh.checkpoint(purchase_lines(wh, as_of), "_tmp_profiles_lines")
    try:
        ctx.step("profiles: rfm", 1, 3)
        wh.write(
            model.PROFILES_RFM, rfm(baskets(lines), as_of, bins=ctx.settings.rfm_bins)
        )
        ctx.step("profiles: departments", 2, 3)
        wh.write(
            model.PROFILES_DEPARTMENTS,
            top_departments(
                lines, wh.table("products"), top=ctx.settings.top_departments
            ),
        )
    finally:
        wh.drop_temp("_tmp_profiles_lines")


STAGE = Stage(
    name="profiles",
    inputs=("orders", "order_lines", "products", "identity_map"),
    outputs=(model.PROFILES_RFM, model.PROFILES_DEPARTMENTS),
    run=build,
    doc="Per customer: RFM with scores and segment, and top departments by spend.",
)
