"""Trust: what is held about a person, shown to them, and (next) erased.

Every table declares the columns that name the person (``TableSpec.subjects``)
or the parent table it reaches them through (``subject_via``), so export here
and erasure later follow the table registry instead of a hand-kept list.
"""

from __future__ import annotations

from shopkeeper.trust.export import audit, export_customer, export_zip

__all__ = ["audit", "export_customer", "export_zip"]
