"""Build the identity stage: identifiers, links, guards, components, stable ids.

Order matters for stable ids: the previous identity_map is read (and
materialised) before anything is rewritten, so each component can keep the
customer_id its identifiers had.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis.expr.types as ir

from shopkeeper import model
from shopkeeper.identity.guards import guard
from shopkeeper.identity.links import (
    candidate_links,
    event_sightings,
    parse_events,
)
from shopkeeper.identity.matching import probabilistic_links
from shopkeeper.identity.sightings import (
    identifier_sightings,
    identifiers,
    link_sightings,
)
from shopkeeper.identity.stable import assign_customers
from shopkeeper.settings import Settings
from shopkeeper.warehouse import BuildContext, Stage, Warehouse

__all__ = ["STAGE", "build", "build_identity", "limits"]


def limits(settings: Settings) -> dict[str, int]:
    """Most identifiers of each type one customer may hold."""
    return {
        "user": settings.identity_max_user_ids,
        "anon": settings.identity_max_anonymous_ids,
    }


def _previous(wh: Warehouse) -> ir.Table | None:
    if not wh.exists(model.IDENTITY_MAP.name):
        return None
    old = wh.table(model.IDENTITY_MAP).select("identifier", "customer_id")
    return wh.checkpoint(old, "_tmp_identity_previous")


def build_identity(
    wh: Warehouse,
    settings: Settings,
    *,
    progress: BuildContext | None = None,
    now: datetime | None = None,
) -> None:
    """Rewrite identifiers, identity_links, identity_refused_links and
    identity_map from the collected tables; append this build's merges.

    Args:
        wh: the warehouse to read and write.
        settings: limits and the iteration cap.
        progress: a build context to report steps to, if any.
        now: the time stamped on merges (default: the current UTC time).
    """

    def step(text: str, done: int) -> None:
        if progress is not None:
            progress.step(f"identity: {text}", done, 5)

    merged_at = (now or datetime.now(UTC)).replace(tzinfo=None)
    previous = _previous(wh)
    step("links", 0)
    parsed = parse_events(wh)
    parts = identifier_sightings(wh)
    if (seen := event_sightings(parsed)) is not None:
        parts.append(seen)
    links = candidate_links(wh, parsed, probabilistic_links(wh, settings))
    if links is not None:
        links = wh.checkpoint(links, "_tmp_identity_links")
        parts.append(link_sightings(links))
    step("identifiers", 1)
    ids = wh.write(model.IDENTIFIERS, identifiers(parts))
    step("guards", 2)
    if links is None:
        labels = ids.select(node="identifier", label="identifier").limit(0)
        kept = refused = None
    else:
        guarded = guard(
            wh,
            links,
            limits(settings),
            max_iterations=settings.identity_max_iterations,
        )
        labels, kept, refused = guarded.labels, guarded.kept, guarded.refused
    step("customers", 3)
    nodes = ids.left_join(labels, ids.identifier == labels.node)
    nodes = nodes.select(
        "identifier",
        "first_seen_at",
        label=nodes.label.coalesce(nodes.identifier),
    )
    mapping, merges = assign_customers(nodes, previous, merged_at)
    step("write", 4)
    with wh.transaction():
        wh.write(model.IDENTITY_LINKS, _or_empty(wh, kept, model.IDENTITY_LINKS))
        wh.write(
            model.IDENTITY_REFUSED_LINKS,
            _or_empty(wh, refused, model.IDENTITY_REFUSED_LINKS),
        )
        wh.write(model.IDENTITY_MAP, mapping)
        wh.append(model.IDENTITY_MERGES, merges)
    for name in wh.engine.list_tables():  # every round's intermediates
        if name.startswith("_tmp_identity_"):
            wh.drop_temp(name)


def _or_empty(wh: Warehouse, expr: ir.Table | None, spec: model.TableSpec) -> ir.Table:
    if expr is not None:
        return expr
    empty = spec.schema.to_pyarrow().empty_table()
    return wh.stage_arrow(f"_tmp_identity_empty_{spec.name}", empty)


def build(ctx: BuildContext) -> None:
    """The identity stage, as the build graph runs it."""
    build_identity(ctx.wh, ctx.settings, progress=ctx)


STAGE = Stage(
    name="identity",
    inputs=("orders",),
    outputs=(
        model.IDENTIFIERS,
        model.IDENTITY_LINKS,
        model.IDENTITY_REFUSED_LINKS,
        model.IDENTITY_MAP,
        model.IDENTITY_MERGES,
    ),
    run=build,
    doc=(
        "Every identifier seen, the links that join them (and those refused), "
        "and the stable customer and household each belongs to."
    ),
)
