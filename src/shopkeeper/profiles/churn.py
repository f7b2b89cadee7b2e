"""Churn risk: who will not come back in the next few weeks.

Two views of the same question, measured side by side on a time split:

- ``1 - P(alive)`` from BG/NBD (:mod:`shopkeeper.profiles.clv`): needs only
  the purchase history and no labels;
- a LightGBM classifier on the profile features (RFM, cadence, basket habits,
  price sensitivity, department index, P(alive) itself) computed as of one
  date, trained to predict "no purchase in the next N weeks" for the period
  after that date, and tested on the next period, whose features are computed
  as of its own start. The test period's outcomes are never seen in training.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopkeeper.errors import InvalidInput
from shopkeeper.profiles.clv import score, summary
from shopkeeper.profiles.features import feature_lines, features
from shopkeeper.profiles.purchases import baskets, default_as_of, purchase_lines
from shopkeeper.warehouse import Warehouse

__all__ = ["ChurnSplit", "churn_frame", "churn_time_split"]

_DROP = ("customer_id", "household_id", "as_of", "churned")
_CATEGORICAL = (
    "preferred_store",
    "preferred_channel",
    "favourite_part_of_day",
    "top_department",
)


def churn_frame(wh: Warehouse, as_of: dt.date, horizon_days: int) -> pd.DataFrame:
    """Features as of ``as_of`` and the label: no order in the next ``horizon_days``.

    Only customers who bought before ``as_of`` are rows (one cannot churn
    before the first purchase).
    """
    lines = purchase_lines(wh, as_of)
    enriched = feature_lines(
        lines, wh.table("orders"), wh.table("order_lines"), wh.table("products")
    )
    frame = wh.execute(features(enriched, as_of))
    alive = score(wh.to_arrow(summary(baskets(lines), as_of).order_by("customer_id")))
    alive_frame = alive.select(["customer_id", "p_alive", "recency_weeks", "age_weeks"])
    frame = frame.merge(alive_frame.to_pandas(), on="customer_id", how="left")
    end = as_of + dt.timedelta(days=horizon_days)
    later = purchase_lines(wh, end)
    later = later.filter(later.ordered_at >= as_of)
    came_back = set(wh.execute(later.select("customer_id").distinct()).customer_id)
    frame["churned"] = (~frame.customer_id.isin(came_back)).astype(int)
    return frame.sort_values("customer_id").reset_index(drop=True)


def _matrix(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    X = frame.drop(columns=[c for c in _DROP if c in frame.columns]).copy()
    for column in _CATEGORICAL:
        if column in X.columns:
            X[column] = pd.Categorical(X[column], categories=categories[column])
    return X


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
    import lightgbm as lgb
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
    categories = {
        c: sorted(set(train[c].dropna()) | set(test[c].dropna()))
        for c in _CATEGORICAL
        if c in train.columns
    }
    model = lgb.LGBMClassifier(
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
