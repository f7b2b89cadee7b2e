"""The partner clean room on a real Complete Journey slice: attacks and answers.

The slice holds about 100 households, so the tests set the minimum crowd to
10 instead of the production 50; every rule is the same. Consents are real
ledger rows: most households grant ``partner_sharing`` through a consents CSV
import, some deny it, some have no decision, and one grants and then revokes
it through ``record_consent`` (the API's path).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import ibis
import pytest
from typer.testing import CliRunner

from shopkeeper.collect import import_csv
from shopkeeper.errors import Forbidden, InvalidInput
from shopkeeper.trust.cleanroom import CleanRoom
from shopkeeper.trust.cleanroom_registry import PartnerRegistry
from shopkeeper.trust.consents import record_consent
from shopkeeper.warehouse import Warehouse, connect

N = 10
MANUFACTURER = "2"
"""The slice's second-largest manufacturer: bought by most of its households."""


def grant_sharing(src: Path, dest: Path) -> set[str]:
    """Copy the built slice to ``dest`` and record partner_sharing decisions;
    returns the households whose current decision is granted."""
    shutil.copy(src, dest)
    with connect(f"duckdb:///{dest}") as wh:
        households = wh.to_arrow(
            wh.table("identity_map").select("identifier").order_by("identifier")
        ).column("identifier")
        rows, granted = [], set()
        for household in households.to_pylist():
            number = int(household.split(":")[1])
            if number % 7 == 0:
                continue  # no decision at all: excluded by default
            status = "denied" if number % 7 == 1 else "granted"
            rows.append([household, "partner_sharing", status, "2018-01-02T00:00:00"])
            if status == "granted":
                granted.add(household)
        path = dest.with_suffix(".consents.csv")
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["subject", "purpose", "status", "recorded_at"])
            writer.writerows(rows)
        import_csv(wh, "consents", path)
        revoked = sorted(granted)[0]
        record_consent(wh, revoked, "partner_sharing", "revoked", source="test")
        granted.discard(revoked)
    return granted


@pytest.fixture(scope="module")
def sharing(
    built_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, set[str]]:
    path = tmp_path_factory.mktemp("cleanroom") / "wh.duckdb"
    return path, grant_sharing(built_path, path)


@pytest.fixture
def wh(sharing: tuple[Path, set[str]]) -> Any:
    with connect(f"duckdb:///{sharing[0]}", read_only=True) as warehouse:
        yield warehouse


@pytest.fixture
def room(tmp_path: Path) -> CleanRoom:
    """A fresh registry per test, so no test sees another's query history."""
    room = CleanRoom(PartnerRegistry(tmp_path / "cleanroom.sqlite"), min_crowd=N)
    room.registry.add("Acme", [MANUFACTURER])
    return room


def brand_lines(wh: Warehouse, households: set[str]) -> Any:
    """The manufacturer's order lines of ``households``, computed directly
    from the imported tables (not through the clean room's views)."""
    orders, lines = wh.table("orders"), wh.table("order_lines")
    products = wh.table("products")
    products = products.filter(products.manufacturer_id == MANUFACTURER)
    joined = orders.join(lines, "order_id").join(products, "product_id")
    return joined.filter(joined.identifier.isin(sorted(households)))


def store_with_few(wh: Warehouse, households: set[str], *, shop_elsewhere: bool) -> str:
    """A store where 1 to N-1 sharing customers bought the brand; with
    ``shop_elsewhere``, one whose buyers all bought it at other stores too, so
    leaving the store out changes no one's membership, only their totals."""
    t = brand_lines(wh, households)
    per_store = t.group_by("store_id").agg(n=t.identifier.nunique())
    small = per_store.filter((per_store.n > 0) & (per_store.n < N))
    if shop_elsewhere:
        stores = t.group_by("identifier").agg(k=t.store_id.nunique())
        at = t.select("store_id", "identifier").distinct().join(stores, "identifier")
        loners = at.filter(at.k == 1).select("store_id").distinct()
        small = small.anti_join(loners, "store_id")
    found = wh.to_arrow(small.order_by([ibis.desc("n"), "store_id"]).limit(1))
    assert found.num_rows, "the slice has no such store"
    return str(found.column("store_id")[0])


TOTAL = {"view": "brand_sales", "measures": ["sum(sales_value)"]}


def without_store(store: str, **extra: Any) -> dict[str, Any]:
    return (
        TOTAL
        | {"filters": [{"column": "store_id", "op": "!=", "value": store}]}
        | extra
    )


def test_a_legitimate_aggregate_is_answered(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    answer = room.query(
        wh,
        "Acme",
        {
            "view": "brand_sales",
            "measures": ["sum(sales_value)", "count_distinct(order_id)"],
        },
    )
    expected = brand_lines(wh, sharing[1])
    row = answer.rows[0]
    assert answer.columns == ["customers", "sum_sales_value", "count_distinct_order_id"]
    assert row["customers"] == wh.execute(expected.identifier.nunique()) >= N
    assert row["sum_sales_value"] == pytest.approx(
        wh.execute(expected.sales_value.sum())
    )
    assert row["count_distinct_order_id"] == wh.execute(expected.order_id.nunique())
    assert answer.suppressed_rows == 0
    # Shorthand and object measures mean the same; repeating a query is fine.
    again = room.query(
        wh, "Acme", TOTAL | {"measures": [{"fn": "sum", "column": "sales_value"}]}
    )
    assert again.rows[0]["sum_sales_value"] == row["sum_sales_value"]


def test_customers_without_partner_sharing_are_never_counted(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    everyone = wh.to_arrow(wh.table("identity_map").select("identifier"))
    all_households = set(everyone.column("identifier").to_pylist())
    all_buyers = wh.execute(brand_lines(wh, all_households).identifier.nunique())
    sharing_buyers = wh.execute(brand_lines(wh, sharing[1]).identifier.nunique())
    answer = room.query(wh, "Acme", {"view": "brand_buyers"})
    # Denied, undecided and revoked households are all left out.
    assert answer.rows == [{"customers": sharing_buyers}]
    assert sharing_buyers < all_buyers


def test_a_group_under_the_threshold_is_refused(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    query = TOTAL | {"filters": [{"column": "store_id", "op": "=", "value": store}]}
    with pytest.raises(Forbidden, match=f"fewer than {N} distinct customers"):
        room.query(wh, "Acme", query)


def test_small_rows_are_withheld_and_counted(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    answer = room.query(wh, "Acme", TOTAL | {"dimensions": ["department"]})
    t = brand_lines(wh, sharing[1])
    per_department = wh.execute(t.group_by("department").agg(n=t.identifier.nunique()))
    small = int((per_department.n < N).sum())
    assert answer.rows and all(r["customers"] >= N for r in answer.rows)
    assert answer.suppressed_rows >= small > 0
    assert len(answer.rows) + answer.suppressed_rows == len(per_department)
    assert f"{small} row(s) counted fewer than {N} customers" in answer.notes[0]


def test_a_query_whose_every_row_is_small_is_refused(
    wh: Warehouse, room: CleanRoom
) -> None:
    """In the slice no store has 10 sharing buyers of the brand."""
    with pytest.raises(Forbidden, match="every row of this query counts fewer"):
        room.query(wh, "Acme", TOTAL | {"dimensions": ["store_id"]})


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"dimensions": ["customer_id"]}, "customer_id is an identifier"),
        ({"dimensions": ["household_id"]}, "household_id is an identifier"),
        ({"measures": ["sum(customer_id)"]}, "customer_id is an identifier"),
        (
            {"filters": [{"column": "order_id", "op": "=", "value": "1"}]},
            "order_id is an identifier",
        ),
        ({"dimensions": ["name"]}, "name is free text"),
        ({"measures": ["max(sales_value)"]}, "one customer's own value"),
        ({"dimensions": ["ordered_at"]}, "not a dimension of view 'brand_sales'"),
        ({"select": "*"}, "select: Extra inputs are not permitted"),
        ({"view": "orders"}, "unknown view 'orders'"),
    ],
)
def test_identifiers_and_unsafe_functions_are_refused_with_the_reason(
    wh: Warehouse, room: CleanRoom, query: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        room.query(wh, "Acme", {"view": "brand_sales"} | query)
    assert room.registry.queries()[0]["outcome"] == "invalid"


def test_an_overlapping_pair_that_isolates_a_small_group_is_refused(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    first = room.query(wh, "Acme", TOTAL)
    with pytest.raises(Forbidden) as refused:
        room.query(wh, "Acme", without_store(store))
    assert f"your query #{first.query_id}" in refused.value.message
    assert f"isolate a group smaller than {N}" in refused.value.message


def test_the_check_works_in_either_order(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    room.query(wh, "Acme", without_store(store))
    with pytest.raises(Forbidden, match="differ in between 1 and"):
        room.query(wh, "Acme", TOTAL)


def test_the_check_compares_contributions_not_just_membership(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    """Every buyer at this store buys the brand elsewhere too: both answers
    count the same customers, yet their difference is the store's sales."""
    store = store_with_few(wh, sharing[1], shop_elsewhere=True)
    total = room.query(wh, "Acme", TOTAL)
    with pytest.raises(Forbidden, match="isolate a group"):
        room.query(wh, "Acme", without_store(store))
    t = brand_lines(wh, sharing[1])
    rest = wh.execute(t.filter(t.store_id != store).identifier.nunique())
    assert rest == total.rows[0]["customers"]


def test_the_shown_rows_taken_together_are_checked(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    """Each month differs from the year's total by many customers; the sum of
    the months differs from it by the store's few buyers."""
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    year = {"column": "month", "op": "<=", "value": "2017-12"}
    room.query(wh, "Acme", TOTAL | {"filters": [year]})
    not_there = {"column": "store_id", "op": "!=", "value": store}
    by_month = TOTAL | {"dimensions": ["month"], "filters": [year, not_there]}
    with pytest.raises(Forbidden, match="the shown rows taken together"):
        room.query(wh, "Acme", by_month)


def test_the_check_spans_views(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    """The buyers' total spend in one view, the sales without one store in the
    other: subtracting them gives that store's sales all the same."""
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    room.query(wh, "Acme", {"view": "brand_buyers", "measures": ["sum(brand_spend)"]})
    with pytest.raises(Forbidden, match="isolate a group"):
        room.query(wh, "Acme", without_store(store))


def test_histories_are_per_partner(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    room.registry.add("Other", [MANUFACTURER])
    room.query(wh, "Acme", TOTAL)
    answer = room.query(wh, "Other", without_store(store))
    assert answer.rows[0]["customers"] >= N


def test_a_revocation_between_two_queries_is_not_revealed(
    built_path: Path, tmp_path: Path, room: CleanRoom
) -> None:
    granted = grant_sharing(built_path, tmp_path / "wh.duckdb")
    with connect(f"duckdb:///{tmp_path / 'wh.duckdb'}") as wh:
        buyers = brand_lines(wh, granted).select("identifier").distinct()
        leaving = wh.to_arrow(buyers.order_by("identifier").limit(1))
        first = room.query(wh, "Acme", TOTAL)
        record_consent(
            wh, leaving.column(0)[0].as_py(), "partner_sharing", "revoked", source="t"
        )
        with pytest.raises(Forbidden, match=f"your query #{first.query_id}"):
            room.query(wh, "Acme", TOTAL)


def test_every_query_is_logged(
    wh: Warehouse, room: CleanRoom, sharing: tuple[Path, set[str]]
) -> None:
    store = store_with_few(wh, sharing[1], shop_elsewhere=False)
    answered = room.query(wh, "Acme", TOTAL | {"dimensions": ["brand_type"]})
    with pytest.raises(InvalidInput):
        room.query(wh, "Acme", {"view": "brand_sales", "dimensions": ["customer_id"]})
    with pytest.raises(Forbidden):
        room.query(wh, "Acme", without_store(store))
    with pytest.raises(InvalidInput):
        room.query(wh, "Acme", "not json")
    log = room.registry.queries()
    assert [e["outcome"] for e in log] == ["invalid", "refused", "invalid", "answered"]
    assert {e["partner"] for e in log} == {"Acme"}
    assert log[-1]["rows_returned"] == len(answered.rows)
    assert json.loads(log[-1]["query"])["dimensions"] == ["brand_type"]
    assert log[0]["query"] == "not json"
    assert "isolate a group" in log[1]["reason"]
    assert log[1]["rows_returned"] == 0


def test_partner_keys_and_disabled_partners(room: CleanRoom, wh: Warehouse) -> None:
    partner = room.registry.add("Brand Co", [" 544 ", "544", "2"])
    assert partner.key and partner.manufacturer_ids == ("2", "544")
    assert room.registry.authenticate(partner.key).name == "Brand Co"
    files = room.registry.path.parent.glob(room.registry.path.name + "*")
    stored = b"".join(f.read_bytes() for f in files)
    assert b"Brand Co" in stored and partner.key.encode() not in stored
    room.registry.set_status("Brand Co", "disabled")
    with pytest.raises(Forbidden, match="disabled"):
        room.registry.authenticate(partner.key)
    with pytest.raises(Forbidden, match="disabled"):
        room.query(wh, "Brand Co", TOTAL)
    with pytest.raises(InvalidInput, match="manufacturer"):
        room.registry.add("Nobody", [])


def test_the_cli_adds_a_partner_runs_a_query_and_shows_the_log(
    sharing: tuple[Path, set[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopkeeper.cli import app

    monkeypatch.setenv("SHOPKEEPER_STATE_DIR", str(tmp_path))
    base = ["--warehouse", f"duckdb:///{sharing[0]}", "cleanroom"]
    runner = CliRunner()
    added = runner.invoke(app, [*base, "partner-add", "Acme", "--manufacturer", "2"])
    assert added.exit_code == 0, added.output
    assert "partner key (shown once" in added.output
    # The production crowd of 50: the slice's whole brand total still passes.
    answered = runner.invoke(
        app, [*base, "query", "--partner", "Acme", "--json", json.dumps(TOTAL)]
    )
    assert answered.exit_code == 0, answered.output
    assert json.loads(answered.output)["min_crowd"] == 50
    by_store = runner.invoke(
        app,
        [
            *base,
            "query",
            "--partner",
            "Acme",
            json.dumps(TOTAL | {"dimensions": ["store_id"]}),
        ],
    )
    assert by_store.exit_code != 0
    assert "fewer than 50" in str(by_store.exception)
    log = runner.invoke(app, [*base, "log", "--json"])
    assert [e["outcome"] for e in json.loads(log.output)] == ["refused", "answered"]
    views = runner.invoke(app, [*base, "views", "--json"])
    assert {v["view"] for v in json.loads(views.output)} == {
        "brand_sales",
        "brand_buyers",
    }
