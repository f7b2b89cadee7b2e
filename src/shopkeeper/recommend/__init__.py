"""Recommend: what each customer will buy next."""

from __future__ import annotations

from shopkeeper.recommend.build import STAGE
from shopkeeper.recommend.personal_top import personal_top

__all__ = ["STAGE", "personal_top"]
