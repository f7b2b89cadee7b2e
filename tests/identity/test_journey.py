"""One real Complete Journey household, online and in store, is one customer.

The Complete Journey has no web or app events, so the online half of the
journey (anonymous app browsing, a login with an e-mail, a loyalty card) is
generated; the store baskets and the household are the real data.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shopkeeper.identity import build_identity, hash_email
from shopkeeper.profiles.customer360 import customer_view, timeline
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import busiest_households, duckdb_url
from .events import add_customers, add_events, event

EMAIL = "  Jane.Doe@Mail.COM "


@pytest.fixture
def cj(built_path: Path, tmp_path: Path) -> Iterator[Warehouse]:
    """A writable copy of the shared real-data build."""
    path = tmp_path / "cj.duckdb"
    shutil.copy(built_path, path)
    wh = connect(duckdb_url(path))
    yield wh
    wh.close()


def _map(wh: Warehouse) -> pd.DataFrame:
    frame = wh.execute(wh.table("identity_map"))
    return frame.set_index("identifier").sort_index()


def test_online_and_store_journey_is_one_customer(cj: Warehouse) -> None:
    (household,) = busiest_households(cj)
    before = _map(cj).loc[household]
    card = "4401990012"
    add_events(
        cj,
        [
            event("screen", "2017-11-02T08:00:00", anon="app-7f3", name="Home"),
            event(
                "track", "2017-11-02T08:01:00", anon="app-7f3", name="Product Viewed"
            ),
            event(
                "identify",
                "2017-11-02T08:05:00",
                user="jd-1001",
                anon="app-7f3",
                traits={"email": EMAIL, "firstName": "Jane"},
            ),
            event(
                "track",
                "2017-11-03T18:30:00",
                user="jd-1001",
                name="Loyalty Card Added",
                context={"traits": {"loyaltyId": card}},
            ),
        ],
    )
    # The store's loyalty system knows the card belongs to the household.
    add_customers(
        cj,
        [
            {
                "customer_ref": f"loyalty:{card}",
                "household_ref": household,
                "loyalty_card": card,
                "source": "loyalty.csv",
            }
        ],
    )
    build_identity(cj, Settings())
    ids = _map(cj)
    journey = [
        "anon:app-7f3",
        "user:jd-1001",
        f"email:{hash_email(EMAIL)}",
        f"loyalty:{card}",
        household,
    ]
    assert ids.loc[journey].customer_id.nunique() == 1
    assert set(ids.loc[journey].household_id) == {household}
    # The household's customer existed before and keeps its id.
    assert ids.loc[household].customer_id == before.customer_id
    orders = cj.execute(cj.table("orders"))
    mine = orders[orders.identifier == household]
    assert len(mine) > 10
    assert set(ids.loc[mine.identifier].customer_id) == {before.customer_id}
    # The 360 timeline, asked by the anonymous app id, shows the whole journey:
    # the app events and every real store order, under one customer.
    history = timeline(cj, "anon:app-7f3", limit=500)
    kinds = [item["kind"] for item in history["items"]]
    while history["next_cursor"]:
        history = timeline(cj, "anon:app-7f3", limit=500, cursor=history["next_cursor"])
        kinds += [item["kind"] for item in history["items"]]
    assert {"event:screen", "event:track", "event:identify"} <= set(kinds)
    assert kinds.count("order") == len(mine)
    assert history["customer_id"] == before.customer_id
    assert customer_view(cj, EMAIL.strip())["customer_id"] == before.customer_id
    links = cj.execute(cj.table("identity_links"))
    assert {"identify", "email", "loyalty", "household"} <= set(links.rule)
    assert cj.count("identity_refused_links") == 0
    # Every other real household is still a customer of its own.
    houses = ids[ids.index.str.startswith("household:")]
    assert houses.customer_id.is_unique
    assert (houses.household_id == houses.index).all()
    # The raw e-mail is never stored.
    for table in ("identifiers", "identity_links", "identity_map"):
        text = cj.execute(cj.table(table)).to_csv()
        assert "jane" not in text.lower()


def test_rebuild_without_new_data_renames_nothing(cj: Warehouse) -> None:
    first = _map(cj)
    build_identity(cj, Settings())
    build_identity(cj, Settings())
    pd.testing.assert_frame_equal(_map(cj), first)
    assert cj.count("identity_merges") == 0


def test_merge_keeps_the_oldest_customer_and_records_it(cj: Warehouse) -> None:
    ids = cj.execute(cj.table("identifiers"))
    houses = ids[ids.identifier_type == "household"].dropna(subset=["first_seen_at"])
    houses = houses.sort_values(["first_seen_at", "identifier"])
    old, young = houses.identifier.iloc[0], houses.identifier.iloc[-1]
    before = _map(cj)
    # A shopper links both households' loyalty accounts to one online login.
    refs = {h: f"loyalty:card-{h.split(':')[1]}" for h in (old, young)}
    add_customers(
        cj,
        [
            {"customer_ref": ref, "household_ref": h, "source": "loyalty.csv"}
            for h, ref in refs.items()
        ],
    )
    context = {"externalIds": [{"id": r.split(":")[1], "type": "loyalty_card"}
                               for r in refs.values()]}  # fmt: skip
    add_events(
        cj, [event("track", "2018-01-05T10:00:00", user="both", context=context)]
    )
    build_identity(cj, Settings())
    after = _map(cj)
    survivor = before.loc[old].customer_id
    gone = before.loc[young].customer_id
    assert after.loc[[old, young, "user:both"]].customer_id.tolist() == [survivor] * 3
    assert after.loc[old].household_id is None  # two households: none is the one
    merges = cj.execute(cj.table("identity_merges"))
    assert merges[["old_customer_id", "new_customer_id"]].values.tolist() == [
        [gone, survivor]
    ]
    # Everyone else keeps their id; a second rebuild changes nothing.
    others = before.index.difference([old, young])
    assert (after.loc[others].customer_id == before.loc[others].customer_id).all()
    build_identity(cj, Settings())
    pd.testing.assert_frame_equal(_map(cj), after)
    assert cj.count("identity_merges") == 1
