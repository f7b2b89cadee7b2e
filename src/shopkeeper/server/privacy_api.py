"""``GET /v1/privacy/export/{identifier}``: everything held about a person, as a zip.

Admin token only for now; the signed preference-center link (issue: Trust)
will open the same export to the person themself.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shopkeeper.collect.consent_events import STATUSES
from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.decide.feedback import apply_consent
from shopkeeper.errors import NotFound
from shopkeeper.profiles.customer360 import (
    Customer,
    candidates,
    current_consents,
    resolve,
)
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.trust.consents import record_consent
from shopkeeper.trust.export import export_customer, export_zip
from shopkeeper.trust.requests import REQUEST_TYPES, PrivacyRequests

__all__ = ["ConsentChange", "RequestBody", "privacy_router"]


class ConsentChange(BaseModel):
    """A person's decision for one purpose, as a preference screen sends it."""

    model_config = ConfigDict(extra="forbid")

    purpose: Literal[PURPOSES]  # type: ignore[valid-type]
    status: Literal[STATUSES]  # type: ignore[valid-type]
    evidence: str | None = Field(
        None, max_length=500, description="e.g. the form version or a screenshot id"
    )


class RequestBody(BaseModel):
    """A privacy request, as Segment's regulations API takes one."""

    model_config = ConfigDict(extra="forbid")

    type: Literal[REQUEST_TYPES]  # type: ignore[valid-type]
    identifier: str = Field(
        min_length=1,
        max_length=500,
        description="Any identifier of the customer: household:7, user:42, an e-mail",
    )


def _consents(wh: Any, identifier: str) -> dict[str, Any]:
    """Current consents of the customer; an identifier not (yet) in the
    identity map, such as a cookie that only ever consented, answers for itself."""
    try:
        who = resolve(wh, identifier)
    except NotFound:
        who = Customer(identifier, None, candidates(identifier))
        if not current_consents(wh, who):
            raise
    return {"customer_id": who.customer_id, "consents": current_consents(wh, who)}


def privacy_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["privacy"], responses=responses)

    @router.get(
        "/privacy/export/{identifier}",
        summary="Download everything held about a customer (zip of JSON and CSV)",
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}}},
    )
    def export(identifier: str, request: Request) -> Response:
        """Every row of every table about the customer, with the reasons stored
        for their recommendations and decisions."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            data = export_zip(export_customer(wh, identifier))
        filename = f"shopkeeper-export-{identifier.replace(':', '-')}.zip"
        safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in filename)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{safe}"'},
        )

    @router.get("/consents/{identifier}", summary="A customer's current consents")
    def consents(identifier: str, request: Request) -> dict[str, Any]:
        """Latest status per purpose, from the consent ledger (imports, the API
        and ``Consent Updated`` events)."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            return _consents(wh, identifier)

    @router.put("/consents/{identifier}", summary="Record a consent decision")
    def put_consent(
        identifier: str, change: ConsentChange, request: Request
    ) -> dict[str, Any]:
        """Append the decision to the ledger (source ``api``) and answer the
        customer's current consents."""
        require_admin(request)
        subject = candidates(identifier)[0]
        settings = request.app.state.settings
        with read_warehouse(settings, read_only=False) as wh:
            record_consent(
                wh,
                subject,
                change.purpose,
                change.status,
                source="api",
                evidence=change.evidence,
            )
        # The next decision sees it at once, without waiting for a rebuild.
        apply_consent(
            request.app.state.online_store, subject, change.purpose, change.status
        )
        with read_warehouse(settings) as wh:
            return _consents(wh, identifier)

    @router.post(
        "/privacy/requests",
        summary="Ask for a customer to be deleted or suppressed (an async job)",
        status_code=202,
    )
    def submit_request(change: RequestBody, request: Request) -> dict[str, Any]:
        """Accept a delete / suppress / suppress_and_delete request and answer its
        id at once; the work runs in the background (poll the GET below)."""
        require_admin(request)
        requests: PrivacyRequests = request.app.state.privacy_requests
        return requests.submit(
            change.type, change.identifier, requested_by="admin"
        ).as_dict()

    @router.get("/privacy/requests/{request_id}", summary="A privacy request's status")
    def get_request(request_id: str, request: Request) -> dict[str, Any]:
        """pending, done (with rows removed per table) or failed (with why)."""
        require_admin(request)
        requests: PrivacyRequests = request.app.state.privacy_requests
        return requests.get(request_id).as_dict()

    return router
