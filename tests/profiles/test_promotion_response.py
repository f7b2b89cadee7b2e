"""Display and mailer response on real households, checked by hand in pandas."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from shopkeeper.profiles import default_as_of
from shopkeeper.warehouse import Warehouse

from ..conftest import busiest_households

KEYS = ["product_id", "store_id", "week"]


@pytest.fixture
def flagged(built: Warehouse) -> pd.DataFrame:
    """Every purchase line before as-of, flagged from the raw promotions rows.

    The engine only narrows the 6 million promotion rows of the slice to the
    (product, store, week) triples someone bought; the flags, the shares and
    the population share are computed here.
    """
    as_of = pd.Timestamp(default_as_of(built))
    orders = built.execute(built.table("orders"))
    orders = orders[orders.ordered_at < as_of]
    people = built.execute(built.table("identity_map"))[["identifier", "customer_id"]]
    lines = (
        built.execute(built.table("order_lines"))
        .merge(orders, on="order_id")
        .merge(people, on="identifier")
    )
    bought = ibis.memtable(lines[KEYS].drop_duplicates())
    promotions = built.table("promotions")
    raw = built.execute(promotions.semi_join(bought, KEYS))
    raw["display"] = raw.display_location.ne("0") & raw.display_location.notna()
    raw["mailer"] = raw.mailer_location.ne("0") & raw.mailer_location.notna()
    flags = raw.groupby(KEYS)[["display", "mailer"]].any().reset_index()
    out = lines.merge(flags, on=KEYS, how="left")
    for flag in ("display", "mailer"):
        out[flag] = out[flag].eq(True)  # no promotion row: not featured
    return out


def _spend(lines: pd.DataFrame, flag: pd.Series) -> pd.Series:
    return lines.sales_value.where(flag, 0.0).groupby(lines.customer_id).sum().round(2)


def test_display_and_mailer_response_of_one_household(
    built: Warehouse, flagged: pd.DataFrame
) -> None:
    household = busiest_households(built)[0]
    customer = flagged.loc[flagged.identifier == household, "customer_id"].iloc[0]
    spend = flagged.groupby("customer_id").sales_value.sum().round(2)
    got = built.execute(built.table("profiles_promotions")).set_index("customer_id")
    assert set(got.index) == set(spend.index)
    for name, flag in (
        ("display", flagged.display),
        ("mailer", flagged.mailer),
        ("featured", flagged.display | flagged.mailer),
    ):
        part = _spend(flagged, flag)
        share = part[customer] / spend[customer]
        population = part.sum() / spend.sum()
        assert got.loc[customer, f"{name}_share"] == pytest.approx(share, abs=1e-5)
        assert got.loc[customer, f"{name}_index"] == pytest.approx(
            share / population, rel=1e-3
        )
        # and every customer's share by the same rule
        expected = (part / spend).reindex(got.index)
        assert (got[f"{name}_share"] - expected).abs().max() < 1e-5, name
    # real households differ in how much they buy featured items
    assert got.featured_index.min() < 0.8 < 1.2 < got.featured_index.max()
