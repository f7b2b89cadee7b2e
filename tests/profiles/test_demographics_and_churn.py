"""Demographics joined to customers, churn risk in the profile, and the
customer 360 view showing the new profile parts, on real households."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from shopkeeper.profiles import default_as_of
from shopkeeper.profiles.churn import HORIZON_WEEKS
from shopkeeper.profiles.customer360 import customer_view
from shopkeeper.profiles.demographics import BANDS
from shopkeeper.warehouse import Warehouse

from ..conftest import busiest_households


def test_demographics_are_the_households_bands_by_customer(built: Warehouse) -> None:
    people = built.execute(built.table("identity_map"))
    households = built.execute(built.table("households"))
    expected = (
        people.merge(households, on="household_id")
        .sort_values(["customer_id", "household_id"])
        .drop_duplicates("customer_id")
        .set_index("customer_id")
    )
    got = built.execute(built.table("profiles_demographics")).set_index("customer_id")
    assert 0 < len(got) < people.customer_id.nunique()  # only where known
    assert sorted(got.index) == sorted(expected.index)
    got = got.reindex(expected.index)
    assert (got.household_id == expected.household_id).all()
    for band in BANDS:
        assert got[band].equals(expected[band]), band


def test_churn_risk_scores_every_customer_and_ranks_the_lapsed_higher(
    built: Warehouse,
) -> None:
    as_of = default_as_of(built)
    risk = built.execute(built.table("profiles_churn")).set_index("customer_id")
    rfm = built.execute(built.table("profiles_rfm")).set_index("customer_id")
    assert set(risk.index) == set(rfm.index)
    assert risk.churn_risk.between(0, 1).all()
    assert (risk.model == "lightgbm").all()
    assert (risk.horizon_weeks == HORIZON_WEEKS).all()
    trained = as_of - dt.timedelta(weeks=HORIZON_WEEKS)
    assert (risk.trained_as_of == pd.Timestamp(trained)).all()
    recency = rfm.recency_days.reindex(risk.index)
    lapsed = risk.churn_risk[recency > 7 * HORIZON_WEEKS]
    regular = risk.churn_risk[recency <= 7]
    assert len(lapsed) and len(regular)
    assert lapsed.mean() > 2 * regular.mean()


def test_customer_view_shows_the_new_profile_parts(built: Warehouse) -> None:
    household = busiest_households(built)[0]
    view = customer_view(built, household)
    assert set(view["affinities"]) == {"department", "category", "brand"}
    rows = built.execute(built.table("profiles_affinities"))
    mine = rows[rows.customer_id == view["customer_id"]]
    for kind, top in view["affinities"].items():
        best = mine[mine.kind == kind]["index"].nlargest(len(top))
        assert [a["index"] for a in top] == list(best)
        assert len(top) == min(5, (mine.kind == kind).sum())
    assert view["promotion_response"]["featured_index"] is not None
    assert view["churn"]["churn_risk"] is not None
    stage = view["life_stage"]
    assert 0 < stage["shift"] < 1 and 1 <= len(stage["rising"]) <= 3
    assert stage["rising"][0]["change"] >= stage["rising"][-1]["change"]
    people = built.execute(built.table("profiles_demographics"))
    known = view["customer_id"] in set(people.customer_id)
    assert (view["demographics"] is not None) == known
