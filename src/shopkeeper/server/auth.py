"""The admin token check, shared by FastAPI dependencies and ASGI fast paths."""

from __future__ import annotations

import hmac

from shopkeeper.errors import Unauthorized
from shopkeeper.settings import Settings

__all__ = ["check_admin"]


def check_admin(settings: Settings, header: str) -> None:
    """Admin endpoints take ``Authorization: Bearer <admin token>`` and nothing else."""
    if header[:6].lower() == "basic ":
        raise Unauthorized(
            "write keys can only write events; this needs the admin token"
        )
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    if token is None:
        raise Unauthorized(
            "admin endpoints are off", hint="set SHOPKEEPER_ADMIN_TOKEN to enable them"
        )
    given = header[7:] if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("missing or wrong admin token (Authorization: Bearer ...)")
