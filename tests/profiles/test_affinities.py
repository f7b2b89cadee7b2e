"""Category and brand affinity on real households, checked by hand in pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from shopkeeper.profiles import default_as_of
from shopkeeper.profiles.affinities import MIN_SPEND, TOP_PER_KIND
from shopkeeper.warehouse import Warehouse

from ..conftest import busiest_households


@pytest.fixture
def lines(built: Warehouse) -> pd.DataFrame:
    """Every purchase line before as-of with its customer and catalog keys."""
    as_of = pd.Timestamp(default_as_of(built))
    orders = built.execute(built.table("orders"))
    orders = orders[orders.ordered_at < as_of]
    people = built.execute(built.table("identity_map"))[["identifier", "customer_id"]]
    products = built.execute(built.table("products"))[
        ["product_id", "department", "category", "manufacturer_id"]
    ]
    return (
        built.execute(built.table("order_lines"))
        .merge(orders, on="order_id")
        .merge(people, on="identifier")
        .merge(products, on="product_id", how="left")
        .rename(columns={"manufacturer_id": "brand"})
    )


def _customer(built: Warehouse) -> str:
    household = busiest_households(built)[0]
    people = built.execute(built.table("identity_map"))
    return str(people.set_index("identifier").customer_id[household])


def _by_hand(lines: pd.DataFrame, customer: str, kind: str) -> pd.DataFrame:
    """Top keys by spend for one customer with share and index, from raw lines."""
    totals = lines.groupby("customer_id").sales_value.sum().round(2)
    keyed = lines[lines[kind].notna() & (lines[kind] != "")]
    pair = keyed.groupby(["customer_id", kind]).sales_value.sum().round(2)
    population = pair.groupby(kind).sum() / totals.sum()
    mine = pair.loc[customer].rename("spend").reset_index()
    mine = mine.sort_values(["spend", kind], ascending=[False, True]).head(TOP_PER_KIND)
    mine = mine[mine.spend >= MIN_SPEND].set_index(kind)
    mine["share"] = mine.spend / totals[customer]
    mine["index"] = mine.share / population.reindex(mine.index)
    return mine


@pytest.mark.parametrize("kind", ["category", "brand", "department"])
def test_index_of_one_household_matches_a_hand_computation(
    built: Warehouse, lines: pd.DataFrame, kind: str
) -> None:
    customer = _customer(built)
    expected = _by_hand(lines, customer, kind)
    got = built.execute(built.table("profiles_affinities"))
    got = got[(got.customer_id == customer) & (got.kind == kind)].set_index("key")
    assert list(got.sort_values("rank").index) == list(expected.index)
    assert (got.spend - expected.spend).abs().max() < 0.006
    assert (got.share - expected.share).abs().max() < 1e-5
    assert ((got["index"] - expected["index"]).abs() / expected["index"]).max() < 1e-3
    # the busiest household spreads its spend: it over- and under-indexes
    assert (got["index"] > 1).any() and (got["index"] < 1).any()


def test_rows_kept_are_the_top_keys_with_real_spend(built: Warehouse) -> None:
    got = built.execute(built.table("profiles_affinities"))
    assert set(got.kind) == {"department", "category", "brand"}
    assert not got.duplicated(["customer_id", "kind", "key"]).any()
    assert got["rank"].between(1, TOP_PER_KIND).all()
    assert (got.spend >= MIN_SPEND).all()
    assert got.share.between(0, 1).all()
    # one population share per kind and key, whoever the customer
    assert got.groupby(["kind", "key"]).population_share.nunique().max() == 1
    # a customer's kept shares of one kind never add up to more than the wallet
    assert got.groupby(["customer_id", "kind"]).share.sum().max() <= 1.0001
