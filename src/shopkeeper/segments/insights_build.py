"""Build the insights stage: basket rules between categories, kept as a table.

Pairing every basket's categories is a self-join over about a million
(basket, category) rows on the full Complete Journey (about 4 s): fine for a
build, too slow for each view of the merchandising page, which reads this
table and filters it. Affinity and promotion response by segment are cheap
enough to compute per view and are not stored.
"""

from __future__ import annotations

import ibis

from shopkeeper.model.segments import INSIGHTS_RULES
from shopkeeper.profiles.purchases import default_as_of
from shopkeeper.segments.insights import category_rules
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["RULES_MIN_SUPPORT", "STAGE", "build"]

RULES_MIN_SUPPORT = 0.01
"""Rules are kept down to 1% of baskets: below that the self-join grows fast
and a pair seen in a handful of baskets says little. Readers filter upwards."""


def build(ctx: BuildContext) -> None:
    as_of = ctx.as_of or default_as_of(ctx.wh)
    rules = category_rules(ctx.wh, min_support=RULES_MIN_SUPPORT, as_of=as_of)
    ctx.wh.write(
        INSIGHTS_RULES,
        rules.mutate(
            min_support=ibis.literal(RULES_MIN_SUPPORT),
            as_of=ibis.literal(as_of).cast("date"),
        ),
    )


STAGE = Stage(
    name="insights",
    inputs=("orders", "order_lines", "products", "identity_map"),
    outputs=(INSIGHTS_RULES,),
    run=build,
    doc=(
        "Association rules between product categories over baskets (support, "
        "confidence, lift) for the merchandising page and `shopkeeper insights "
        "rules`."
    ),
)
