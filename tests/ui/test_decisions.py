"""The Decisions page: empty until something is decided, then placements,
daily exposure and outcome rates, off-policy estimates, caps, consent and the
logged refusals.

Decisions are made over real HTTP (``POST /v1/decide``) on the dashboard's
server for real households of the slice, and the loader moves the exposure
log into the warehouse, as ``shopkeeper serve`` does. The clicks answering
them are generated (The Complete Journey has no decisions to answer).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shopkeeper.collect.sources import SourceRegistry
from shopkeeper.decide.exposure_log import evaluate_decisions
from shopkeeper.decide.online_rows import export_online
from shopkeeper.decide.online_store import open_store
from shopkeeper.server.app import state_paths
from shopkeeper.server.realtime import online_store_url
from shopkeeper.server.serve import load_once
from shopkeeper.settings import Settings
from shopkeeper.warehouse import connect
from tests.collect.server import ADMIN_TOKEN, Server, basic
from tests.conftest import busiest_households
from tests.ui.conftest import Browser, Http, login

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PLACEMENTS = {"home": "web", "basket": "app"}
DECISIONS = 12
SHOWN = 3
REFUSED = 2  # e-mail decisions for households that never granted e-mail consent


@dataclass
class Decided:
    """What the fixture did: the page before, the decisions and the clicks."""

    empty_twin: dict[str, Any]
    empty_page: str
    decisions: list[dict[str, Any]]
    clicked: set[tuple[str, str]]
    refused: list[dict[str, Any]]


def _count(settings: Settings, table: str = "exposures") -> int:
    with connect(settings.warehouse, read_only=True) as wh:
        return wh.count(table) if wh.exists(table) else 0


@pytest.fixture(scope="module")
def decided(ui_server: Server, ui_settings: Settings) -> Iterator[Decided]:
    assert _count(ui_settings) == 0, "the slice's copy starts with no decisions"
    client = Http(ui_server.url)
    login(client)
    empty_twin = client.get("/ui/decisions.json").json()
    empty_page = html.unescape(client.get("/ui/decisions").text)
    store = open_store(online_store_url(ui_settings))
    with connect(ui_settings.warehouse, read_only=True) as wh:
        export_online(wh, store)
        people = busiest_households(wh, 4)
    store.close()
    source = SourceRegistry(state_paths(ui_settings)["sources"]).add(
        "ui-decisions-shop", "web"
    )
    assert source.write_key is not None
    decisions, clicked = [], set()
    for n in range(DECISIONS):
        placement = "home" if n % 3 else "basket"
        answer = httpx.post(
            f"{ui_server.url}/v1/decide",
            json={
                "identifier": people[n % len(people)],
                "channel": PLACEMENTS[placement],
                "placement": placement,
                "limit": SHOWN,
            },
            headers=ADMIN,
        )
        assert answer.status_code == 200, answer.text
        decision = answer.json()
        assert len(decision["items"]) == SHOWN, decision
        decisions.append(decision)
        if n % 2 == 0:  # a click on the first item shown
            item = decision["items"][0]["item_id"]
            sent = httpx.post(
                f"{ui_server.url}/v1/track",
                json={
                    "userId": "shopper",
                    "event": "Product Clicked",
                    "properties": {
                        "decision_id": decision["decision_id"],
                        "product_id": item,
                    },
                },
                headers=basic(source.write_key),
            )
            assert sent.status_code == 200, sent.text
            clicked.add((decision["decision_id"], item))
    refused = []
    for person in people[:REFUSED]:
        answer = httpx.post(
            f"{ui_server.url}/v1/decide",
            json={"identifier": person, "channel": "email", "placement": "weekly"},
            headers=ADMIN,
        )
        assert answer.status_code == 200, answer.text
        refused.append(answer.json())
    deadline = time.monotonic() + 20
    while (  # exposures and refusals are group-committed, not awaited
        _count(ui_settings) < DECISIONS * SHOWN
        or _count(ui_settings, "refusals") < REFUSED
    ):
        assert time.monotonic() < deadline, "the decision log never reached the loader"
        load_once(ui_settings)
        time.sleep(0.2)
    load_once(ui_settings)
    client.close()
    yield Decided(empty_twin, empty_page, decisions, clicked, refused)


@pytest.mark.parametrize("path", ["/ui/decisions"])
def test_the_page_refuses_the_unauthenticated(
    anonymous_client: Http, path: str
) -> None:
    page = anonymous_client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    twin = anonymous_client.get(f"{path}.json")
    assert twin.status_code == 401


def test_before_any_decision_the_page_says_so_plainly(decided: Decided) -> None:
    data, page = decided.empty_twin, decided.empty_page
    assert data["empty"] is True and data["exposures"] == 0
    assert "No decisions have been logged yet: the exposures table is empty" in page
    # the limits, the refusal note and (no) refusals show with nothing decided
    assert data["refusals_logged"] is True and data["refusals_note"] in page
    assert data["refusals"]["total"] == 0 and data["refusals"]["by_kind"] == []
    assert "No refusal has been logged yet" in page
    for cap in data["limits"]["daily_caps"]:
        assert f"{cap['channel']}: {cap['per_day']} per customer" in page


def test_decisions_show_up_with_their_outcome_rates_and_estimates(
    ui_client: Http, ui_settings: Settings, decided: Decided
) -> None:
    data = ui_client.get("/ui/decisions.json").json()
    page = html.unescape(ui_client.get("/ui/decisions").text)
    assert data["empty"] is False
    assert data["exposures"] == DECISIONS * SHOWN
    made = {p: 0 for p in PLACEMENTS}
    for d in decided.decisions:
        made[d["placement"]] += 1
    placements = {p["placement"]: p for p in data["placements"]}
    assert set(placements) == set(PLACEMENTS)
    for name, p in placements.items():
        assert p["channel"] == PLACEMENTS[name] and p["policy"] == "thompson-rerank"
        assert p["decisions"] == made[name] and p["exposures"] == SHOWN * made[name]
        assert f"<td>{name}</td><td>thompson-rerank</td>" in page
    daily = data["daily"]
    assert sum(daily["exposures"]) == DECISIONS * SHOWN
    assert sum(daily["outcomes"]) == len(decided.clicked)
    assert sum(daily["decisions"]) == DECISIONS
    for day, rate in zip(daily["days"], daily["outcome_rate"], strict=True):
        assert f"<td>{day}</td>" in page and f"{rate * 100:.2f}%" in page
    assert page.count('<figure class="chart"><svg') == 3  # two lines, refusal bars
    # the off-policy estimates are `shopkeeper evaluate decisions`'s
    with connect(ui_settings.warehouse, read_only=True) as wh:
        expected = {
            e.placement: e.as_dict()
            for e in evaluate_decisions(wh, n_boot=data["n_boot"], seed=0)
        }
    for e in data["evaluation"]:
        want = expected[e["placement"]]
        assert e["outcomes"] == want["outcomes"]
        assert e["on_policy"] == pytest.approx(want["on_policy"])
        uniform = e["estimates"]["uniform"]["ips"]
        assert uniform == pytest.approx(want["estimates"]["uniform"]["ips"])
        assert f"{uniform['value']:,.4f}" in page
    assert sum(e["outcomes"] for e in data["evaluation"]) == len(decided.clicked)
    assert data["refusals_note"] in page


def test_a_refused_email_decision_is_logged_and_counted(
    ui_client: Http, ui_settings: Settings, decided: Decided
) -> None:
    for answer in decided.refused:
        assert answer["items"] == [] and answer["refused"] == "no email consent granted"
    with connect(ui_settings.warehouse, read_only=True) as wh:
        rows = wh.to_arrow(wh.table("refusals")).to_pylist()
    assert {r["decision_id"] for r in rows} == {
        a["decision_id"] for a in decided.refused
    }
    for row in rows:
        assert row["reason_kind"] == "consent" and row["channel"] == "email"
        assert row["placement"] == "weekly" and row["identifier"] is not None
        assert row["reason"] == "no email consent granted"
    data = ui_client.get("/ui/decisions.json").json()
    page = html.unescape(ui_client.get("/ui/decisions").text)
    refusals = data["refusals"]
    assert refusals["total"] == REFUSED
    (by_kind,) = refusals["by_kind"]
    assert (by_kind["reason_kind"], by_kind["channel"]) == ("consent", "email")
    assert by_kind["refusals"] == REFUSED and by_kind["customers"] == REFUSED
    assert f'id="refusals-total">{REFUSED}</span>' in page
    assert f'<td>consent</td><td>email</td><td class="num">{REFUSED}</td>' in page
    assert sum(d["consent"] for d in refusals["daily"]) == REFUSED
    for day in refusals["daily"]:
        assert f"<td>{day['day']}</td>" in page


def test_a_person_sees_the_decisions(browser: Browser, decided: Decided) -> None:
    browser.open("/ui/decisions")
    page = browser.page
    assert page.locator("#placements tbody tr").count() == len(PLACEMENTS)
    assert page.locator("figure.chart svg").count() == 3  # two lines, refusal bars
    assert page.locator("table.ope").count() == len(PLACEMENTS)
    browser.screenshot("decisions")
