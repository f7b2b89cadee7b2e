"""The preference center: a page per customer, reached by a signed link.

``POST /v1/privacy/links`` (admin) issues the link; the page shows what is
held in plain words and the consents, and its forms record new consent
decisions (source ``preference_center``), download the export, or file a
deletion request. The link is the only credential; each form also carries a
check token derived from it, so another site cannot post a form for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from shopkeeper.collect.consent_events import STATUSES
from shopkeeper.collect.csvfile import PURPOSES
from shopkeeper.decide.feedback import apply_consent
from shopkeeper.errors import BadRequest, Unauthorized
from shopkeeper.profiles.customer360 import resolve
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.trust.consents import record_consent
from shopkeeper.trust.export import export_customer, export_zip
from shopkeeper.trust.links import LinkSigner
from shopkeeper.trust.requests import PrivacyRequests
from shopkeeper.trust.transparency import plain_summary

__all__ = ["LinkRequest", "preferences_router"]

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_MESSAGES = {
    "saved": "Your choices are saved. They apply from now on.",
}


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, max_length=500)
    hours: int = Field(72, ge=1, le=24 * 30, description="How long the link works")


def _page(request: Request, token: str, message: str | None) -> HTMLResponse:
    signer: LinkSigner = request.app.state.link_signer
    subject, expires = signer.verify(token)
    with read_warehouse(request.app.state.settings) as wh:
        summary = plain_summary(wh, subject)
    html = _TEMPLATES.get_template("preferences.html").render(
        base=f"/preferences/{token}",
        csrf=signer.form_token(token),
        expires=datetime.fromtimestamp(expires, UTC).strftime("%d %B %Y %H:%M"),
        message=message,
        **summary,
    )
    # The link is a credential: keep it out of caches and Referer headers.
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(html, headers=headers)


def preferences_router(
    require_admin: Any, responses: dict[int | str, Any]
) -> APIRouter:
    router = APIRouter(tags=["preference center"], responses=responses)

    @router.post("/v1/privacy/links", summary="Issue a preference-center link")
    def issue_link(body: LinkRequest, request: Request) -> dict[str, Any]:
        """A signed link the customer can open without logging in, until it
        expires; put it in an e-mail footer or a receipt."""
        require_admin(request)
        with read_warehouse(request.app.state.settings) as wh:
            who = resolve(wh, body.identifier)
        signer: LinkSigner = request.app.state.link_signer
        token = signer.issue(who.customer_id, ttl_seconds=body.hours * 3600)
        _, expires = signer.verify(token)
        return {
            "customer_id": who.customer_id,
            "path": f"/preferences/{token}",
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        }

    @router.get("/preferences/{token}", include_in_schema=False)
    def page(token: str, request: Request, done: str | None = None) -> HTMLResponse:
        try:
            return _page(request, token, _MESSAGES.get(done or ""))
        except Unauthorized as exc:
            # A person followed a link: answer in words, not JSON.
            text = escape(exc.message + (f". {exc.hint}" if exc.hint else ""))
            return HTMLResponse(
                f"<!doctype html><title>Link not valid</title><p>{text}</p>",
                status_code=401,
            )

    @router.post("/preferences/{token}", include_in_schema=False)
    async def save(token: str, request: Request) -> Response:
        signer: LinkSigner = request.app.state.link_signer
        subject, _ = signer.verify(token)
        form = await request.form()
        signer.check_form(token, _text(form.get("csrf")))
        changes = {p: _text(form.get(p)) for p in PURPOSES if form.get(p) is not None}
        for purpose, status in changes.items():
            if status not in STATUSES:
                raise BadRequest(f"{purpose}: {status!r} is not one of {STATUSES}")
        with read_warehouse(request.app.state.settings, read_only=False) as wh:
            who = resolve(wh, subject)
            current = {
                c["purpose"]: c["status"]
                for c in plain_summary(wh, subject)["consents"]
            }
            for purpose, status in changes.items():
                if current.get(purpose) != status:
                    record_consent(
                        wh,
                        who.identifiers[0],
                        purpose,
                        str(status),
                        source="preference_center",
                        evidence="signed preference link",
                    )
                    apply_consent(
                        request.app.state.online_store,
                        who.identifiers[0],
                        purpose,
                        str(status),
                    )
        return RedirectResponse(f"/preferences/{token}?done=saved", status_code=303)

    @router.get("/preferences/{token}/export", include_in_schema=False)
    def download(token: str, request: Request) -> Response:
        subject, _ = request.app.state.link_signer.verify(token)
        with read_warehouse(request.app.state.settings) as wh:
            data = export_zip(export_customer(wh, subject))
        return Response(
            data,
            media_type="application/zip",
            headers={
                "Content-Disposition": 'attachment; filename="my-data.zip"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/preferences/{token}/delete", include_in_schema=False)
    async def forget(token: str, request: Request) -> HTMLResponse:
        signer: LinkSigner = request.app.state.link_signer
        subject, _ = signer.verify(token)
        form = await request.form()
        signer.check_form(token, _text(form.get("csrf")))
        if form.get("confirm") != "yes":
            raise BadRequest("tick the box to confirm the deletion")
        requests: PrivacyRequests = request.app.state.privacy_requests
        filed = requests.submit("delete", subject, requested_by="preference_link")
        return HTMLResponse(
            "<!doctype html><title>Deletion requested</title>"
            "<p>We will delete everything we hold about you within the hour, and "
            f"ignore your devices and e-mail from now on. Reference: "
            f"{filed.request_id}.</p>",
            headers={"Cache-Control": "no-store"},
        )

    return router


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
