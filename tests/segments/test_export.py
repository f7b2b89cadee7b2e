"""Audiences out: nobody without the needed consent is ever written."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shopkeeper.collect.personal import hash_email, hash_phone
from shopkeeper.errors import BadRequest, NotFound
from shopkeeper.segments import create_segment, export_audience, export_members
from shopkeeper.segments.build import STAGE
from shopkeeper.settings import Settings
from shopkeeper.warehouse import Warehouse, run_build

from .conftest import PEOPLE, customer_of

# Every contact in the slice, whatever they consented to.
CONTACTS = "bought at least 1 times or frequency >= 0"


def _build(wh: Warehouse, definition: str = CONTACTS) -> None:
    create_segment(wh, "everyone", definition)
    run_build(wh, [STAGE], settings=Settings())


def test_audience_holds_only_members_with_ads_consent(
    writable: Warehouse, tmp_path: Path
) -> None:
    _build(writable)
    out = tmp_path / "audience.csv"
    result = export_audience(writable, "everyone", out)
    lines = out.read_text().splitlines()
    # ann granted ads; bob denied; cat granted then revoked; dan granted.
    assert lines == [
        "Email",
        *sorted([hash_email(PEOPLE[p]["email"]) for p in ("ann", "dan")]),
    ]
    assert hash_email("ann.shopper@example.com") in lines  # normalised before hashing
    assert result.rows == 2
    assert result.members == writable.count("profiles_rfm")
    assert result.without_consent == result.members - 2
    phones = tmp_path / "phones.csv"
    export_audience(writable, "everyone", phones, identifier="phone", platform="tiktok")
    assert phones.read_text().splitlines() == [
        "Phone_SHA256",
        *sorted(hash_phone(PEOPLE[p]["phone"]) for p in ("ann", "dan")),
    ]


def test_meta_refuses_phone_hashes_it_cannot_match(
    writable: Warehouse, tmp_path: Path
) -> None:
    _build(writable)
    with pytest.raises(BadRequest, match="without the '\\+'"):
        export_audience(
            writable,
            "everyone",
            tmp_path / "x.csv",
            identifier="phone",
            platform="meta",
        )
    export_audience(writable, "everyone", tmp_path / "m.csv", platform="meta")
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == "email"


def test_member_files_require_the_purpose(writable: Warehouse, tmp_path: Path) -> None:
    _build(writable)
    ann, bob = customer_of(writable, "user:ann"), customer_of(writable, "user:bob")
    out = tmp_path / "members.csv"
    result = export_members(
        writable, "everyone", out, fields=["customer_id", "household_id", "clv_52w"]
    )
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert {r["customer_id"] for r in rows} == {ann, bob}  # personalization granted
    assert all(float(r["clv_52w"]) > 0 and r["household_id"] for r in rows)
    assert result.without_consent == result.members - 2
    emailable = tmp_path / "email.parquet"
    export_members(writable, "everyone", emailable, format="parquet", purpose="email")
    assert pq.read_table(emailable).column("customer_id").to_pylist() == [ann]
    none = tmp_path / "none.csv"
    export_members(writable, "everyone", none, purpose="sms")
    assert none.read_text().splitlines() == ["customer_id"]


def test_export_after_a_consent_is_withdrawn(
    writable: Warehouse, tmp_path: Path
) -> None:
    """Consent is read when the file is written, not when the segment was built."""
    from shopkeeper.trust.consents import record_consent

    _build(writable)
    record_consent(writable, "user:dan", "ads", "revoked", source="test")
    export_audience(writable, "everyone", tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_text().splitlines()[1:] == [
        hash_email(PEOPLE["ann"]["email"])
    ]


def test_export_refuses_what_it_cannot_do(writable: Warehouse, tmp_path: Path) -> None:
    create_segment(writable, "unbuilt", "frequency > 3")
    # The registry creates segments_members empty, so "never built" reads as
    # "no membership rows" for this version.
    with pytest.raises(NotFound, match="not been built|version 1 has no membership"):
        export_audience(writable, "unbuilt", tmp_path / "a.csv")
    _build(writable)
    create_segment(writable, "everyone", "frequency > 100")  # a new version
    with pytest.raises(NotFound, match="version 2 has no membership rows"):
        export_members(writable, "everyone", tmp_path / "a.csv")
    with pytest.raises(NotFound, match="no segment named 'nobody'"):
        export_members(writable, "nobody", tmp_path / "a.csv")
    run_build(writable, [STAGE], settings=Settings())
    with pytest.raises(BadRequest, match="unknown export field"):
        export_members(writable, "everyone", tmp_path / "a.csv", fields=["email"])
    with pytest.raises(BadRequest, match="unknown consent purpose"):
        export_members(writable, "everyone", tmp_path / "a.csv", purpose="mail")
