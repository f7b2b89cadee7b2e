"""Collect: the Segment-compatible tracking API with its durable event log and
loader, and the batch importers (The Complete Journey, CSV) into canonical tables."""

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
