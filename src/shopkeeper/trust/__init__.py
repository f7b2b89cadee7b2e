"""Trust: what is held about a person, shown to them, erased; partner aggregates.

Every table declares the columns that name the person (``TableSpec.subjects``)
or the parent table it reaches them through (``subject_via``), so export here
and erasure later follow the table registry instead of a hand-kept list.
"""

from __future__ import annotations

from shopkeeper.trust.cleanroom import Answer, CleanRoom
from shopkeeper.trust.cleanroom_query import CleanroomQuery
from shopkeeper.trust.cleanroom_registry import Partner, PartnerRegistry
from shopkeeper.trust.cleanroom_views import VIEWS as CLEANROOM_VIEWS
from shopkeeper.trust.erasure import erase_customer
from shopkeeper.trust.export import audit, export_customer, export_zip
from shopkeeper.trust.requests import REQUEST_TYPES, PrivacyRequests

__all__ = [
    "CLEANROOM_VIEWS",
    "REQUEST_TYPES",
    "Answer",
    "CleanRoom",
    "CleanroomQuery",
    "Partner",
    "PartnerRegistry",
    "PrivacyRequests",
    "audit",
    "erase_customer",
    "export_customer",
    "export_zip",
]
