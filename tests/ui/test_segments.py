"""The Segments pages: list, editor with live preview, a segment's page,
building its membership and exporting it within consent.

Everything runs against a real server on a copy of the real 1/25 Complete
Journey slice; the numbers the pages show are checked against counts and
means computed here straight from the warehouse tables.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

import pyarrow.parquet as pq
import pytest

from shopkeeper.segments import preview
from shopkeeper.segments.sources import current_consents
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, connect
from tests.collect.server import ADMIN_TOKEN
from tests.ui.conftest import Browser, Http, form_token

PAGES = ("/ui/segments", "/ui/segments/new", "/ui/segments/preview")
FREQUENT = "frequency >= 20"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
FRAGMENT = {"accept": "text/html; fragment=1"}


def _frequent(built: Warehouse) -> Any:
    rfm = built.table("profiles_rfm")
    return rfm.filter(rfm.frequency >= 20)


def _create(client: Http, name: str, definition: str) -> None:
    """Create through the editor's form, as a person does."""
    token = form_token(client.get("/ui/segments/new").text)
    made = client.post(
        "/ui/segments",
        data={"csrf": token, "name": name, "definition": definition},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"/ui/segments/{name}"


def _build(client: Http, name: str) -> None:
    token = form_token(client.get("/ui/segments").text)  # one token per session
    built = client.post(
        f"/ui/segments/{name}/build", data={"csrf": token}, follow_redirects=False
    )
    assert built.status_code == 303, built.text


@pytest.mark.parametrize("path", [*PAGES, "/ui/segments/anything"])
def test_pages_refuse_the_unauthenticated(anonymous_client: Http, path: str) -> None:
    page = anonymous_client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    twin = anonymous_client.get(f"{path}.json")
    assert twin.status_code == 401
    assert twin.json()["code"] == "unauthorized"
    post = anonymous_client.post(
        "/ui/segments", data={"name": "x", "definition": FREQUENT}
    )
    assert post.status_code in (303, 401, 403)


def test_a_segment_made_in_the_form_is_listed_with_its_real_member_count(
    ui_client: Http, built: Warehouse
) -> None:
    expected = built.count(_frequent(built))
    assert expected > 0
    _create(ui_client, "ui_frequent", FREQUENT)
    page = ui_client.get("/ui/segments/ui_frequent.json").json()
    assert page["definition"] == FREQUENT
    assert page["matches_now"] == expected  # evaluated now, before any build
    _build(ui_client, "ui_frequent")
    listed = ui_client.get("/ui/segments.json").json()["segments"]
    row = next(s for s in listed if s["name"] == "ui_frequent")
    assert row["members"] == expected and row["version"] == 1
    text = html.unescape(ui_client.get("/ui/segments").text)
    assert f'data-members="ui_frequent">{expected:,}</td>' in text
    for s in listed:  # the twin is what the page shows
        assert f'href="/ui/segments/{s["name"]}"' in text and s["definition"] in text
    detail = ui_client.get("/ui/segments/ui_frequent.json").json()
    assert detail["members"] == expected
    assert detail["history"][-1]["members"] == expected
    assert detail["compared"] == "members" and detail["matches_now"] is None
    monetary = next(
        f for f in detail["comparison"]["fields"] if f["field"] == "monetary"
    )
    assert monetary["segment"] == pytest.approx(
        built.execute(_frequent(built).monetary.mean()), abs=1e-3
    )
    shown = html.unescape(ui_client.get("/ui/segments/ui_frequent").text)
    assert f'<span class="big" id="members-now">{expected:,}</span>' in shown
    assert "personalization" in shown and "ads" in shown  # the consent needed


def test_the_preview_matches_the_warehouse_and_explains_a_bad_definition(
    ui_client: Http, built: Warehouse
) -> None:
    members = _frequent(built)
    expected = built.count(members)
    twin = ui_client.get("/ui/segments/preview.json", params={"definition": FREQUENT})
    data = twin.json()
    assert data["size"] == expected == preview(built, FREQUENT)["size"]
    rfm = built.table("profiles_rfm")
    means = {f["field"]: f for f in data["comparison"]["fields"]}
    assert means["monetary"]["segment"] == pytest.approx(
        built.execute(members.monetary.mean()), abs=1e-3
    )
    assert means["monetary"]["everyone"] == pytest.approx(
        built.execute(rfm.monetary.mean()), abs=1e-3
    )
    shares = [d["segment_share"] for d in data["comparison"]["departments"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0001
    box = ui_client.get(
        "/ui/segments/preview", params={"definition": FREQUENT}, headers=FRAGMENT
    )
    assert box.status_code == 200 and "<html" not in box.text
    fragment = html.unescape(box.text)
    assert f'<span class="big" id="preview-size">{expected:,}</span>' in fragment
    for member in data["sample"]:
        assert f'href="/ui/customers/{member["customer_id"]}"' in fragment
    for d in data["comparison"]["departments"]:
        assert f"<td>{d['department']}</td>" in fragment

    bad = "frequency >= 20 and\n  frecuency > 3"
    box = ui_client.get(
        "/ui/segments/preview", params={"definition": bad}, headers=FRAGMENT
    )
    assert box.status_code == 200  # the live box shows the problem, not a failure
    text = html.unescape(box.text)
    assert "Line 2, column 3: unknown field 'frecuency'" in text
    assert "Did you mean frequency?" in text
    twin = ui_client.get("/ui/segments/preview.json", params={"definition": bad})
    assert twin.status_code == 400
    assert twin.json()["error"]["line"] == 2 and twin.json()["error"]["column"] == 3
    page = ui_client.get("/ui/segments/preview", params={"definition": bad})
    assert page.status_code == 400 and "frecuency" in page.text


def _download(client: Http, name: str, **form: str) -> Any:
    token = form_token(client.get("/ui/segments").text)
    answer = client.post(f"/ui/segments/{name}/export", data={"csrf": token, **form})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment;")
    return answer


def _consenting(settings: Settings, name: str, purpose: str) -> set[str]:
    """Current members of ``name`` whose latest ``purpose`` consent is granted,
    read from the server's own warehouse (other tests share it)."""
    wh = connect(settings.warehouse, read_only=True)
    try:
        m = wh.table("segments_members")
        m = m.filter((m.segment == name) & m.exited_at.isnull())
        consents = current_consents(wh)
        assert consents is not None
        ok = consents.filter(
            (consents.purpose == purpose) & (consents.status == "granted")
        )
        kept = m.semi_join(ok, "customer_id")
        return set(wh.execute(kept.select("customer_id")).customer_id)
    finally:
        wh.close()


def test_the_export_holds_only_members_who_consented(
    ui_client: Http, built: Warehouse, ui_settings: Settings
) -> None:
    _create(ui_client, "ui_export", FREQUENT)
    _build(ui_client, "ui_export")
    three = built.execute(
        _frequent(built)
        .order_by("customer_id")
        .limit(3)
        .select("customer_id", "household_id")
    )
    people = list(zip(three.customer_id, three.household_id, strict=True))
    for (_, household), purpose, status in (
        (people[0], "personalization", "granted"),
        (people[0], "email", "granted"),
        (people[1], "personalization", "granted"),
        (people[2], "personalization", "denied"),
    ):
        put = ui_client.request(
            "PUT",
            f"/v1/consents/{household}",
            json={"purpose": purpose, "status": status},
            headers=ADMIN,
        )
        assert put.status_code == 200, put.text

    answer = _download(ui_client, "ui_export", format="csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    exported = {r["customer_id"] for r in rows}
    assert exported == _consenting(ui_settings, "ui_export", "personalization")
    assert {people[0][0], people[1][0]} <= exported and people[2][0] not in exported
    assert set(rows[0]) == {"customer_id", "household_id", "entered_at"}
    members = int(answer.headers["x-shopkeeper-members"])
    assert members == built.count(_frequent(built))
    assert int(answer.headers["x-shopkeeper-without-consent"]) == members - len(rows)

    answer = _download(ui_client, "ui_export", format="parquet", purpose="email")
    emailable = set(pq.read_table(io.BytesIO(answer.content)).column("customer_id"))
    assert {str(c) for c in emailable} == _consenting(ui_settings, "ui_export", "email")
    assert people[0][0] in {str(c) for c in emailable}
    assert people[1][0] not in {str(c) for c in emailable}

    answer = _download(ui_client, "ui_export", format="hashed-audience")
    lines = answer.text.splitlines()
    assert lines[0] == "Email"  # Google's header; nobody here granted ads
    assert int(answer.headers["x-shopkeeper-rows"]) == len(lines) - 1


def test_form_posts_without_the_csrf_token_are_refused(ui_client: Http) -> None:
    refused = ui_client.post(
        "/ui/segments", data={"name": "ui_forged", "definition": FREQUENT}
    )
    assert refused.status_code == 403
    wrong = ui_client.post(
        "/ui/segments",
        data={"name": "ui_forged", "definition": FREQUENT, "csrf": "guess"},
    )
    assert wrong.status_code == 403
    names = [s["name"] for s in ui_client.get("/ui/segments.json").json()["segments"]]
    assert "ui_forged" not in names
    _create(ui_client, "ui_csrf", FREQUENT)
    for action in ("build", "export"):
        answer = ui_client.post(f"/ui/segments/ui_csrf/{action}", data={})
        assert answer.status_code == 403


def test_an_unknown_segment_or_a_bad_name_is_a_page_not_a_crash(
    ui_client: Http,
) -> None:
    page = ui_client.get("/ui/segments/nobody")
    assert page.status_code == 404 and "no segment named" in html.unescape(page.text)
    assert ui_client.get("/ui/segments/nobody.json").json()["code"] == "not_found"
    token = form_token(ui_client.get("/ui/segments/new").text)
    bad = ui_client.post(
        "/ui/segments",
        data={"csrf": token, "name": "Bad Name", "definition": FREQUENT},
    )
    assert bad.status_code == 400 and "is not allowed" in html.unescape(bad.text)


def test_a_person_writes_a_segment_sees_the_preview_and_creates_it(
    browser: Browser, built: Warehouse
) -> None:
    expected = built.count(_frequent(built))
    browser.open("/ui/segments/new")
    page = browser.page
    page.fill("input[name=name]", "ui_browser")
    page.locator("textarea[name=definition]").press_sequentially(FREQUENT)
    page.wait_for_selector("#preview-size")
    assert page.inner_text("#preview-size") == f"{expected:,}"
    assert page.locator("#preview-box figure.chart svg").count() == 1
    browser.screenshot("segments-editor")
    page.click("#segment-form button[type=submit]")
    page.wait_for_url("**/ui/segments/ui_browser")
    assert page.inner_text("#matches-now") == f"{expected:,}"
    browser.screenshot("segment-page")
    browser.open("/ui/segments")
    assert page.locator("#segments a[href='/ui/segments/ui_browser']").count() == 1
    browser.screenshot("segments")
