"""The Merchandising page: affinity by segment, basket rules, promotion response.

Read from a real server on a copy of the real 1/25 Complete Journey slice;
every figure is checked against the insights function the page claims to
show (``affinity_by_segment``, ``category_rules``, ``promotion_response``),
called here on the same warehouse.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import ibis
import pytest

from shopkeeper.segments.insights import (
    affinity_by_segment,
    category_rules,
    promotion_response,
)
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect
from tests.ui.conftest import Browser, Http, form_token

SEGMENT = "ui_merch"
DEFINITION = "frequency >= 20"


@pytest.fixture
def served(ui_settings: Settings) -> Iterator[Any]:
    """Opens the server's own warehouse read-only, for one check at a time
    (the server holds it only during a request)."""
    opened: list[Warehouse] = []

    def open_() -> Warehouse:
        wh = connect(ui_settings.warehouse, read_only=True)
        opened.append(wh)
        return wh

    yield open_
    for wh in opened:
        wh.close()


def _built_segment(client: Http) -> None:
    """A segment with members: created through the API, built on its page."""
    token = form_token(client.get("/ui/merchandising").text)
    made = client.post(
        "/v1/segments",
        json={"name": SEGMENT, "definition": DEFINITION},
        headers={"authorization": "Bearer test-admin-token"},
    )
    assert made.status_code == 201, made.text
    built = client.post(
        f"/ui/segments/{SEGMENT}/build",
        data={"csrf": token},
        follow_redirects=False,
    )
    assert built.status_code == 303, built.text


def _compute(client: Http) -> None:
    token = form_token(client.get("/ui/merchandising").text)
    done = client.post(
        "/ui/merchandising/compute", data={"csrf": token}, follow_redirects=False
    )
    assert done.status_code == 303, done.text


def _page(client: Http, query: str) -> tuple[dict[str, Any], str]:
    twin = client.get(f"/ui/merchandising.json?{query}")
    assert twin.status_code == 200, twin.text
    page = client.get(f"/ui/merchandising?{query}")
    assert page.status_code == 200, page.text
    return twin.json(), html.unescape(page.text)


@pytest.mark.parametrize("path", ["/ui/merchandising"])
def test_the_page_refuses_the_unauthenticated(
    anonymous_client: Http, path: str
) -> None:
    page = anonymous_client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    twin = anonymous_client.get(f"{path}.json")
    assert twin.status_code == 401
    compute = anonymous_client.post("/ui/merchandising/compute", data={})
    assert compute.status_code in (303, 401, 403)


def test_affinity_by_segment_is_the_insight_for_that_segment(
    ui_client: Http, served: Any
) -> None:
    _built_segment(ui_client)
    data, page = _page(ui_client, f"segment={SEGMENT}&level=category")
    assert SEGMENT in data["segments"] and data["segment"] == SEGMENT
    wh = served()
    t = affinity_by_segment(wh, level="category")
    t = t.filter(t.segment == SEGMENT).order_by([ibis.desc("index"), "category"])
    expected = wh.to_arrow(t.limit(15)).to_pylist()
    assert [(a["key"], a["index"]) for a in data["affinity"]] == [
        (r["category"], r["index"]) for r in expected
    ]
    assert expected and data["affinity"][0]["index"] > 1
    for a in data["affinity"]:
        assert f"<td>{a['key']}</td>" in page
        assert f'<td class="num">{a["index"]:,.2f}</td>' in page
    assert page.count("<svg") >= 1  # the chart of the top indexes
    assert ui_client.get("/ui/merchandising.json?segment=nobody").status_code == 400


def test_rules_and_promotions_are_the_insights_after_a_recompute(
    ui_client: Http, built: Warehouse, served: Any
) -> None:
    _built_segment(ui_client)
    _compute(ui_client)
    data, page = _page(ui_client, "min_support=0.05&min_lift=1.1")
    every = built.to_arrow(category_rules(built, min_support=0.01)).to_pylist()
    kept = [r for r in every if r["support"] >= 0.05 and r["lift"] >= 1.1]
    assert data["rules"]["rows"] == kept[:30] and kept
    assert data["rules"]["matching"] == len(kept)
    for rule in data["rules"]["rows"]:
        assert f"<td>{rule['antecedent']}</td><td>{rule['consequent']}</td>" in page
    wh = served()
    promos = wh.to_arrow(promotion_response(wh)).to_pylist()
    assert data["promotions"]["rows"] == promos
    assert {"everyone", SEGMENT} <= {p["segment"] for p in promos}
    for p in promos:
        assert f'<td>{p["segment"]}</td><td class="num">${p["spend"]:,.2f}' in page
    looser, _ = _page(ui_client, "min_support=0.01&min_lift=0")
    assert looser["rules"]["matching"] == len(every)
    for bad in ("min_support=0.001", "level=brand", "min_lift=-1"):
        assert ui_client.get(f"/ui/merchandising.json?{bad}").status_code == 400


def test_recompute_without_the_csrf_token_is_refused(ui_client: Http) -> None:
    assert ui_client.post("/ui/merchandising/compute", data={}).status_code == 403
    answer = ui_client.post("/ui/merchandising/compute", data={"csrf": "guess"})
    assert answer.status_code == 403


def test_a_person_opens_merchandising_and_picks_a_segment(
    browser: Browser, ui_client: Http
) -> None:
    _built_segment(ui_client)
    browser.open("/ui/merchandising")
    page = browser.page
    page.select_option("select[name=segment]", SEGMENT)
    page.select_option("select[name=level]", "category")
    page.click("form.filters button[type=submit] >> nth=0")
    page.wait_for_url(f"**/ui/merchandising?segment={SEGMENT}&level=category*")
    assert page.locator("#affinity tbody tr").count() > 0
    assert page.locator("figure.chart svg").count() >= 1
    browser.screenshot("merchandising")
