"""Collect: batch importers (and, later, the tracking API) into canonical tables."""

from __future__ import annotations

from shopkeeper.collect.completejourney import import_completejourney
from shopkeeper.collect.csvfile import import_csv
from shopkeeper.collect.loader import Batch, LoadReport, check_batch, load

__all__ = [
    "Batch",
    "LoadReport",
    "check_batch",
    "import_completejourney",
    "import_csv",
    "load",
]
