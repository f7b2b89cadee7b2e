"""Profile features on real data, each checked against a pandas computation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from shopkeeper.profiles import default_as_of, purchase_lines
from shopkeeper.profiles.features import feature_lines, features
from shopkeeper.warehouse import Warehouse

SHARES = (
    "promo_share",
    "coupon_share",
    "private_label_share",
    "preferred_store_share",
    "preferred_channel_share",
    "favourite_day_share",
    "favourite_part_of_day_share",
    "top_department_share",
)


@pytest.fixture
def lines(built: Warehouse) -> pd.DataFrame:
    """Every purchase line before as-of, with order, customer and product."""
    as_of = pd.Timestamp(default_as_of(built))
    orders = built.execute(built.table("orders"))
    orders = orders[orders.ordered_at < as_of]
    order_lines = built.execute(built.table("order_lines"))
    people = built.execute(built.table("identity_map"))[["identifier", "customer_id"]]
    products = built.execute(built.table("products"))[
        ["product_id", "brand_type", "department"]
    ]
    joined = (
        order_lines.merge(orders, on="order_id")
        .merge(people, on="identifier")
        .merge(products, on="product_id", how="left")
    )
    joined["department"] = joined.department.fillna("UNKNOWN")
    return joined


@pytest.fixture
def got(built: Warehouse) -> pd.DataFrame:
    return built.execute(built.table("profiles_features")).set_index("customer_id")


def _trips(lines: pd.DataFrame) -> pd.DataFrame:
    return lines.groupby(["customer_id", "order_id"], dropna=False).agg(
        value=("sales_value", "sum"),
        units=("quantity", "sum"),
        at=("ordered_at", "min"),
        store=("store_id", "first"),
        channel=("channel", "first"),
        coupon=("coupon_discount", lambda c: bool((c > 0).any())),
    )


def _close(got: pd.Series, expected: pd.Series, tol: float) -> None:
    got, expected = got.align(expected, join="right")
    assert got.notna().sum() == expected.notna().sum()
    assert ((got - expected).abs().dropna() <= tol).all()


def _favourite(trips: pd.DataFrame, column: str) -> pd.DataFrame:
    counts = trips.groupby(["customer_id", column]).size().rename("n").reset_index()
    counts = counts.sort_values(
        ["customer_id", "n", column], ascending=[True, False, True]
    )
    top = counts.groupby("customer_id").first()
    top["share"] = top.n / trips.groupby("customer_id").size()
    return top


def test_one_row_per_customer_with_shares_in_range(
    got: pd.DataFrame, lines: pd.DataFrame, built: Warehouse
) -> None:
    assert got.index.is_unique
    assert set(got.index) == set(lines.customer_id)
    assert (got.as_of == pd.Timestamp(default_as_of(built))).all()
    for share in SHARES:
        assert got[share].dropna().between(0, 1).all(), share
    assert (got.top_department_index > 0).all()


def test_basket_habits(got: pd.DataFrame, lines: pd.DataFrame) -> None:
    trips = _trips(lines)
    per = trips.groupby("customer_id")
    assert (got.trips == per.size().reindex(got.index)).all()
    _close(got.avg_basket_value, per.value.mean(), 0.0051)
    _close(got.avg_basket_units, per.units.mean(), 0.0051)
    days = trips["at"].dt.normalize()
    by = days.groupby("customer_id")
    span = (by.max() - by.min()).dt.days
    n = per.size()
    cadence = (span / (n - 1)).where(n > 1)
    _close(got.trip_cadence_days, cadence, 0.0051)
    # a hand check: one real household's mean gap, from its sorted trip days
    busiest = n.idxmax()
    mine = days.loc[busiest].sort_values()
    gaps = mine.diff().dt.days.dropna()
    assert got.trip_cadence_days[busiest] == pytest.approx(gaps.mean(), abs=0.006)


def test_price_sensitivity_and_private_label(
    got: pd.DataFrame, lines: pd.DataFrame
) -> None:
    promo = (lines.retail_discount > 0) | (lines.coupon_discount > 0)
    spend = lines.groupby("customer_id").sales_value.sum()
    promo_spend = lines.sales_value.where(promo, 0.0).groupby(lines.customer_id).sum()
    _close(got.promo_share, (promo_spend / spend).where(spend > 0), 1e-5)
    private = lines.brand_type.str.lower().eq("private")
    private_spend = (
        lines.sales_value.where(private, 0.0).groupby(lines.customer_id).sum()
    )
    _close(got.private_label_share, (private_spend / spend).where(spend > 0), 1e-5)
    trips = _trips(lines)
    coupon = trips.groupby("customer_id").coupon.mean()
    _close(got.coupon_share, coupon, 1e-5)
    assert got.promo_share.gt(0).any() and got.private_label_share.gt(0).any()


def test_preferred_store_and_channel(got: pd.DataFrame, lines: pd.DataFrame) -> None:
    trips = _trips(lines).reset_index()
    for column, name in (
        ("store", "preferred_store"),
        ("channel", "preferred_channel"),
    ):
        top = _favourite(trips, column)
        assert (got[name].reindex(top.index) == top[column]).all(), name
        _close(got[f"{name}_share"], top.share, 1e-5)


def test_day_and_time_habits(got: pd.DataFrame, lines: pd.DataFrame) -> None:
    trips = _trips(lines).reset_index()
    trips["day"] = trips["at"].dt.dayofweek
    hour = trips["at"].dt.hour
    trips["part"] = pd.cut(
        hour,
        bins=[0, 5, 12, 17, 21, 24],
        right=False,
        labels=["night", "morning", "afternoon", "evening", "late"],
    ).astype(str)
    trips["part"] = trips.part.replace("late", "night")
    for column, name in (("day", "favourite_day"), ("part", "favourite_part_of_day")):
        top = _favourite(trips, column)
        assert (got[name].reindex(top.index) == top[column]).all(), name
        _close(got[f"{name}_share"], top.share, 1e-5)
    assert got.favourite_day.between(0, 6).all()


def test_top_department_index(got: pd.DataFrame, lines: pd.DataFrame) -> None:
    spend = lines.groupby(["customer_id", "department"]).sales_value.sum().round(2)
    population = spend.groupby("department").sum() / spend.sum()
    frame = spend.rename("spend").reset_index()
    frame = frame.sort_values(
        ["customer_id", "spend", "department"], ascending=[True, False, True]
    )
    top = frame.groupby("customer_id").first()
    share = top.spend / spend.groupby("customer_id").sum()
    index = share / top.department.map(population)
    assert (got.top_department.reindex(top.index) == top.department).all()
    _close(got.top_department_share, share, 1e-5)
    _close(got.top_department_index, index, 1e-3)
    # the top department is where the customer spends most, so at least one
    # customer over-indexes on it
    assert (got.top_department_index > 1).any()


def test_an_earlier_as_of_sees_only_the_past(
    built: Warehouse, lines: pd.DataFrame
) -> None:
    as_of = default_as_of(built) - dt.timedelta(days=180)
    enriched = feature_lines(
        purchase_lines(built, as_of),
        built.table("orders"),
        built.table("order_lines"),
        built.table("products"),
    )
    early = built.execute(features(enriched, as_of)).set_index("customer_id")
    past = lines[lines.ordered_at < pd.Timestamp(as_of)]
    trips = past.groupby("customer_id").order_id.nunique()
    assert (early.trips == trips.reindex(early.index)).all()
    assert set(early.index) == set(trips.index)
    assert (early.as_of == pd.Timestamp(as_of)).all()
    assert early.trips.sum() < lines.order_id.nunique()  # the cut did cut
