"""Store-staff lists on the real slice, checked against counts made in pandas."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from shopkeeper.activate import staff_list, write_staff_list
from shopkeeper.errors import InvalidInput, NotFound
from shopkeeper.warehouse import Warehouse
from tests.activate.conftest import DAY, WEEKS, Activated


def test_lists_expected_regulars_who_granted_personalization(
    activated: Activated, activated_wh: Warehouse
) -> None:
    wh = activated_wh
    shoppers = staff_list(wh, activated.store, DAY, weeks=WEEKS, min_rate=1 / WEEKS)

    idmap = wh.execute(wh.table("identity_map"))
    household = dict(zip(idmap.customer_id, idmap.identifier, strict=True))
    listed = {household[s.customer_id]: s.visits for s in shoppers}
    # Every regular but the one who denied personalization, with the visits
    # counted independently from the raw orders.
    ordered = sorted(activated.regulars, key=lambda h: (-activated.regulars[h], h))
    assert listed == {h: activated.regulars[h] for h in ordered[:-1]}
    assert [s.visits for s in shoppers] == sorted(listed.values(), reverse=True)

    departments = wh.execute(wh.table("profiles_departments"))
    for shopper in shoppers:
        assert shopper.store_id == activated.store and shopper.date == DAY
        assert shopper.expected_rate == round(shopper.visits / WEEKS, 3)
        theirs = departments[departments.customer_id == shopper.customer_id]
        assert shopper.departments == list(theirs.sort_values("rank").department)[:3]
        assert 0 < len(shopper.recommendations) <= 3
        assert all(r["product"] for r in shopper.recommendations)
        first = shopper.recommendations[0]
        assert first["product"].lower() in shopper.conversation_starter
        assert first["department"].title() in shopper.conversation_starter


def test_a_stricter_rate_keeps_only_the_most_regular(
    activated: Activated, activated_wh: Warehouse
) -> None:
    every = staff_list(activated_wh, activated.store, DAY, min_rate=1 / WEEKS)
    most = max(s.visits for s in every)
    strict = staff_list(activated_wh, activated.store, DAY, min_rate=most / WEEKS)
    assert strict and all(s.visits == most for s in strict)
    assert staff_list(
        activated_wh, activated.store, DAY, min_rate=1 / WEEKS, limit=1
    ) == [every[0]]


def test_nobody_is_listed_without_explicit_consent(
    activated: Activated, built: Warehouse
) -> None:
    # The same regulars in the slice with no consent ledger at all.
    assert staff_list(built, activated.store, DAY, min_rate=1 / WEEKS) == []


def test_bad_requests_are_refused(activated_wh: Warehouse) -> None:
    with pytest.raises(NotFound, match="no store 'nowhere'"):
        staff_list(activated_wh, "nowhere", DAY)
    with pytest.raises(InvalidInput, match="min_rate"):
        staff_list(activated_wh, "nowhere", DAY, min_rate=0)


def test_lists_are_written_as_json_and_csv(
    activated: Activated, activated_wh: Warehouse, tmp_path: Path
) -> None:
    shoppers = staff_list(activated_wh, activated.store, DAY, min_rate=1 / WEEKS)
    as_json = json.loads(write_staff_list(shoppers, tmp_path / "s.json").read_text())
    assert [r["customer_id"] for r in as_json] == [s.customer_id for s in shoppers]
    assert as_json[0]["date"] == "2018-01-02"
    with open(write_staff_list(shoppers, tmp_path / "s.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["departments"] == "; ".join(shoppers[0].departments)
    with pytest.raises(InvalidInput, match=r"\.json or \.csv"):
        write_staff_list(shoppers, tmp_path / "s.txt")
