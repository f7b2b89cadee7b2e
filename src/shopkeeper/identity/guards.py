"""Guards against bad merges: blocked values, per-customer limits, priorities.

One wrong link merges two people for good, and every downstream table (offers,
e-mails, consents) then treats them as one. So candidate links pass three
set-based gates, each refused link is kept with its reason:

1. **Blocked values.** A link touching a placeholder ("null", "undefined",
   "0000...", "-1", a test e-mail; see ``normalize``) is refused.
2. **Local limits.** For a limited type T (``user`` 1, ``anon`` 5 by default),
   an identifier's candidate links to T identifiers are ranked by rule
   priority, then first sighting, then identifier; those beyond the limit
   (one fewer if the identifier is itself a T) are refused. This is the shared
   device rule: an ``anon:`` id identified as two users keeps the stronger,
   earlier login and refuses the other.
3. **Component limits.** Links that pass are grouped into tentative
   components. Components within every limit are accepted whole (the usual
   case, one pass). The few over a limit are resolved by a parallel greedy
   on their links: each round, every current component nominates its best
   link (priority, sighting, identifiers); a link nominated by both of its
   components is accepted if the merged component stays within the limits,
   and any link that would exceed a limit is refused, finally, since
   components only grow. The globally best open link is always accepted, so
   the rounds end; ``max_iterations`` caps them.

A pair linked by several rows is decided once, by its strongest evidence; all
its rows then go to ``identity_links`` or ``identity_refused_links``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from shopkeeper.identity.components import NotConverged, connected_components
from shopkeeper.identity.normalize import blocked_reason
from shopkeeper.warehouse import Warehouse

__all__ = ["Guarded", "guard", "identifier_type"]

_LATE = ibis.timestamp("9999-12-31 00:00:00")
"""Orders unknown sighting times last on every engine (null order differs)."""


@dataclass(frozen=True)
class Guarded:
    """What the guards let through: evidence rows kept and refused, and the
    component label (smallest identifier) of every identifier with a kept link."""

    kept: ir.Table
    refused: ir.Table
    labels: ir.Table


def identifier_type(identifier: ir.StringValue) -> ir.StringValue:
    """The prefix of a typed identifier: ``user`` for ``user:42``."""
    return identifier.re_extract(r"^([^:]*):", 1)


def _limit_of(kind: ir.StringValue, limits: dict[str, int]) -> ir.IntegerValue:
    return ibis.cases(
        *((kind == t, n) for t, n in limits.items()), else_=ibis.null("int64")
    )


def _pairs(links: ir.Table) -> ir.Table:
    """One row per pair: its strongest rule and that rule's first sighting."""
    per = links.group_by("lo", "hi", "priority").agg(at=links.seen_at.min())
    per = per.mutate(at=per.at.coalesce(_LATE))
    best = ibis.row_number().over(
        group_by=[per.lo, per.hi], order_by=[per.priority, per.at]
    )
    return per.mutate(_n=best).filter(ibis._._n == 0).drop("_n")


def _local_refusals(pairs: ir.Table, limits: dict[str, int]) -> ir.Table:
    """(lo, hi, reason) of pairs over a per-identifier limit (gate 2)."""
    ends = pairs.select(node=pairs.lo, other=pairs.hi, lo="lo", hi="hi", p="priority",
                        at="at").union(
        pairs.select(node=pairs.hi, other=pairs.lo, lo="lo", hi="hi", p="priority",
                     at="at")
    )  # fmt: skip
    kind = identifier_type(ends.other)
    ends = ends.mutate(kind=kind, cap=_limit_of(kind, limits))
    ends = ends.filter(ends.cap.notnull())
    rank = ibis.row_number().over(
        group_by=[ends.node, ends.kind], order_by=[ends.p, ends.at, ends.other]
    )
    own = (identifier_type(ends.node) == ends.kind).cast("int64")
    ends = ends.mutate(rank=rank, allowed=ends.cap - own)
    over = ends.filter(ends.rank >= ends.allowed)
    reason = (
        "limit: " + over.node + " would hold more than " + over.cap.cast("string")
        + " " + over.kind + ": id(s); stronger or earlier links kept"
    )  # fmt: skip
    return over.group_by("lo", "hi").agg(reason=reason.min())


def _counts(labels: ir.Table, limits: dict[str, int]) -> ir.Table:
    kind = identifier_type(labels.node)
    return labels.group_by("label").agg(
        **{f"n_{t}": (kind == t).cast("int64").sum() for t in limits}
    )


def _over_limit(pairs: ir.Table, counts: ir.Table, limits: dict[str, int]) -> ir.Table:
    """Pairs with ``reason`` set where joining their two components exceeds a limit."""
    ca = counts.rename(**{f"a_{k}": k for k in counts.columns})
    cb = counts.rename(**{f"b_{k}": k for k in counts.columns})
    j = pairs.join(ca, pairs.la == ca.a_label).join(cb, ibis._.lb == cb.b_label)
    cases = []
    for t, n in limits.items():
        total = j[f"a_n_{t}"] + j[f"b_n_{t}"]
        text = (
            "limit: joining would give one customer " + total.cast("string")
            + f" {t}: ids (max {n})"
        )  # fmt: skip
        cases.append(((j.la != j.lb) & (total > n), text))
    reason = ibis.cases(*cases, else_=ibis.null("string"))
    return j.select(*pairs.columns, reason=reason)


def _resolve(
    wh: Warehouse, pairs: ir.Table, limits: dict[str, int], max_iterations: int
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Gate 3: (accepted pairs, refused pairs with reason, labels)."""
    first = connected_components(
        wh, pairs, max_iterations=max_iterations, name="tentative"
    )
    counts = _counts(first, limits)
    bad = counts.filter(
        ibis.or_(*(counts[f"n_{t}"] > n for t, n in limits.items()))
    ).select(bad="label")
    by_pair = pairs.join(first, pairs.lo == first.node).drop("node")
    by_pair = wh.checkpoint(
        by_pair.left_join(bad, by_pair.label == bad.bad), "_tmp_identity_by_pair"
    )
    good = by_pair.filter(by_pair.bad.isnull()).select("lo", "hi")
    pending = by_pair.filter(by_pair.bad.notnull()).select("lo", "hi", "priority", "at")
    if wh.count(pending) == 0:
        refused = good.limit(0).mutate(reason=ibis.literal(""))
        return good, refused, first
    bad_nodes = first.join(bad, first.label == bad.bad)
    state = wh.checkpoint(
        bad_nodes.select(node=bad_nodes.node, label=bad_nodes.node),
        "_tmp_identity_greedy_0",
    )
    accepted: list[ir.Table] = [good]
    refused: list[ir.Table] = []
    for round_ in range(1, max_iterations + 1):
        la = state.rename(a_node="node", la="label")
        lb = state.rename(b_node="node", lb="label")
        p = pending.join(la, pending.lo == la.a_node).join(lb, ibis._.hi == lb.b_node)
        p = p.select("lo", "hi", "priority", "at", "la", "lb")
        counts = wh.checkpoint(_counts(state, limits), f"_tmp_identity_n_{round_}")
        p = wh.checkpoint(_over_limit(p, counts, limits), f"_tmp_identity_p_{round_}")
        inside = p.filter(p.la == p.lb).select("lo", "hi")
        over = p.filter(p.reason.notnull()).select("lo", "hi", "reason")
        open_ = p.filter((p.la != p.lb) & p.reason.isnull())
        ends = open_.select("lo", "hi", "priority", "at", comp=open_.la).union(
            open_.select("lo", "hi", "priority", "at", comp=open_.lb)
        )
        pick = ibis.row_number().over(
            group_by=ends.comp, order_by=[ends.priority, ends.at, ends.lo, ends.hi]
        )
        best = ends.mutate(_n=pick).filter(ibis._._n == 0)
        votes = best.group_by("lo", "hi").agg(n=best.comp.count())
        won = open_.join(votes.filter(votes.n == 2), ["lo", "hi"]).select(
            "lo", "hi", "la", "lb"
        )
        won = wh.checkpoint(won, f"_tmp_identity_won_{round_}")
        accepted += [wh.checkpoint(inside, f"_tmp_identity_in_{round_}"),
                     won.select("lo", "hi")]  # fmt: skip
        refused.append(wh.checkpoint(over, f"_tmp_identity_over_{round_}"))
        if wh.count(won) == 0:  # nothing open: every pending pair was decided
            return ibis.union(*accepted), ibis.union(*refused), _labels(first, state)
        moves = won.select(
            old=ibis.greatest(won.la, won.lb), new=ibis.least(won.la, won.lb)
        )
        moved = state.left_join(moves, state.label == moves.old)
        state = wh.checkpoint(
            moved.select(node=moved.node, label=moved.new.coalesce(moved.label)),
            f"_tmp_identity_greedy_{round_}",
        )
        pending = wh.checkpoint(
            open_.anti_join(won, ["lo", "hi"]).select("lo", "hi", "priority", "at"),
            f"_tmp_identity_pending_{round_}",
        )
    raise NotConverged(
        f"identity limits still resolving after {max_iterations} rounds",
        hint="raise SHOPKEEPER_IDENTITY_MAX_ITERATIONS",
    )


def _labels(first: ir.Table, state: ir.Table) -> ir.Table:
    kept = first.anti_join(state, "node")
    return kept.union(state.select("node", "label"))


def guard(
    wh: Warehouse, links: ir.Table, limits: dict[str, int], *, max_iterations: int
) -> Guarded:
    """Run the three gates over candidate ``links`` (see ``links.candidate_links``).

    Args:
        wh: where intermediate rounds are materialised.
        links: evidence rows with ``lo``/``hi`` pair columns and ``priority``.
        limits: most identifiers of each type per customer, e.g.
            ``{"user": 1, "anon": 5}``.
        max_iterations: cap on component and resolution rounds.
    """
    why = ibis.coalesce(
        blocked_reason(links.identifier_a) + ": " + links.identifier_a,
        blocked_reason(links.identifier_b) + ": " + links.identifier_b,
    )
    marked = wh.checkpoint(links.mutate(reason=why), "_tmp_identity_marked")
    blocked = marked.filter(marked.reason.notnull())
    usable = marked.filter(marked.reason.isnull()).drop("reason")
    pairs = wh.checkpoint(_pairs(usable), "_tmp_identity_pairs")
    local = wh.checkpoint(_local_refusals(pairs, limits), "_tmp_identity_local")
    pairs = pairs.anti_join(local, ["lo", "hi"])
    ok, over, labels = _resolve(wh, pairs, limits, max_iterations)
    refused_pairs = local.union(over)
    refused = usable.join(refused_pairs, ["lo", "hi"]).union(blocked)
    kept = usable.semi_join(ok, ["lo", "hi"])
    return Guarded(kept=kept, refused=refused, labels=labels)
