"""Where another arm comes closest to the best one: known answers and Hillstrom."""

from __future__ import annotations

import numpy as np
import pytest

from shopkeeper.errors import InvalidInput
from shopkeeper.offers.hillstrom import (
    ARMS,
    Experiment,
    hillstrom_experiment,
    load_hillstrom,
)
from shopkeeper.offers.hillstrom_headroom import segment_gaps


def _known_experiment() -> Experiment:
    """Generated on purpose: outcomes that make every gap computable by hand.

    Arm 1 earns 1.0 from everyone, arm 2 earns 1.5 where f = 0 and nothing
    where f = 1, the control 0.5. Each arm's rows alternate f, and c splits
    each f level evenly, so arm 2 averages 0.75 in every c segment.
    """
    i = np.arange(240)
    arm = i % 3
    f = (i // 3) % 2
    c = (i // 6) % 2
    rare = (i < 12).astype(np.float64)
    y = np.where(arm == 1, 1.0, np.where(arm == 2, np.where(f == 0, 1.5, 0.0), 0.5))
    return Experiment(
        X=np.column_stack([f, c, rare, i / 7.0]).astype(np.float64),
        feature_names=("f", "c=a", "rare", "x"),
        treatment=arm.astype(np.int64),
        outcomes={"spend": y},
        arms=ARMS,
        row=i.astype(np.int64),
    )


def test_segment_gaps_known_answers() -> None:
    gaps = segment_gaps(_known_experiment(), "spend", min_share=0.1)
    # The continuous column is skipped; "rare = 1" holds 5 % of the rows.
    assert [g.segment for g in gaps] == ["f = 0", "c=a", "c!=a", "rare = 0", "f = 1"]
    first, last = gaps[0], gaps[-1]
    assert first.best == "Mens E-Mail" and first.rival == "Womens E-Mail"
    assert first.share == 0.5
    for part in (first.train, first.test, first.all):
        assert part.value == pytest.approx(0.5) and part.stderr == 0.0
    assert first.gain == pytest.approx(0.25)
    assert last.rival == "No E-Mail" and last.all.value == pytest.approx(-0.5)
    for g in gaps[1:4]:
        assert g.rival == "Womens E-Mail"
        assert g.all.value == pytest.approx(-0.25)
    assert gaps[3].share == pytest.approx(0.95)
    assert gaps[0].as_dict()["gain_per_customer"] == pytest.approx(0.25)


def test_segment_gaps_rejects_a_bad_share() -> None:
    with pytest.raises(InvalidInput, match="min_share"):
        segment_gaps(_known_experiment(), "spend", min_share=1.0)


def test_hillstrom_spend_is_closest_among_customers_without_mens_purchases() -> None:
    """The one segment where a targeted spend policy could gain, on real data."""
    gaps = segment_gaps(hillstrom_experiment(), "spend")
    closest = gaps[0]
    assert closest.segment == "mens = 0"
    assert (closest.best, closest.rival) == ("Mens E-Mail", "Womens E-Mail")
    frame = load_hillstrom()
    seg = frame[frame["mens"] == 0]
    means = seg.groupby("segment", observed=True)["spend"].mean()
    assert closest.all.value == pytest.approx(
        means["Womens E-Mail"] - means["Mens E-Mail"]
    )
    assert closest.share == pytest.approx(len(seg) / len(frame))
    # Within noise over all 64,000 rows, and the halves of the headline split
    # mirror each other around that: the training half says Mens, the test
    # half Womens.
    assert abs(closest.all.value) < closest.all.stderr
    assert closest.train.value < 0 < closest.test.value
    assert closest.train.value + closest.test.value == pytest.approx(
        2 * closest.all.value, abs=0.01
    )
