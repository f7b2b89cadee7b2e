"""Connected components of a link graph, as repeated joins on any engine.

Identity resolution is connected components over links. Doing it in Python
would pull every link out of the warehouse; doing it as SQL joins lets DuckDB
or Spark do the work where the data is (Splink's approach). Each round:

1. every node takes the smallest label among itself and its neighbours, and
   offers it to the node its label points to (hooking);
2. pointer jumping: a node takes its label's label, if smaller, which halves
   long chains each round instead of walking them one hop at a time;
3. the round is materialised (``wh.checkpoint``: a temp table on DuckDB, a
   lineage break on Spark) and the nodes whose label changed are counted.

It stops when no label changes; a chain of n links converges in about
log2(n) rounds. The label of a component is its smallest identifier.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from shopkeeper.errors import ShopkeeperError
from shopkeeper.warehouse import Warehouse

__all__ = ["NotConverged", "connected_components"]


class NotConverged(ShopkeeperError):
    """An iterative identity step ran out of rounds before it settled."""

    code = "identity_not_converged"


def _hook(labels: ir.Table, near: ir.Table) -> ir.Table:
    """Lower each node, and the node its label points to, to the neighbours' min.

    Updating the pointed-to node too ("hooking", as in Shiloach-Vishkin) lets
    a small label reach every node that points to the same root in one round,
    instead of creeping along a chain one hop at a time.
    """
    j = labels.join(near, labels.node == near.src)
    j = j.select(node=j.node, root=j.label, cand=ibis.least(j.label, j.m))
    proposals = j.select(target=j.node, cand=j.cand).union(
        j.select(target=j.root, cand=j.cand)
    )
    return proposals.group_by(node=proposals.target).agg(label=proposals.cand.min())


def connected_components(
    wh: Warehouse, edges: ir.Table, *, max_iterations: int, name: str
) -> ir.Table:
    """``(node, label)`` for every endpoint of ``edges`` (columns ``lo``, ``hi``).

    Args:
        wh: where the rounds are materialised.
        edges: undirected links; direction and duplicates do not matter.
        max_iterations: rounds allowed before ``NotConverged`` is raised.
        name: names the temp tables (``_tmp_identity_<name>_*``) so callers
            running several component passes do not collide.

    Returns:
        The labels, checkpointed as ``_tmp_identity_<name>``.
    """
    both = edges.select(src=edges.lo, dst=edges.hi).union(
        edges.select(src=edges.hi, dst=edges.lo)
    )
    both = wh.checkpoint(both, f"_tmp_identity_{name}_edges")
    first = both.group_by("src").agg(m=both.dst.min())
    labels = wh.checkpoint(
        first.select(node=first.src, label=ibis.least(first.src, first.m)),
        f"_tmp_identity_{name}_0",
    )
    for round_ in range(1, max_iterations + 1):
        near = both.join(labels, both.dst == labels.node)
        near = near.group_by(near.src).agg(m=near.label.min())
        here = wh.checkpoint(_hook(labels, near), f"_tmp_identity_{name}_step")
        hop = here.view().rename(via="node", via_label="label")
        jumped = here.join(hop, here.label == hop.via)
        jumped = jumped.select(
            node=jumped.node, label=ibis.least(jumped.label, jumped.via_label)
        )
        new = wh.checkpoint(jumped, f"_tmp_identity_{name}_{round_}")
        old = labels.rename(old_label="label")
        diff = new.join(old, "node").filter(ibis._.label != ibis._.old_label)
        changed = wh.count(diff)
        wh.drop_temp(f"_tmp_identity_{name}_{round_ - 1}")
        wh.drop_temp(f"_tmp_identity_{name}_step")
        labels = new
        if changed == 0:
            wh.drop_temp(f"_tmp_identity_{name}_edges")
            final = wh.checkpoint(labels, f"_tmp_identity_{name}")
            wh.drop_temp(f"_tmp_identity_{name}_{round_}")
            return final
    raise NotConverged(
        f"identity components ({name}) still changing after {max_iterations} rounds",
        hint="raise SHOPKEEPER_IDENTITY_MAX_ITERATIONS, or look for a runaway "
        "identifier in identity_links",
    )
