"""The segment language: what it reads, and how it refuses what it cannot."""

from __future__ import annotations

import pytest

from shopkeeper.errors import BadRequest
from shopkeeper.segments.ast import (
    Affinity,
    All,
    Any_,
    Bought,
    Compare,
    Consent,
    Did,
    Not,
    ProfileField,
    PropertyTest,
)
from shopkeeper.segments.language import SegmentSyntaxError, parse


def test_the_issue_examples_parse() -> None:
    node = parse(
        'clv_52w > 300 and affinity.department["PRODUCE"] > 1.3 and consent.email'
    )
    assert node == All(
        (
            Compare(ProfileField("clv_52w"), ">", 300.0),
            Compare(Affinity("PRODUCE"), ">", 1.3),
            Consent("email"),
        )
    )
    did = parse(
        'did "Product Viewed" where category = "Baby" at least 2 times in 14 days'
    )
    assert did == Did(
        "Product Viewed", (PropertyTest("category", "=", "Baby"),), 2, None, 14
    )


def test_precedence_not_and_or_and_parentheses() -> None:
    node = parse('not recency_days > 30 and f_score >= 4 or rfm_segment = "Champions"')
    assert isinstance(node, Any_)
    first = node.parts[0]
    assert isinstance(first, All) and isinstance(first.parts[0], Not)
    grouped = parse("not (recency_days > 30 or f_score >= 4)")
    assert isinstance(grouped, Not) and isinstance(grouped.part, Any_)


def test_lists_keywords_case_and_multiline() -> None:
    node = parse(
        'income_band IN ["50-74K", "75-99K"]\n  AND rfm_segment NOT IN ["Lost"]'
    )
    assert node == All(
        (
            Compare(ProfileField("income_band"), "in", ("50-74K", "75-99K")),
            Compare(ProfileField("rfm_segment"), "not in", ("Lost",)),
        )
    )
    assert parse("frequency == 3") == Compare(ProfileField("frequency"), "=", 3.0)
    assert parse("frequency <> 3") == Compare(ProfileField("frequency"), "!=", 3.0)


def test_a_where_list_ends_at_a_profile_field() -> None:
    node = parse('did "Viewed" where category = "Baby" and price > 10 and clv_52w > 5')
    assert isinstance(node, All)
    did, clv = node.parts
    assert isinstance(did, Did) and [t.name for t in did.where] == ["category", "price"]
    assert clv == Compare(ProfileField("clv_52w"), ">", 5.0)
    quoted = parse('did "Viewed" where "frequency" = 2')
    assert isinstance(quoted, Did) and quoted.where[0].name == "frequency"


def test_bought_conditions_counts_and_windows() -> None:
    node = parse(
        'bought category = "BABY FOODS" and channel = "store" '
        "at least 2 times in 30 days"
    )
    assert node == Bought(
        (
            PropertyTest("category", "=", "BABY FOODS"),
            PropertyTest("channel", "=", "store"),
        ),
        2,
        None,
        30,
    )
    assert parse("bought at most 0 times in 60 days") == Bought((), None, 0, 60)
    assert parse("bought") == Bought((), 1, None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clv52 > 300", "unknown field 'clv52' at 1:1; did you mean clv_52w?"),
        ('clv_52w > "a lot"', "clv_52w is a number, not 'a lot' at 1:11"),
        ("rfm_segment = 5", "rfm_segment is text; quote the value at 1:15"),
        (
            "consent.emial",
            "unknown consent purpose 'emial' at 1:9; did you mean email?",
        ),
        (
            "clv_52w >",
            'expected a value (number, "text", true or false), found the end at 1:10',
        ),
        ("(clv_52w > 3", "expected ')', found the end at 1:13"),
        (
            "clv_52w > 3 clv_52w",
            "expected 'and', 'or' or the end, found 'clv_52w' at 1:13",
        ),
        (
            "frequency > 1 and\n  did Viewed",
            "expected the event name in quotes, found 'Viewed' at 2:7",
        ),
        (
            'bought categroy = "x"',
            "unknown product property 'categroy' at 1:8; did you mean category?",
        ),
        (
            'did "X" at least 1.5 times',
            "a count must be a whole number >= 0, not 1.5 at 1:18",
        ),
        ('did "X" in 0 days', "a window of 0 days holds nothing at 1:12"),
        (
            'affinity.brand["X"] > 1',
            'affinity is by department: affinity.department["PRODUCE"], '
            "found 'brand' at 1:10",
        ),
        ('rfm_segment = "open', "unterminated string at 1:15"),
        ("frequency > 1 & f_score > 2", "unexpected character '&' at 1:15"),
        ("", "empty definition at 1:1"),
        (
            "and",
            "expected a condition (a profile field, consent, affinity, did or "
            "bought), found 'and' at 1:1",
        ),
    ],
)
def test_invalid_definitions_say_where_and_why(text: str, message: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    assert caught.value.message == message
    assert isinstance(caught.value, BadRequest) and caught.value.status == 400


def test_overlong_definitions_are_refused() -> None:
    with pytest.raises(SegmentSyntaxError, match="at most 10,000"):
        parse("frequency > 1 or " * 1000 + "frequency > 1")
