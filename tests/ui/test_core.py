"""The dashboard's sign-in, refusals, JSON twins, overview and customer 360."""

from __future__ import annotations

import html

import pytest

from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse
from tests.conftest import busiest_households
from tests.ui.conftest import Browser, Http, form_token, login

PAGES = ("/ui", "/ui/customers")


@pytest.mark.parametrize("path", PAGES)
def test_pages_refuse_the_unauthenticated(anonymous_client: Http, path: str) -> None:
    page = anonymous_client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    twin = anonymous_client.get(f"{path}.json")
    assert twin.status_code == 401
    assert twin.json()["code"] == "unauthorized"


def test_a_wrong_token_or_a_forged_cookie_gets_no_session(
    anonymous_client: Http,
) -> None:
    form = anonymous_client.get("/ui/login").text
    wrong = anonymous_client.post(
        "/ui/login",
        data={"token": "not-it", "csrf": form_token(form), "next": "/ui"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    assert "not the admin token" in wrong.text
    anonymous_client.cookies["shopkeeper_session"] = "1999999999.abc.def"
    assert anonymous_client.get("/ui", follow_redirects=False).status_code == 303


def test_form_posts_without_the_csrf_token_are_refused(
    anonymous_client: Http,
) -> None:
    anonymous_client.get("/ui/login")
    forged_login = anonymous_client.post(
        "/ui/login", data={"token": "test-admin-token", "csrf": "guess"}
    )
    assert forged_login.status_code == 403
    login(anonymous_client)
    assert anonymous_client.post("/ui/logout", data={}).status_code == 403
    assert anonymous_client.post("/ui/logout", data={"csrf": "x"}).status_code == 403
    # still logged in: the forged posts changed nothing
    assert anonymous_client.get("/ui", follow_redirects=False).status_code == 200
    token = form_token(anonymous_client.get("/ui").text)
    out = anonymous_client.post(
        "/ui/logout", data={"csrf": token}, follow_redirects=False
    )
    assert out.status_code == 303
    assert anonymous_client.get("/ui", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_http_only_secure_and_strict(
    anonymous_client: Http,
) -> None:
    form = anonymous_client.get("/ui/login").text
    answer = anonymous_client.post(
        "/ui/login",
        data={"token": "test-admin-token", "csrf": form_token(form)},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_login_never_redirects_off_the_dashboard(
    anonymous_client: Http,
) -> None:
    form = anonymous_client.get("/ui/login").text
    answer = anonymous_client.post(
        "/ui/login",
        data={
            "token": "test-admin-token",
            "csrf": form_token(form),
            "next": "//evil.example/ui",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/ui"


def test_the_json_twin_takes_the_admin_token_as_bearer(
    anonymous_client: Http,
) -> None:
    answer = anonymous_client.get(
        "/ui.json", headers={"authorization": "Bearer test-admin-token"}
    )
    assert answer.status_code == 200
    assert answer.json()["customers"] > 0


def test_overview_twin_equals_what_the_page_shows(
    ui_client: Http, built: Warehouse
) -> None:
    data = ui_client.get("/ui.json").json()
    ids = built.table("identity_map")
    assert data["customers"] == built.execute(ids.customer_id.nunique())
    page = ui_client.get("/ui").text
    assert f'<span class="big">{data["customers"]:,}</span> customers' in page
    assert f"{data['active_last_4_weeks']:,}</span> bought in the last 4 weeks" in page
    for campaign in data["campaigns_running"]:
        assert f"/ui/campaigns/{campaign['campaign_id']}" in page
    # the same twin by content negotiation
    negotiated = ui_client.get("/ui", headers={"accept": "application/json"}).json()
    assert negotiated == data
    # revenue by week: every week the chart draws is a week of real orders
    orders = built.table("orders")
    weeks = set(built.execute(orders.select("week").distinct()).week)
    assert set(data["revenue"]["weeks"]) <= weeks


def test_customer_360_finds_anyone_and_shows_the_twin(
    ui_client: Http, built: Warehouse
) -> None:
    household = busiest_households(built)[0]
    found = ui_client.get(f"/ui/customers?q={household}", follow_redirects=False)
    assert found.status_code == 303
    url = found.headers["location"]
    data = ui_client.get(f"{url}.json").json()
    assert household in data["identifiers"]
    page = html.unescape(ui_client.get(url).text)
    for rec in data["recommendations"]:
        assert rec["reason"] in page
    for item in data["timeline"][:10]:
        assert item["summary"] in page
    assert data["explanations"] and all(line in page for line in data["explanations"])
    # the profile API and the page agree: one function behind both
    api = ui_client.get(
        f"/v1/profiles/{household}",
        headers={"authorization": "Bearer test-admin-token"},
    ).json()
    assert api["profile"] == data["profile"]
    assert [r["product_id"] for r in api["recommendations"]] == [
        r["product_id"] for r in data["recommendations"]
    ]


def test_an_unknown_customer_is_a_page_not_a_crash(ui_client: Http) -> None:
    page = ui_client.get("/ui/customers/household:does-not-exist")
    assert page.status_code == 404
    assert "no customer is known by" in html.unescape(page.text)
    assert (
        ui_client.get("/ui/customers/household:does-not-exist.json").json()["code"]
        == "not_found"
    )


def test_a_person_logs_in_finds_a_household_and_sees_its_history(
    browser: Browser, built: Warehouse
) -> None:
    household = busiest_households(built)[0]
    browser.screenshot("overview")
    page = browser.page
    page.fill("header input[name=q]", household)
    page.press("header input[name=q]", "Enter")
    page.wait_for_selector("#timeline li")
    assert household in page.inner_text("main")
    assert page.locator("#timeline li").count() > 5
    assert page.locator("#recommendations tbody tr").count() > 0
    assert page.locator("figure.chart svg").count() >= 1
    page.locator("#timeline details").first.click()  # open one basket's lines
    browser.screenshot("customer-360")


def test_customer_360_shows_the_offers_real_time_decisions_would_make(
    ui_client: Http, ui_settings: Settings, built: Warehouse
) -> None:
    from shopkeeper.decide.online_rows import ALIAS, CUSTOMERS, export_online
    from shopkeeper.decide.online_store import open_store
    from shopkeeper.server.realtime import online_store_url

    store = open_store(online_store_url(ui_settings))
    try:
        export_online(built, store)
        members = built.table("campaign_members")
        ids = built.execute(members.select("identifier").distinct()).identifier
        docs = [a for a in store.read_many(ALIAS, sorted(ids)) if a]
        customers = store.read_many(CUSTOMERS, [a["customer_id"] for a in docs])
    finally:
        store.close()
    doc = next(d for d in customers if d and d.get("offers"))
    data = ui_client.get(f"/ui/customers/{doc['customer_id']}.json").json()
    assert data["offers_exported"] and data["offers"] == doc["offers"]
    page = html.unescape(ui_client.get(f"/ui/customers/{doc['customer_id']}").text)
    for offer in data["offers"]:
        assert offer["reason"] in page and offer["offer_id"] in page
