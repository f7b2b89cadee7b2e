"""Build the identity stage: identifiers and identity_map."""

from __future__ import annotations

from shopkeeper import model
from shopkeeper.identity.households import (
    identifier_sightings,
    identifiers,
    identity_map,
)
from shopkeeper.warehouse import BuildContext, Stage

__all__ = ["STAGE", "build"]


def build(ctx: BuildContext) -> None:
    """Rewrite identifiers and identity_map from every collected table."""
    wh = ctx.wh
    ctx.step("identity: identifiers", 0, 2)
    ids = wh.write(model.IDENTIFIERS, identifiers(identifier_sightings(wh)))
    ctx.step("identity: identity_map", 1, 2)
    wh.write(model.IDENTITY_MAP, identity_map(ids))


STAGE = Stage(
    name="identity",
    inputs=("orders",),
    outputs=(model.IDENTIFIERS, model.IDENTITY_MAP),
    run=build,
    doc="Every identifier seen, and the customer and household it belongs to.",
)
