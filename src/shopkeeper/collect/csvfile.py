"""Import a retailer's own CSV file (orders, products, customers, consents)."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shopkeeper import model
from shopkeeper.collect.loader import Batch, LoadReport, load
from shopkeeper.collect.personal import hash_email, hash_phone
from shopkeeper.errors import ImportRefused, InvalidInput, NotFound
from shopkeeper.model import TableSpec
from shopkeeper.warehouse import Progress, Warehouse

__all__ = ["COLUMNS_DOC", "KINDS", "PURPOSES", "Column", "Kind", "import_csv"]

MAX_PROBLEMS = 50
"""Enough findings to fix a file in one pass without flooding the terminal."""

PURPOSES = ("personalization", "email", "sms", "push", "ads", "partner_sharing")
PURPOSES += ("analytics",)
"""The consent purposes Shopkeeper decides on; anything else is a typo."""

_TYPED = re.compile(r"([A-Za-z][A-Za-z0-9_]*):(\S+)")
_EXAMPLES = "e.g. loyalty:123, user:42 or household:7"
_ISO = "ISO 8601, e.g. 2017-03-31 or 2017-03-31T14:05:00+02:00"
Values = dict[str, list[Any]]
Problems = list[tuple[int, str]]  # (line, reason); line 0: the file as a whole


@dataclass(frozen=True)
class Column:
    """One documented CSV column. ``parse`` says how its text is read; an empty
    cell is missing: a problem if ``required``, otherwise ``default``."""

    name: str
    parse: str  # text identifier int number datetime choice currency email phone
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    nonnegative: bool = False


@dataclass(frozen=True)
class Kind:
    """One kind of file: its columns, what makes a row unique, where rows go."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    row_key: tuple[str, ...]
    tables: tuple[TableSpec, ...]


def _cell(col: Column, text: str) -> Any:
    """One non-empty cell as its typed value, or a ValueError saying what is wrong.
    Personal data (e-mail, phone) is hashed here and never echoed in errors."""
    name, parse, low = col.name, col.parse, text.lower()
    if parse == "identifier" and (match := _TYPED.fullmatch(text)):
        return f"{match[1].lower()}:{match[2]}"
    if parse == "identifier":
        raise ValueError(f"{name} {text!r} has no type prefix; write {_EXAMPLES}")
    if parse == "datetime":
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} {text!r} is not a date ({_ISO})") from None
        # Warehouse timestamps are naive UTC: an offset is applied, not dropped.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if parse == "choice" and low not in col.choices:
        raise ValueError(f"{name} {text!r} is not one of {', '.join(col.choices)}")
    if parse == "currency" and not re.fullmatch(r"[a-z]{3}", low):
        raise ValueError(f"{name} {text!r} is not a 3-letter code such as USD")
    if parse == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", low):
        raise ValueError(f"{name} is not an e-mail address (value not shown)")
    if parse == "phone" and not re.search(r"\d", text):
        raise ValueError(f"{name} has no digits (value not shown)")
    if parse in ("email", "phone"):
        return hash_email(text) if parse == "email" else hash_phone(text)
    return text.upper() if parse == "currency" else low


def _numbers(col: Column, raw: list[str | None]) -> tuple[list[Any], dict[int, str]]:
    """A numeric column in one pandas pass; only the bad cells go one by one."""
    arr = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(float)
    whole = col.parse == "int"
    ok = np.isfinite(arr)
    if whole:
        ok &= (arr == np.round(arr)) & (np.abs(arr) < 2**31)
    what = "a whole number" if whole else "a number"
    bad = [int(i) for i in np.flatnonzero(~ok) if raw[i] is not None]
    errors = {i: f"{col.name} {raw[i]!r} is not {what}" for i in bad}
    for i in np.flatnonzero(ok & (arr < 0)) if col.nonnegative else ():
        errors[int(i)] = f"negative {col.name} {raw[i]!r} (must be >= 0)"
    cast = int if whole else float
    pairs = enumerate(zip(raw, arr.tolist(), strict=True))
    values = [None if t is None or i in errors else cast(v) for i, (t, v) in pairs]
    return values, errors


def _column(col: Column, raw: list[str | None]) -> tuple[list[Any], dict[int, str]]:
    """Typed values of one column and, by row, why each bad cell is bad."""
    errors: dict[int, str] = {}
    if col.parse in ("int", "number"):
        values, errors = _numbers(col, raw)
    else:
        memo: dict[str, Any] = {}  # repeated cells (dates, people) parse once
        values = []
        for i, text in enumerate(raw):
            try:
                if text is not None and text not in memo:
                    memo[text] = text if col.parse == "text" else _cell(col, text)
                values.append(None if text is None else memo[text])
            except ValueError as exc:
                errors[i] = str(exc)
                values.append(None)
    for i, value in enumerate(values):
        if value is None and i not in errors:
            if col.required:
                errors[i] = f"{col.name} is empty but required"
            values[i] = col.default
    return values, errors


def _read(path: Path, problems: Problems) -> tuple[list[str], list[list[str]]]:
    """Header, and rows led by the line each starts on (``reader.line_num`` counts
    quoted newlines). A short row is refused, not padded: the file was cut off."""
    header: list[str] = []
    rows: list[list[str]] = []
    end = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            for row in reader:
                start, end = end + 1, reader.line_num
                if not row:
                    continue  # a blank line holds no row
                if not header:
                    header = [name.strip() for name in row]
                elif len(row) != len(header):
                    cut = " (is the file truncated?)" if len(row) < len(header) else ""
                    found = f"expected {len(header)} fields, found {len(row)}"
                    problems.append((start, found + cut))
                else:
                    rows.append([str(start), *row])
    except csv.Error as exc:
        upto = f" (read to line {reader.line_num})" if reader.line_num > end + 1 else ""
        problems.append((end + 1, f"malformed CSV: {exc}{upto}"))
    except UnicodeDecodeError as exc:
        problems.append((end + 1, f"not UTF-8 text: {exc.reason}"))
    if not header and not problems:
        problems.append((0, "the file is empty; a header row is required"))
    elif not rows and not problems:
        problems.append((1, "the file has a header but no data rows"))
    return header, rows


def _names(kind: Kind, cols: list[str], to: dict[str, str], p: Problems) -> list[str]:
    """Canonical name of each file column after ``--map`` (``to``). Strict on
    purpose: an unknown column is most often one meant to load under another name."""
    known = [c.name for c in kind.columns]
    for theirs, ours in to.items():
        if theirs not in cols:
            p.append((1, f"--map {theirs}={ours}: no column {theirs!r} in the file"))
        if ours not in known:
            p.append((1, f"--map {theirs}={ours}: no {kind.name} column {ours!r}"))
    names = [to.get(h, h) for h in cols]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        p.append((1, f"column(s) {', '.join(twice)} appear more than once"))
    unknown = [h for h, n in zip(cols, names, strict=True) if n not in known]
    if unknown:
        hint = "rename them with --map THEIRS=CANONICAL or remove them"
        found = f"unknown column(s) {', '.join(map(repr, unknown))} ({hint})"
        p.append((1, f"{found}; known: {', '.join(known)}"))
    if missing := [c.name for c in kind.columns if c.required and c.name not in names]:
        found = ", ".join(cols)
        p.append((1, f"missing required column(s) {', '.join(missing)}; found {found}"))
    return names


def _rules(kind: Kind, v: Values, lines: list[int], bad: set[int], p: Problems) -> None:
    """Rules across rows: keys are unique (load would refuse too, but without a
    line), and an order, being one basket, tells one story on all its lines."""
    keys: dict[tuple[Any, ...], int] = {}
    orders: dict[str, int] = {}
    same = ("identifier", "channel", "store_id", "ordered_at", "week", "currency")
    for i, line in enumerate(lines):
        key = tuple(v[c][i] for c in kind.row_key)
        if None not in key and (j := keys.setdefault(key, i)) != i:
            pairs = zip(kind.row_key, key, strict=True)
            shown = ", ".join(f"{c} {k!r}" for c, k in pairs)
            p.append((line, f"duplicate row ({shown}): same as line {lines[j]}"))
        if kind.name != "orders" or i in bad:
            continue
        order = v["order_id"][i]
        if v["channel"][i] == "store" and v["store_id"][i] is None:
            p.append((line, f"order {order!r} is in store but has no store_id"))
        j = orders.setdefault(order, i)
        if differs := [c for c in same if v[c][i] != v[c][j]]:
            c, now, then = differs[0], str(v[differs[0]][i]), str(v[differs[0]][j])
            reason = f"order {order!r}: {c} {now!r} disagrees with line {lines[j]}"
            p.append((line, f"{reason} ({then!r}); an order's lines must agree"))


def _derive(kind: Kind, v: Values, file: str) -> None:
    """Values not in the file. A consent's id is a hash of its content so that
    importing the same ledger twice adds nothing."""
    if kind.name == "customers":
        v["source"] = [file] * len(v["customer_ref"])
    if kind.name == "consents":
        v["source"] = [s if s is not None else f"csv:{file}" for s in v["source"]]
        parts = ("subject", "purpose", "status", "recorded_at", "source")
        for i, given in enumerate(v["consent_id"]):
            row = [str(v[c][i]) for c in parts if v[c][i] is not None]
            if given is None and len(row) == len(parts):
                v["consent_id"][i] = hashlib.sha256("|".join(row).encode()).hexdigest()


def _arrow(kind: Kind, v: Values) -> list[tuple[TableSpec, pa.Table]]:
    """One Arrow table per target, typed as declared; an order's first line
    makes its orders row (the rules above made all its lines agree)."""
    firsts = np.flatnonzero(~pd.Series(v.get("order_id", [])).duplicated().to_numpy())
    rename = {"email_sha256": "email", "phone_sha256": "phone"}
    out = []
    for spec in kind.tables:
        schema = spec.schema.to_pyarrow()
        arrays = [pa.array(v[rename.get(f.name, f.name)], f.type) for f in schema]
        table = pa.Table.from_arrays(arrays, schema=schema)
        out.append((spec, table.take(firsts) if spec is model.ORDERS else table))
    return out


_CHOICES = dict(channel=("store", "online"), brand_type=("national", "private"))
_CHOICES |= dict(purpose=PURPOSES, status=("granted", "denied", "revoked"))
_DISCOUNTS = ("retail_discount", "coupon_discount", "coupon_match_discount")
_DEFAULTS = {"currency": "USD"} | dict.fromkeys(_DISCOUNTS, 0.0)


def _kind(name: str, table: str, key: tuple[str, ...], *tables: TableSpec) -> Kind:
    """A Kind from its doc table (a summary, then ``name type[!] doc`` lines, ``!``
    marking required); choices and defaults come from the dicts above."""
    summary, *lines = table.strip().splitlines()
    columns = tuple(
        Column(col, parse.rstrip("!"), doc, parse.endswith("!"), _CHOICES.get(col, ()),
               _DEFAULTS.get(col), col == "quantity" or col in _DISCOUNTS)
        for col, parse, doc in (line.split(None, 2) for line in lines)
    )  # fmt: skip
    return Kind(name, summary, columns, key, tables)


# fmt: off
KINDS: dict[str, Kind] = {k.name: k for k in (
    _kind("orders", """
One row per order line; writes tables orders and order_lines.
order_id               text!        The order (basket); repeat it on each line.
identifier             identifier!  Who ordered, typed: e.g. loyalty:123, user:42.
ordered_at             datetime!    When; an offset is converted to UTC.
channel                choice!      Where it was ordered.
store_id               text         The store; required when channel is store.
product_id             text!        The product bought.
quantity               int!         Units bought, a whole number.
sales_value            number!      What the retailer received for the line.
retail_discount        number       Saved by retail price cuts.
coupon_discount        number       Saved by coupons.
coupon_match_discount  number       Saved by manufacturer coupon matching.
currency               currency     ISO 4217 code of the amounts.
week                   int          The retailer's week number, if it has one.
""", ("order_id", "product_id"), model.ORDERS, model.ORDER_LINES),
    _kind("products", """
One row per product; writes table products.
product_id             text!        The product.
name                   text         Its name.
department             text         Its department.
category               text         Its category.
product_type           text         Its type, finer than category.
brand_type             choice       National brand or private label.
manufacturer_id        text         Who makes it.
package_size           text         Package size as printed, e.g. 16 OZ.
""", ("product_id",), model.PRODUCTS),
    _kind("customers", """
One row per customer; writes table customers, with the file name as source.
customer_ref           identifier!  The customer, typed: e.g. loyalty:123, user:42.
household_ref          identifier   Their household, typed: household:7.
email                  email        Kept only as SHA-256 of trimmed lower case.
phone                  phone        Kept only as SHA-256 of its digits and +.
loyalty_card           text         Loyalty card number.
first_name             text         First name.
last_name              text         Last name.
street                 text         Street address (number and street).
postal_code            text         Postal code.
birth_year             int          Year of birth.
date_of_birth          datetime     Date of birth.
signed_up_at           datetime     When they signed up.
""", ("customer_ref",), model.CUSTOMERS),
    _kind("consents", """
One row per consent event; adds to the ledger table consents.
subject                identifier!  Whose consent, typed: e.g. user:42.
purpose                choice!      What it allows.
status                 choice!      The decision.
recorded_at            datetime!    When it was given or withdrawn.
source                 text         Where it was recorded (default csv:FILE).
evidence               text         Proof, e.g. a form version or message id.
consent_id             text         Event id (default: SHA-256 of the row).
""", ("consent_id",), model.CONSENTS),
)}
# fmt: on
"""The kinds of CSV file ``import_csv`` reads, by name."""


def _columns_doc() -> str:
    out = [f"Dates are {_ISO}. Identifiers are typed ({_EXAMPLES})."]
    for kind in KINDS.values():
        out += ["", f"{kind.name}: {kind.doc}"]
        for c in kind.columns:
            extra = f" One of: {', '.join(c.choices)}." if c.choices else ""
            extra += f" Default {c.default}." if c.default is not None else ""
            extra += " Must be >= 0." if c.nonnegative else ""
            need = "required" if c.required else "optional"
            out.append(f"  {c.name:<22} {need:<9} {c.doc}{extra}")
    return "\n".join(out) + "\n"


COLUMNS_DOC = _columns_doc()
"""Every kind's columns as plain text, for ``--help`` and the docs."""


def _refusal(path: Path, problems: Problems) -> ImportRefused:
    """All findings, earliest line first, each as ``file:line: reason``."""
    shown = sorted(problems, key=lambda p: p[0])[:MAX_PROBLEMS]
    out = [f"{path.name}:{n}: {r}" if n else f"{path.name}: {r}" for n, r in shown]
    if len(problems) > len(shown):
        out.append(f"{path.name}: {len(problems) - len(shown)} more problem(s)")
    return ImportRefused(str(path), out)


def import_csv(
    wh: Warehouse,
    kind: str,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Check every line of a CSV file, then load it all or not at all.

    Every problem is reported at once (``file:line: reason``, in ImportRefused)
    so a file is fixed in one pass. Rows are deterministic: importing the same
    file again changes nothing.

    Args:
        wh: the warehouse to load into.
        kind: orders, products, customers or consents (see COLUMNS_DOC).
        path: the CSV file, UTF-8, header row first.
        mapping: the file's column name -> canonical column name (``--map``).
        progress: called as tables load.
    """
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    spec, path = KINDS[kind], Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    problems: Problems = []
    header, rows = _read(path, problems)
    read_problems = len(problems)  # broken rows: the other rows are still checked
    names = _names(spec, header, mapping or {}, problems) if header else []
    if not header or len(problems) > read_problems:
        raise _refusal(path, problems)
    lines = [int(row[0]) for row in rows]
    position = {name: i + 1 for i, name in enumerate(names)}
    values: Values = {}
    bad: set[int] = set()  # rows with a bad cell, left out of cross-row checks
    for col in spec.columns:
        at = position.get(col.name)
        raw = [None if at is None else (row[at].strip() or None) for row in rows]
        values[col.name], errors = _column(col, raw)
        problems += [(lines[i], reason) for i, reason in errors.items()]
        bad.update(errors)
    _derive(spec, values, path.name)
    _rules(spec, values, lines, bad, problems)
    if problems:
        raise _refusal(path, problems)
    tables = _arrow(spec, values)
    try:
        batches = [
            Batch(t, wh.stage_arrow(f"_tmp_csv_{t.name}", a), f"{path.name} ({t.name})")
            for t, a in tables
        ]
        return load(wh, batches, source=str(path), progress=progress)
    finally:  # temporary, but a long-lived warehouse session should not keep them
        for t, _ in tables:
            wh.drop_temp(f"_tmp_csv_{t.name}")
