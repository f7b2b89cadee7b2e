"""Decide: the real-time choice of what to show, and how we know it was right.

A policy (a bandit per placement) picks among candidates and logs each exposure
with its propensity; off-policy evaluation reads those logs to estimate what
another policy would have earned before it ships.
"""

from __future__ import annotations

from shopkeeper.decide.bandits import Choice, LinUCB, Placements, ThompsonSampling
from shopkeeper.decide.exposure_log import PlacementEvaluation, evaluate_decisions
from shopkeeper.decide.ope import (
    Estimate,
    LoggedBandit,
    dm,
    dr,
    fit_reward_model,
    ips,
    snips,
)

__all__ = [
    "Choice",
    "Estimate",
    "LinUCB",
    "LoggedBandit",
    "PlacementEvaluation",
    "Placements",
    "ThompsonSampling",
    "dm",
    "dr",
    "evaluate_decisions",
    "fit_reward_model",
    "ips",
    "snips",
]
