"""E-mail and phone hashing agree between the CSV importer, Python and the engine."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shopkeeper.collect.csvfile import KINDS, Column, _cell
from shopkeeper.identity.normalize import (
    blocked_reason,
    email_identifier,
    hash_email,
    hash_phone,
    phone_identifier,
)
from shopkeeper.warehouse import Warehouse

EMAILS = ["Jane.Doe@Mail.com", "  bob@shop.co.uk ", "ÉLODIE@exemple.fr"]
PHONES = ["+1 (555) 010-9999", "0044 20 7946 0958", "555.010.1234"]


def _column(name: str) -> Column:  # the importer's own declaration
    return next(c for c in KINDS["customers"].columns if c.name == name)


@pytest.mark.parametrize("raw", EMAILS)
def test_email_hash_matches_the_csv_importer(raw: str) -> None:
    assert hash_email(raw) == _cell(_column("email"), raw.strip())


@pytest.mark.parametrize("raw", PHONES)
def test_phone_hash_matches_the_csv_importer(raw: str) -> None:
    assert hash_phone(raw) == _cell(_column("phone"), raw.strip())


def test_engine_hashes_like_python(wh: Warehouse) -> None:
    t = wh.stage_arrow("raw", pa.table({"email": EMAILS, "phone": PHONES}))
    got = wh.to_arrow(
        t.select(e=email_identifier(t.email), p=phone_identifier(t.phone))
    ).to_pydict()
    assert got["e"] == [f"email:{hash_email(e)}" for e in EMAILS]
    assert got["p"] == [f"phone:{hash_phone(p)}" for p in PHONES]


def test_blocked_reasons(wh: Warehouse) -> None:
    values = ["user:NULL", "anon: none ", "anon:00000000-0000-0000-0000-000000000000",
              "user:-1", f"email:{hash_email('test@example.com')}", "user:42",
              "anon:0a1", "loyalty:1000"]  # fmt: skip
    t = wh.stage_arrow("ids", pa.table({"identifier": values}))
    got = wh.to_arrow(t.select(r=blocked_reason(t.identifier))).column("r").to_pylist()
    assert [r is not None for r in got] == [True] * 5 + [False] * 3
