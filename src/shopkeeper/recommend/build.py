"""Build the recommend stage: the personal top-frequency baseline."""

from __future__ import annotations

from shopkeeper import model
from shopkeeper.profiles import default_as_of, purchase_lines
from shopkeeper.recommend.personal_top import personal_top
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["STAGE", "build"]


def build(ctx: BuildContext) -> None:
    """Rewrite recommend_personal_top from purchases before ``ctx.as_of``."""
    wh = ctx.wh
    as_of = ctx.as_of or default_as_of(wh)
    ctx.step("recommend: personal top", 0, 1)
    k = ctx.settings.recommendations_per_customer
    wh.write(model.RECOMMEND_PERSONAL_TOP, personal_top(purchase_lines(wh, as_of), k=k))


STAGE = Stage(
    name="recommend",
    inputs=("orders", "order_lines", "identity_map"),
    outputs=(model.RECOMMEND_PERSONAL_TOP,),
    run=build,
    doc="Each customer's most frequently bought products (P-TopFreq baseline).",
)
