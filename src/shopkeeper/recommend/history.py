"""Baskets as arrays: the protocol's filters and its validation and test splits.

A basket is the set of distinct products one household bought in one trip.
Models in this package work on numpy/scipy arrays, so the warehouse is read once
(an Ibis expression, then Arrow) and everything after that is engine-free, which
is what makes the evaluation give the same figures on DuckDB and Spark.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from shopkeeper.errors import InvalidInput
from shopkeeper.warehouse import Warehouse

__all__ = [
    "MAX_BASKETS",
    "MIN_BASKETS",
    "MIN_ITEM_BASKETS",
    "Baskets",
    "Phase",
    "basket_lines",
    "baskets_from_arrow",
    "load_baskets",
]

MIN_BASKETS = 3
"""Fewest baskets a household needs: one for history, validation and test each."""
MAX_BASKETS = 50
"""Most baskets a household may have (the reality-check paper's cap)."""
MIN_ITEM_BASKETS = 10
"""Fewest baskets (outside test baskets) a product must appear in to be kept."""

_DAY = 86_400.0


def basket_lines(wh: Warehouse, as_of: dt.date | None = None) -> ir.Table:
    """Distinct (household, order, product) rows with the order's time, week, store.

    The household is the identity_map customer when the identity stage has run,
    else the order's own identifier, so the protocol also runs on a bare CSV
    import of another retailer's orders.
    """
    orders = wh.table("orders")
    if as_of is not None:
        orders = orders.filter(
            orders.ordered_at < ibis.literal(as_of).cast("timestamp")
        )
    lines = wh.table("order_lines")
    if wh.exists("identity_map"):
        people = wh.table("identity_map")
        orders = orders.join(people, orders.identifier == people.identifier).select(
            customer_id=people.customer_id,
            order_id=orders.order_id,
            ordered_at=orders.ordered_at,
            week=orders.week,
            store_id=orders.store_id,
        )
    else:
        orders = orders.select(
            customer_id=orders.identifier,
            order_id=orders.order_id,
            ordered_at=orders.ordered_at,
            week=orders.week,
            store_id=orders.store_id,
        )
    joined = orders.join(lines, "order_id")
    # order_lines is keyed by (order_id, product_id): rows are already distinct.
    return joined.select(
        "customer_id", "order_id", "ordered_at", "week", "store_id", "product_id"
    )


@dataclass(frozen=True)
class Baskets:
    """Every kept basket, grouped by household and in time order.

    ``indptr``/``indices`` hold each basket's item indexes (CSR rows);
    ``first[u]:first[u+1]`` are household ``u``'s baskets, oldest first.
    """

    customers: np.ndarray
    items: np.ndarray
    user: np.ndarray
    day: np.ndarray
    week: np.ndarray
    store: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    first: np.ndarray
    filters: dict[str, int] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.customers)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_baskets(self) -> int:
        return len(self.user)

    def matrix(self, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """Baskets x items 0/1 matrix, of all baskets or of ``rows`` only."""
        data = np.ones(len(self.indices), dtype=np.float32)
        full = sp.csr_matrix(
            (data, self.indices, self.indptr), shape=(self.n_baskets, self.n_items)
        )
        return full if rows is None else full[rows]

    def basket(self, b: int) -> np.ndarray:
        return self.indices[self.indptr[b] : self.indptr[b + 1]]

    def phase(self, name: str) -> Phase:
        """The validation or test split of every household.

        ``valid``: history is all but the last two baskets, the target the one
        before last. ``test``: history is all but the last, the target the last.
        ``earlier``: the target is the basket before validation (extra
        training targets for the ranker, still never the test basket).
        """
        offsets = {"test": 0, "valid": 1, "earlier": 2}
        if name not in offsets:
            raise InvalidInput(
                f"unknown phase {name!r}; phases are {', '.join(offsets)}"
            )
        return self.shifted(offsets[name])

    def shifted(self, back: int) -> Phase:
        """Target = the basket ``back`` places before the last (0 = the last).

        A household with too few baskets keeps its first basket as target and
        an empty history, so every phase has every household.
        """
        start = self.first[:-1]
        target = np.maximum(self.first[1:] - 1 - back, start)
        return Phase(self, start, target, target)


@dataclass(frozen=True)
class Phase:
    """One split: per household, history baskets ``start:stop`` and a target."""

    baskets: Baskets
    start: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    when: np.ndarray | None = None
    week: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.start)

    def history_rows(self) -> np.ndarray:
        """Indexes of every history basket, household by household."""
        lengths = self.stop - self.start
        offsets = np.repeat(self.start - np.cumsum(lengths) + lengths, lengths)
        return np.arange(lengths.sum()) + offsets

    def history_users(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_users), self.stop - self.start)

    def counts(self) -> sp.csr_matrix:
        """Households x items: how many history baskets held each item."""
        rows = self.history_rows()
        users = self.history_users()
        assign = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (users, np.arange(len(rows)))),
            shape=(self.n_users, len(rows)),
        )
        return (assign @ self.baskets.matrix(rows)).tocsr()

    def truth(self) -> list[np.ndarray]:
        return [self.baskets.basket(b) for b in self.target]

    def target_day(self) -> np.ndarray:
        """The day of the trip predicted: the target's, or ``when`` if serving."""
        return self.when if self.when is not None else self.baskets.day[self.target]

    def target_week(self) -> np.ndarray:
        return self.week if self.week is not None else self.baskets.week[self.target]


def load_baskets(
    wh: Warehouse,
    *,
    as_of: dt.date | None = None,
    min_item_baskets: int = MIN_ITEM_BASKETS,
    min_baskets: int = MIN_BASKETS,
    max_baskets: int = MAX_BASKETS,
) -> Baskets:
    """Read every basket (before ``as_of``) and apply the protocol's filters."""
    data = wh.to_arrow(basket_lines(wh, as_of))
    return baskets_from_arrow(
        data,
        min_item_baskets=min_item_baskets,
        min_baskets=min_baskets,
        max_baskets=max_baskets,
    )


def baskets_from_arrow(
    data: pa.Table,
    *,
    min_item_baskets: int = MIN_ITEM_BASKETS,
    min_baskets: int = MIN_BASKETS,
    max_baskets: int = MAX_BASKETS,
) -> Baskets:
    """The filters, in order: items, then households.

    1. Drop products in fewer than ``min_item_baskets`` baskets, counted over
       every household's baskets except its last (so the test basket never
       decides which products exist); drop baskets left empty.
    2. Keep households with ``min_baskets`` to ``max_baskets`` baskets.

    Households sort by id, baskets by time then order id, items by product id:
    nothing depends on the engine's row order.
    """
    frame = data.select(
        ["customer_id", "order_id", "ordered_at", "week", "store_id", "product_id"]
    ).to_pandas()
    if frame.empty:
        raise InvalidInput("there are no orders to evaluate", hint="import orders")
    frame["day"] = frame.ordered_at.astype("datetime64[us]").astype("int64") / (
        _DAY * 1e6
    )
    frame = frame.sort_values(["customer_id", "day", "order_id", "product_id"])
    order_key = frame.customer_id + "\x00" + frame.order_id
    basket_id = (order_key != order_key.shift()).cumsum().to_numpy() - 1
    frame["basket"] = basket_id
    last_basket = frame.groupby("customer_id").basket.transform("max")
    counted = frame[frame.basket != last_basket]
    support = counted.groupby("product_id").basket.nunique()
    keep = set(support.index[support >= min_item_baskets])
    frame = frame[frame.product_id.isin(keep)]
    per_user = frame.groupby("customer_id").basket.nunique()
    users = per_user.index[(per_user >= min_baskets) & (per_user <= max_baskets)]
    frame = frame[frame.customer_id.isin(set(users))]
    if frame.empty:
        raise InvalidInput(
            f"no household has {min_baskets} to {max_baskets} baskets of products "
            f"bought in at least {min_item_baskets} baskets",
            hint="evaluation needs more orders per customer",
        )
    customers = np.array(sorted(frame.customer_id.unique()), dtype=object)
    items = np.array(sorted(frame.product_id.unique()), dtype=object)
    item_index = {p: i for i, p in enumerate(items)}
    user_index = {c: i for i, c in enumerate(customers)}
    _, b_first = np.unique(frame.basket.to_numpy(), return_index=True)
    heads = frame.iloc[b_first]
    indptr = np.append(b_first, len(frame)).astype(np.int64)
    user = heads.customer_id.map(user_index).to_numpy(np.int32)
    first = np.searchsorted(user, np.arange(len(customers) + 1)).astype(np.int64)
    return Baskets(
        customers=customers,
        items=items,
        user=user,
        day=heads.day.to_numpy(np.float64),
        week=heads.week.fillna(-1).to_numpy(np.int32),
        store=heads.store_id.fillna("").to_numpy(object),
        indptr=indptr,
        indices=frame.product_id.map(item_index).to_numpy(np.int32),
        first=first,
        filters={
            "min_item_baskets": min_item_baskets,
            "min_baskets": min_baskets,
            "max_baskets": max_baskets,
        },
    )
