"""Churn risk: who will not come back in the next few weeks.

Two views of the same question, measured side by side on a time split:

- ``1 - P(alive)`` from BG/NBD (:mod:`shopkeeper.profiles.clv`): needs only
  the purchase history and no labels;
- a LightGBM classifier on the profile features (RFM, cadence, basket habits,
  price sensitivity, department index, P(alive) itself) computed as of one
  date, trained to predict "no purchase in the next N weeks" for the period
  after that date, and tested on the next period, whose features are computed
  as of its own start. The test period's outcomes are never seen in training.

The profile's own ``churn_risk`` (table ``profiles_churn``) is the same
classifier trained on the last period whose outcome is known at the as-of
date and applied to the features as of that date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from shopkeeper.errors import InvalidInput
from shopkeeper.profiles.clv import score, summary
from shopkeeper.profiles.features import feature_lines, features
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.warehouse import Warehouse

if TYPE_CHECKING:
    from lightgbm import LGBMClassifier

__all__ = [
    "HORIZON_WEEKS",
    "MODEL",
    "ChurnSplit",
    "churn_frame",
    "churn_risk",
    "churn_time_split",
    "profile_frame",
]

HORIZON_WEEKS = 8
"""Weeks without a purchase that count as churn in the profile's risk."""

MODEL = "lightgbm"
"""The name the profile records for the classifier behind ``churn_risk``."""

_RISK_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("as_of", pa.date32()),
        ("churn_risk", pa.float64()),
        ("horizon_weeks", pa.int32()),
        ("model", pa.string()),
        ("trained_as_of", pa.date32()),
    ]
)

_DROP = ("customer_id", "household_id", "as_of", "churned")
_CATEGORICAL = (
    "preferred_store",
    "preferred_channel",
    "favourite_part_of_day",
    "top_department",
)


def _feature_frame(wh: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """Profile features and the BG/NBD recency figures of every customer who
    bought before ``as_of``, as of that date."""
    lines = purchase_lines(wh, as_of)
    enriched = feature_lines(
        lines, wh.table("orders"), wh.table("order_lines"), wh.table("products")
    )
    frame = wh.execute(features(enriched, as_of))
    alive = score(wh.to_arrow(summary(baskets(lines), as_of).order_by("customer_id")))
    alive_frame = alive.select(["customer_id", "p_alive", "recency_weeks", "age_weeks"])
    frame = frame.merge(alive_frame.to_pandas(), on="customer_id", how="left")
    return frame.sort_values("customer_id").reset_index(drop=True)


def churn_frame(wh: Warehouse, as_of: dt.date, horizon_days: int) -> pd.DataFrame:
    """Features as of ``as_of`` and the label: no order in the next ``horizon_days``.

    Only customers who bought before ``as_of`` are rows (one cannot churn
    before the first purchase).
    """
    frame = _feature_frame(wh, as_of)
    end = as_of + dt.timedelta(days=horizon_days)
    later = purchase_lines(wh, end)
    later = later.filter(later.ordered_at >= as_of)
    came_back = set(wh.execute(later.select("customer_id").distinct()).customer_id)
    frame["churned"] = (~frame.customer_id.isin(came_back)).astype(int)
    return frame


def _matrix(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    X = frame.drop(columns=[c for c in _DROP if c in frame.columns]).copy()
    for column in _CATEGORICAL:
        if column in X.columns:
            X[column] = pd.Categorical(X[column], categories=categories[column])
    return X


def _categories(*frames: pd.DataFrame) -> dict[str, list[str]]:
    # One category list for training and scoring, so codes mean the same.
    return {
        c: sorted(set().union(*(set(f[c].dropna()) for f in frames)))
        for c in _CATEGORICAL
        if c in frames[0].columns
    }


def _classifier(seed: int) -> LGBMClassifier:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=200,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=30,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        deterministic=True,
        n_jobs=1,
        verbose=-1,
    )


@dataclass(frozen=True)
class ChurnSplit:
    train_as_of: dt.date
    test_as_of: dt.date
    horizon_weeks: int
    train_customers: int
    test_customers: int
    test_churn_rate: float
    auc_lightgbm: float
    auc_p_alive: float
    auc_recency: float


def churn_time_split(
    wh: Warehouse, *, horizon_weeks: int = 8, seed: int = 0
) -> tuple[ChurnSplit, pd.DataFrame]:
    """Train on the period before the last one, test on the last one.

    The last ``horizon_weeks`` before the data's end are the test outcomes;
    the ``horizon_weeks`` before those are the training outcomes. Returns the
    figures and the test customers with their predicted risk.
    """
    from sklearn.metrics import roc_auc_score

    end = default_as_of(wh)
    horizon = dt.timedelta(weeks=horizon_weeks)
    test_as_of = end - horizon
    train_as_of = test_as_of - horizon
    train = churn_frame(wh, train_as_of, horizon.days)
    test = churn_frame(wh, test_as_of, horizon.days)
    if train.churned.nunique() < 2 or test.churned.nunique() < 2:
        raise InvalidInput(
            "churn needs both churners and stayers in each period; "
            "use a longer history or another horizon"
        )
    categories = _categories(train, test)
    model = _classifier(seed)
    model.fit(_matrix(train, categories), train.churned)
    risk = model.predict_proba(_matrix(test, categories))[:, 1]
    y = test.churned.to_numpy()
    p_alive = test.p_alive.fillna(test.p_alive.median()).to_numpy()
    recency = (test.age_weeks - test.recency_weeks).fillna(0).to_numpy()
    split = ChurnSplit(
        train_as_of=train_as_of,
        test_as_of=test_as_of,
        horizon_weeks=horizon_weeks,
        train_customers=len(train),
        test_customers=len(test),
        test_churn_rate=round(float(y.mean()), 4),
        auc_lightgbm=round(float(roc_auc_score(y, risk)), 4),
        auc_p_alive=round(float(roc_auc_score(y, 1 - p_alive)), 4),
        auc_recency=round(float(roc_auc_score(y, recency)), 4),
    )
    scored = test[["customer_id", "churned"]].assign(
        churn_risk=np.round(risk, 4), p_alive=np.round(p_alive, 4)
    )
    return split, scored


def profile_frame(wh: Warehouse) -> pd.DataFrame:
    """The scoring frame read back from the written ``profiles_features`` and
    ``profiles_clv``: the same columns as the training frame without the label,
    so the build does not compute the features as of its date twice."""
    feats = wh.table("profiles_features")
    clv = wh.table("profiles_clv").select(
        "customer_id", "p_alive", "recency_weeks", "age_weeks"
    )
    frame = wh.execute(feats.left_join(clv, "customer_id").drop("customer_id_right"))
    return frame.sort_values("customer_id").reset_index(drop=True)


def churn_risk(
    wh: Warehouse,
    as_of: dt.date,
    *,
    horizon_weeks: int = HORIZON_WEEKS,
    seed: int = 0,
    now: pd.DataFrame | None = None,
) -> pa.Table:
    """Each customer's probability of no purchase in the ``horizon_weeks`` after
    ``as_of``, from the classifier of :func:`churn_time_split`.

    The model learns from the one period whose outcome is already known at
    ``as_of``: features as of ``as_of - horizon``, labelled by the purchases
    in the horizon that ends at ``as_of``. It then scores features as of
    ``as_of`` (``now``, when the caller already has them, e.g.
    :func:`profile_frame` in the build). Nothing on or after ``as_of`` is
    read. Raises InvalidInput when that period has no churners or no stayers
    (too short a history).
    """
    horizon = dt.timedelta(weeks=horizon_weeks)
    trained_as_of = as_of - horizon
    train = churn_frame(wh, trained_as_of, horizon.days)
    if train.empty or train.churned.nunique() < 2:
        raise InvalidInput(
            f"churn risk needs both churners and stayers in the {horizon_weeks} "
            f"weeks before {as_of}; the history is too short to train on"
        )
    if now is None:
        now = _feature_frame(wh, as_of)
    # The same columns in the same order as in training, however they were read.
    now = now.reindex(columns=[c for c in train.columns if c != "churned"])
    categories = _categories(train, now)
    model = _classifier(seed)
    model.fit(_matrix(train, categories), train.churned)
    risk = model.predict_proba(_matrix(now, categories))[:, 1] if len(now) else []
    n = len(now)
    return pa.table(
        {
            "customer_id": now.customer_id.astype(str).tolist(),
            "as_of": [as_of] * n,
            "churn_risk": np.round(np.asarray(risk, dtype=float), 4),
            "horizon_weeks": [horizon_weeks] * n,
            "model": [MODEL] * n,
            "trained_as_of": [trained_as_of] * n,
        },
        schema=_RISK_SCHEMA,
    )
