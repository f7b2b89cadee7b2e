"""The partner clean room: aggregate answers that never single anyone out.

A partner (a brand or vendor) asks a structured query over an approved view
of its own products' sales (see ``cleanroom_query`` and ``cleanroom_views``).
The answer goes through three guards, after the query itself was checked
against the view's allow-lists:

1. **Crowd size.** Every output row must count at least N distinct customers
   (``min_crowd``, 50 by default, per view configurable). Rows under N are
   withheld and counted in ``suppressed_rows``. If the withheld rows together
   count fewer than N customers, the next-smallest rows are withheld too
   (secondary suppression): otherwise "the total minus the shown rows" would
   rebuild them. A query whose every row is withheld is refused.
2. **Difference check.** For each shown row, and for the shown rows taken
   together, the customers whose contribution differs from a row this partner
   was answered before are counted. A count from 1 to N-1 means subtracting
   the two answers isolates a small group, and the query is refused, naming
   the earlier query. Contributions, not just membership, are compared: "all
   sales" and "all sales except store 42" hold the same customers when the
   store-42 shoppers also shop elsewhere, yet their difference is those
   shoppers' store-42 sales. Every view fingerprints the same order lines,
   so the check also spans views.
3. **Log.** Every query, answered, refused or invalid, is logged with the
   partner, its text and the rows returned.

This is not differential privacy: sums over several earlier answers, or
colluding partners, can still narrow a group. Adding calibrated noise to the
measures is the next step if partners get more freedom than these views give.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from shopkeeper.errors import ConfigError, Forbidden, InvalidInput, ShopkeeperError
from shopkeeper.trust.cleanroom_query import (
    CUSTOMERS,
    CleanroomQuery,
    View,
    check_query,
    compile_query,
)
from shopkeeper.trust.cleanroom_registry import Partner, PartnerRegistry, Released
from shopkeeper.trust.cleanroom_views import VIEWS
from shopkeeper.warehouse import Warehouse

__all__ = ["Answer", "CleanRoom", "differing"]

MAX_QUERY_CHARS = 20_000
UNION = "the shown rows taken together"


@dataclass(frozen=True)
class Answer:
    """What a partner gets back: rows of at least ``min_crowd`` customers each."""

    query_id: int
    partner: str
    view: str
    min_crowd: int
    columns: list[str]
    rows: list[dict[str, Any]]
    suppressed_rows: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def differing(a: Released, b: Released) -> int:
    """Customers whose contribution differs between two rows: in one only, or
    in both with different source rows."""
    only_a = a.who[~np.isin(a.pairs, b.pairs, assume_unique=True)]
    only_b = b.who[~np.isin(b.pairs, a.pairs, assume_unique=True)]
    return int(len(np.union1d(only_a, only_b)))


def _label(dims: list[str], key: tuple[Any, ...]) -> str:
    if not dims:
        return "the single row"
    return json.dumps(dict(zip(dims, key, strict=True)), default=str)


def _text(query: Mapping[str, Any] | str) -> str:
    if isinstance(query, str):
        return query
    return json.dumps(query, sort_keys=True, default=str)


class CleanRoom:
    """Answers partner queries over the approved views, or says why not.

    Owned by whoever serves partners (the app, the CLI); it holds the registry
    and the thresholds, and opens nothing itself: callers pass the warehouse.
    """

    def __init__(
        self,
        registry: PartnerRegistry,
        *,
        min_crowd: int = 50,
        view_min_crowd: Mapping[str, int] | None = None,
        views: Mapping[str, View] = VIEWS,
    ) -> None:
        self.registry = registry
        self.views = views
        self.min_crowd = min_crowd
        self.view_min_crowd = dict(view_min_crowd or {})
        for name, n in [("default", min_crowd), *self.view_min_crowd.items()]:
            if n < 2:
                raise ConfigError(
                    f"clean-room min crowd for {name} is {n}; it must be at least 2"
                )
        unknown = set(self.view_min_crowd) - set(views)
        if unknown:
            raise ConfigError(f"min crowd set for unknown views: {sorted(unknown)}")

    @classmethod
    def from_settings(cls, settings: Any) -> CleanRoom:
        """The clean room of a deployment: ``cleanroom.sqlite`` in the state dir."""
        path = Path(settings.state_dir) / "cleanroom.sqlite"
        return cls(
            PartnerRegistry(path),
            min_crowd=getattr(settings, "cleanroom_min_crowd", 50),
            view_min_crowd=getattr(settings, "cleanroom_view_min_crowd", None),
        )

    def crowd(self, view: View) -> int:
        """N for ``view``: its configured value, its own default, or the global."""
        return self.view_min_crowd.get(view.name, view.min_crowd or self.min_crowd)

    def query(
        self, wh: Warehouse, partner: Partner | str, query: Mapping[str, Any] | str
    ) -> Answer:
        """Run ``query`` as ``partner``; every outcome is logged.

        Raises:
            InvalidInput: the query is malformed or uses something the view
                does not allow (an identifier, free text, min/max, ...).
            Forbidden: the answer would single out a small group (every row
                under the crowd size, or a small difference from an earlier
                answer), or the partner is disabled.
        """
        who = self.registry.get(partner) if isinstance(partner, str) else partner
        text = _text(query)
        try:
            if who.status != "active":
                raise Forbidden(f"partner {who.name!r} is disabled")
            parsed = self._parse(query, text)
            view = check_query(parsed, self.views)
            n = self.crowd(view)
            shown, released, suppressed, notes = self._answer(wh, who, parsed, view, n)
        except ShopkeeperError as exc:
            outcome = {422: "invalid", 403: "refused"}.get(exc.status, "error")
            self.registry.log(who, text[:MAX_QUERY_CHARS], outcome, exc.message)
            raise
        except Exception as exc:  # a bug still leaves its trace in the log
            reason = f"internal error: {type(exc).__name__}"
            self.registry.log(who, text[:MAX_QUERY_CHARS], "error", reason)
            raise
        query_id = self.registry.release(
            who,
            view.name,
            text,
            released,
            min_crowd=n,
            check=lambda earlier: self._difference(released, earlier, n),
            returned=len(shown),
            suppressed=suppressed,
        )
        columns = [*parsed.dimensions, CUSTOMERS, *(m.name for m in parsed.measures)]
        return Answer(
            query_id, who.name, view.name, n, columns, shown, suppressed, notes
        )

    @staticmethod
    def _parse(query: Mapping[str, Any] | str, text: str) -> CleanroomQuery:
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(
                f"query refused: longer than {MAX_QUERY_CHARS:,} characters"
            )
        try:
            if isinstance(query, str):
                return CleanroomQuery.model_validate_json(query)
            return CleanroomQuery.model_validate(query)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidInput(f"query refused: {problems}") from None

    def _answer(
        self,
        wh: Warehouse,
        partner: Partner,
        query: CleanroomQuery,
        view: View,
        n: int,
    ) -> tuple[list[dict[str, Any]], list[Released], int, list[str]]:
        """Shown rows, what they release, how many were withheld, and notes."""
        answer_expr, members_expr = compile_query(
            query, view.build(wh, partner.manufacturer_ids)
        )
        answer = wh.to_arrow(answer_expr).to_pylist()
        members = wh.to_arrow(members_expr)
        dims = list(query.dimensions)
        rows = self._members(members, dims)
        small = {k for k, r in rows.items() if r.customers < n}
        notes = []
        if small:
            notes.append(f"{len(small)} row(s) counted fewer than {n} customers")
            extra = self._secondary(rows, small, n)
            if extra:
                notes.append(
                    f"{len(extra)} more row(s) withheld so the withheld rows "
                    f"together count at least {n} customers (the total minus "
                    "the shown rows would otherwise reveal them)"
                )
            small |= extra
        if answer and len(small) == len(rows):
            raise Forbidden(
                f"refused: every row of this query counts fewer than {n} distinct "
                f"customers (view {view.name} needs at least {n} per row)"
                if len(notes) == 1
                else f"refused: the rows under {n} customers hold fewer than {n} "
                "between them, and withholding enough other rows to hide them "
                "leaves nothing to show; ask for fewer dimensions"
            )
        shown = [
            {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
            for row in answer
            if tuple(row[d] for d in dims) not in small
        ]
        released = [r for k, r in rows.items() if k not in small]
        if len(released) > 1:
            released.append(self._union(released))
        return shown, released, len(small), notes

    def _members(
        self, members: Any, dims: list[str]
    ) -> dict[tuple[Any, ...], Released]:
        """Per output row, the keyed customer hashes and (customer, contribution)
        hashes the registry stores and the difference check compares."""
        ids = members.column("customer_id").to_pylist()
        unique = sorted(set(ids))
        hashed = dict(zip(unique, self.registry.hash_customers(unique), strict=True))
        who = np.array([hashed[c] for c in ids], dtype=np.uint64)
        fp = members.column("fp").to_numpy(zero_copy_only=False).astype(np.int64)
        # The engine's hashes are already well mixed, and XOR keeps them
        # additive: the XOR of a customer's rows is their union's fingerprint.
        pairs = who ^ fp.view(np.uint64)
        keys = list(zip(*(members.column(d).to_pylist() for d in dims), strict=True))
        if not dims:
            keys = [()] * len(ids)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        return {
            key: Released(_label(dims, key), who[idx], pairs[idx])
            for key, idx in ((k, np.array(v)) for k, v in groups.items())
        }

    @staticmethod
    def _secondary(
        rows: dict[tuple[Any, ...], Released], small: set[tuple[Any, ...]], n: int
    ) -> set[tuple[Any, ...]]:
        """Rows to withhold as well, smallest first, until the withheld rows
        hold at least ``n`` customers between them (or nothing is left)."""
        extra: set[tuple[Any, ...]] = set()
        withheld = np.unique(np.concatenate([rows[k].who for k in small]))
        ordered = sorted(
            (k for k in rows if k not in small), key=lambda k: rows[k].customers
        )
        for key in ordered:
            if len(withheld) >= n:
                break
            extra.add(key)
            withheld = np.union1d(withheld, rows[key].who)
        return extra

    @staticmethod
    def _union(rows: list[Released]) -> Released:
        """The shown rows as one group: each customer's fingerprints XOR-ed,
        which is exactly the fingerprint of their source rows in all of them
        (rows of one query never share a source row)."""
        who = np.concatenate([r.who for r in rows])
        pairs = np.concatenate([r.who ^ r.pairs for r in rows])
        order = np.argsort(who, kind="stable")
        who, pairs = who[order], pairs[order]
        starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        combined = np.bitwise_xor.reduceat(pairs, starts)
        unique = who[starts]
        return Released(UNION, unique, unique ^ combined)

    @staticmethod
    def _difference(
        new: list[Released], earlier: list[tuple[int, str, Released]], n: int
    ) -> str | None:
        for row in new:
            for query_id, label, old in earlier:
                if abs(row.customers - old.customers) >= n:
                    continue
                d = differing(row, old)
                if 0 < d < n:
                    return (
                        f"refused: {_which(row.label)} of this query and "
                        f"{_which(label)} of your query #{query_id} differ in "
                        f"between 1 and {n - 1} customers; comparing the two "
                        f"answers would isolate a group smaller than {n}"
                    )
        return None


def _which(label: str) -> str:
    return label if label in (UNION, "the single row") else f"row {label}"
