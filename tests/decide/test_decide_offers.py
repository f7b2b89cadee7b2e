"""Offers and cart complements in POST /v1/decide, over real HTTP, on a real
Complete Journey slice: eligibility by the campaign's dates and the store,
holdouts that hold both at export and at decision time, consent for offers.

The campaigns, their members, coupons, dates and complements are real; the
holdouts are drawn by the real hash rule (The Complete Journey has none), and
the one store restriction is generated: the data restricts no campaign to
stores (commented where it is written).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ibis
import pyarrow as pa
import pytest

from shopkeeper.decide.offer_rows import export_holdouts
from shopkeeper.decide.online_rows import export_online
from shopkeeper.decide.online_store import open_store
from shopkeeper.measure.holdouts import assign_holdouts, in_holdout
from shopkeeper.model.marketing import CAMPAIGN_STORES
from shopkeeper.server.realtime import online_store_url
from shopkeeper.warehouse import Warehouse, connect
from tests.collect.server import ADMIN_TOKEN, Server, collect_settings, running_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SHARE = 0.5


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    day: dt.date
    held: list[str]
    """Identifiers of members in the holdout (by the hash rule)."""
    treated: list[str]


@dataclass(frozen=True)
class Setup:
    server: Server
    early: Campaign
    """Holdout assigned before the export: the documents leave it out."""
    late: Campaign
    """Holdout assigned after the export: only the decision-time check holds."""
    store_id: str
    docs: dict[str, dict[str, Any]]
    """Customer documents as exported, by identifier."""


def _campaign(wh: Warehouse, campaign_id: str) -> Campaign:
    c = wh.table("campaigns")
    (start,) = wh.execute(c.filter(c.campaign_id == campaign_id).start_date).tolist()
    m = wh.table("campaign_members")
    people = wh.table("identity_map")
    rows = wh.execute(
        m.filter(m.campaign_id == campaign_id)
        .join(people, "identifier")
        .select("identifier", "customer_id")
    )
    held, treated = [], []
    for identifier, customer in zip(rows.identifier, rows.customer_id, strict=True):
        side = held if in_holdout(customer, campaign_id, SHARE) else treated
        side.append(identifier)
    return Campaign(campaign_id, start + dt.timedelta(days=7), held, treated)


@pytest.fixture(scope="module")
def setup(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("offers")
    shutil.copy(built_path, root / "wh.duckdb")
    settings = collect_settings(root, decide_daily_caps={})
    store = open_store(online_store_url(settings))
    with connect(settings=settings) as wh:
        m = wh.table("campaign_members")
        biggest = m.group_by("campaign_id").agg(n=m.count())
        biggest = biggest.order_by([ibis.desc("n"), "campaign_id"]).limit(2)
        first, second = wh.execute(biggest).campaign_id.tolist()
        assign_holdouts(wh, first, SHARE)
        orders = wh.table("orders")
        store_id = str(
            wh.execute(
                orders.group_by("store_id")
                .agg(n=orders.count())
                .order_by([ibis.desc("n"), "store_id"])
                .limit(1)
            ).store_id[0]
        )
        # Generated: the data restricts no campaign to stores; restrict the
        # first one to the busiest store to test the store rule.
        wh.write(
            CAMPAIGN_STORES,
            wh.stage_arrow(
                "_tmp_test_stores",
                pa.table({"campaign_id": [first], "store_id": [store_id]}),
            ),
        )
        export_online(wh, store, offers=100)
        assign_holdouts(wh, second, SHARE)
        assert export_holdouts(wh, store) == 2
        early, late = _campaign(wh, first), _campaign(wh, second)
        idents = [*early.held, *early.treated, *late.held, *late.treated]
        aliases = store.read_many("alias", idents)
        docs = store.read_many("customer", [a["customer_id"] for a in aliases if a])
    store.close()
    by_ident = {i: d for i, d in zip(idents, docs, strict=True) if d is not None}
    with running_server(settings, root) as server:
        yield Setup(server, early, late, store_id, by_ident)


def _decide(server: Server, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/v1/decide", json=body, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _offers(server: Server, who: str, day: dt.date, **context: Any) -> dict[str, Any]:
    return _decide(
        server,
        identifier=who,
        channel="web",
        placement="coupons",
        kind="offers",
        limit=50,
        context={"date": day.isoformat(), **context},
    )


def _campaigns(decision: dict[str, Any]) -> set[str]:
    return {i["campaign_id"] for i in decision["items"]}


def test_a_member_gets_the_campaigns_coupons_with_reasons(setup: Setup) -> None:
    c = setup.early
    answers = [_offers(setup.server, who, c.day) for who in c.treated]
    got = [a for a in answers if c.campaign_id in _campaigns(a)]
    assert got, "no treatment member was offered the campaign's coupons"
    decision = got[0]
    assert decision["kind"] == "offers" and decision["decision_id"].startswith("dec_")
    assert decision["policy"] == "thompson-rerank"
    for item in decision["items"]:
        assert item["item_type"] == "offer"
        assert item["item_id"] == f"{item['campaign_id']}:{item['coupon_upc']}"
        assert item["valid_from"] <= c.day.isoformat() <= item["valid_until"]
        assert 0 < item["propensity"] <= 1 and item["product_ids"]
        assert item["reason"].startswith(
            f"a coupon from campaign {item['campaign_id']} you are in; valid until "
        )
    # Outside every campaign's dates there is nothing to offer.
    empty = _offers(setup.server, c.treated[0], dt.date(2016, 1, 1))
    assert empty["items"] == [] and empty["refused"] == "no eligible offers"
    schema = httpx.get(f"{setup.server.url}/openapi.json").json()
    body = schema["components"]["schemas"]["DecideBody"]["properties"]
    assert body["kind"]["default"] == "items"
    assert set(body["kind"]["enum"]) == {"items", "offers", "new"}


def test_holdout_members_never_get_the_campaigns_offers(setup: Setup) -> None:
    c = setup.early
    assert c.held and c.treated
    # limit=50 shows every eligible offer, so one decision per member is the
    # whole answer, whatever order the policy draws.
    for who in c.held:
        doc = setup.docs[who]
        assert c.campaign_id not in {o["campaign_id"] for o in doc["offers"]}
        assert c.campaign_id not in _campaigns(_offers(setup.server, who, c.day))


def test_a_holdout_assigned_after_the_export_holds_at_decision_time(
    setup: Setup,
) -> None:
    c = setup.late
    # The documents were exported before this holdout: they still hold the
    # campaign's coupons for its holdout members ...
    stale = [
        who
        for who in c.held
        if c.campaign_id in {o["campaign_id"] for o in setup.docs[who]["offers"]}
    ]
    assert stale, "no held-out member has the campaign in the exported document"
    # ... and the decision leaves them out, while treated members get them.
    for who in stale:
        assert c.campaign_id not in _campaigns(_offers(setup.server, who, c.day))
    assert any(
        c.campaign_id in _campaigns(_offers(setup.server, who, c.day))
        for who in c.treated
    )


def test_an_offer_is_valid_only_in_its_stores(setup: Setup) -> None:
    c = setup.early
    who = next(
        w
        for w in c.treated
        if c.campaign_id in {o["campaign_id"] for o in setup.docs[w]["offers"]}
    )
    here = _offers(setup.server, who, c.day, store_id=setup.store_id)
    assert c.campaign_id in _campaigns(here)
    elsewhere = _offers(setup.server, who, c.day, store_id="no-such-store")
    assert c.campaign_id not in _campaigns(elsewhere)


def test_offers_keep_consent_and_need_a_known_customer(setup: Setup) -> None:
    c = setup.early
    mail = _decide(
        setup.server,
        identifier=c.treated[0],
        channel="email",
        placement="weekly-coupons",
        kind="offers",
        context={"date": c.day.isoformat()},
    )
    assert mail["items"] == [] and mail["refused"] == "no email consent granted"
    anon = _decide(
        setup.server,
        anonymous_id="never-seen",
        channel="web",
        placement="coupons",
        kind="offers",
    )
    assert anon["items"] == []
    assert anon["refused"] == "offers need a known customer who allows personalization"


def test_cart_complements_are_candidates(setup: Setup, built_path: Path) -> None:
    with connect(f"duckdb:///{built_path}", read_only=True) as wh:
        c = wh.table("complements")
        product = str(
            wh.execute(
                c.order_by([ibis.desc("lift"), "product_id"]).limit(1)
            ).product_id[0]
        )
        expected = set(
            wh.execute(
                c.filter((c.product_id == product) & (c["rank"] <= 5)).complement_id
            )
        )
    # A tenth of decisions explore: they show a uniformly random 50 of the
    # candidates (complements, then popular items), which can leave a
    # complement out. Over five decisions every complement shows unless all
    # five explore (a chance of 1e-5).
    decisions = [
        _decide(
            setup.server,
            anonymous_id="cart-visitor",
            channel="web",
            placement="basket",
            limit=50,
            context={"cart": [product]},
        )
        for _ in range(5)
    ]
    items = [i for d in decisions for i in d["items"]]
    shown = {
        i["item_id"] for i in items if i["reason"] == f"often bought with {product}"
    }
    assert shown == expected - {product}
    assert product not in {i["item_id"] for i in items}
