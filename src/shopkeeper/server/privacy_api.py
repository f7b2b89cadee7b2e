"""``GET /v1/privacy/export/{identifier}``: everything held about a person, as a zip.

Admin token only for now; the signed preference-center link (issue: Trust)
will open the same export to the person themself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.trust.export import export_customer, export_zip

__all__ = ["privacy_router"]


def privacy_router(require_admin: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=responses)

    @router.get(
        "/export/{identifier}",
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

    return router
