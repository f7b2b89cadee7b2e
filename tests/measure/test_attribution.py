"""Attribution models on hand-made paths whose credit was worked out by hand.

The paths (hand-made, not data):

    A, B -> conversion (value 10; touches 48 h and 24 h before)
    A    -> no conversion
    B    -> conversion (value 20; touch 24 h before)
    B    -> no conversion

Markov chain: start->A 2, start->B 2; A->B 1, A->null 1; B->conv 2, B->null 1.
P(conv) = 1/2 * 1/2 * 2/3 + 1/2 * 2/3 = 1/2. Without A: 1/2 * 2/3 = 1/3, removal
effect 1/3; without B: 0, removal effect 1. Shares 1/4 and 3/4 of 2 conversions.

Shapley: conversion rates by channel set r(AB) = 1, r(A) = 0, r(B) = 1/2, so
v(A) = 0, v(B) = 1/2, v(AB) = 3/2; phi_A = (0 + 1)/2 = 1/2, phi_B = (1/2 + 3/2)/2
= 1; shares 1/3 and 2/3 of 2 conversions.
"""

from __future__ import annotations

import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.measure.attribution import (
    MODELS,
    Path,
    attribute,
    markov_removal_effects,
    shapley_values,
)

PATHS = [
    Path(("A", "B"), True, 10.0, (48.0, 24.0)),
    Path(("A",), False, 0.0, (5.0,)),
    Path(("B",), True, 20.0, (24.0,)),
    Path(("B",), False, 0.0, (1.0,)),
]


def approx(d: dict[str, float]) -> object:
    return pytest.approx(d)


def test_position_rules() -> None:
    assert attribute(PATHS, "last_touch").conversions == {"B": 2.0}
    assert attribute(PATHS, "last_touch").revenue == {"B": 30.0}
    assert attribute(PATHS, "first_touch").conversions == {"A": 1.0, "B": 1.0}
    assert attribute(PATHS, "first_touch").revenue == {"A": 10.0, "B": 20.0}
    linear = attribute(PATHS, "linear")
    assert linear.conversions == approx({"A": 0.5, "B": 1.5})
    assert linear.revenue == approx({"A": 5.0, "B": 25.0})


def test_time_decay_halves_credit_per_half_life() -> None:
    # Path 1: weights 2^-2 and 2^-1 -> A 1/3, B 2/3; path 3 all to B.
    decay = attribute(PATHS, "time_decay", half_life_hours=24.0)
    assert decay.conversions == approx({"A": 1 / 3, "B": 5 / 3})
    assert decay.revenue == approx({"A": 10 / 3, "B": 20 + 20 / 3})


def test_markov_removal_effects_by_hand() -> None:
    assert markov_removal_effects(PATHS) == approx({"A": 1 / 3, "B": 1.0})
    markov = attribute(PATHS, "markov")
    assert markov.conversions == approx({"A": 0.5, "B": 1.5})
    assert markov.revenue == approx({"A": 7.5, "B": 22.5})


def test_shapley_by_hand() -> None:
    assert shapley_values(PATHS) == approx({"A": 0.5, "B": 1.0})
    assert attribute(PATHS, "shapley").conversions == approx({"A": 2 / 3, "B": 4 / 3})


def test_three_channel_shapley_is_exact_and_efficient() -> None:
    paths = [
        Path(("A", "B", "C"), True),
        Path(("A", "C"), True),
        Path(("A", "C"), False),
        Path(("C",), True),
        Path(("B",), False),
    ]
    # Rates: ABC 1, AC 1/2, C 1, B 0. v is a sum of unanimity games, so each
    # rate splits equally inside its set: A = 1/3 + 1/4, B = 1/3,
    # C = 1/3 + 1/4 + 1.
    values = shapley_values(paths)
    assert values == approx({"A": 7 / 12, "B": 1 / 3, "C": 19 / 12})
    assert sum(values.values()) == pytest.approx(1 + 0.5 + 1)  # v(ABC)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_credits_exactly_the_conversions(model: str) -> None:
    result = attribute(PATHS, model)
    assert sum(result.conversions.values()) == pytest.approx(2.0)
    assert sum(result.revenue.values()) == pytest.approx(30.0)


def test_a_single_channel_gets_everything() -> None:
    paths = [Path(("email",), True, 5.0, (1.0,)), Path(("email",), False, 0.0, (1.0,))]
    for model in MODELS:
        assert attribute(paths, model).conversions == approx({"email": 1.0})


def test_refusals() -> None:
    with pytest.raises(InvalidInput, match="unknown attribution model"):
        attribute(PATHS, "u_shaped")
    with pytest.raises(InvalidInput, match="half-life"):
        attribute(PATHS, "time_decay", half_life_hours=0)
    with pytest.raises(InvalidInput, match="at least one touch"):
        Path((), True)
    many = [Path((f"c{i}",), True) for i in range(13)]
    with pytest.raises(InvalidInput, match="Shapley"):
        shapley_values(many)
