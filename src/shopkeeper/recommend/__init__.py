"""Recommend: what each customer will buy next, and what completes a basket."""

from __future__ import annotations

from shopkeeper.recommend.als import Als, AlsParams
from shopkeeper.recommend.baselines import GPTopFreq, GTopFreq, PTopFreq
from shopkeeper.recommend.build import STAGE
from shopkeeper.recommend.complements import CoPurchase
from shopkeeper.recommend.evaluate import (
    METHODS,
    Evaluation,
    evaluate,
    evaluate_baskets,
)
from shopkeeper.recommend.history import Baskets, Phase, load_baskets
from shopkeeper.recommend.personal_top import personal_top
from shopkeeper.recommend.ranker import Ranker, RankerParams
from shopkeeper.recommend.tifuknn import TifuKnn, TifuParams

__all__ = [
    "METHODS",
    "STAGE",
    "Als",
    "AlsParams",
    "Baskets",
    "CoPurchase",
    "Evaluation",
    "GPTopFreq",
    "GTopFreq",
    "PTopFreq",
    "Phase",
    "Ranker",
    "RankerParams",
    "TifuKnn",
    "TifuParams",
    "evaluate",
    "evaluate_baskets",
    "load_baskets",
    "personal_top",
]
