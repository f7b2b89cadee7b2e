"""How a dashboard page is answered: HTML for people, JSON for programs.

Every page is one function that returns plain data; :func:`render` sends it
either through the page's template or, for ``<path>.json`` or
``Accept: application/json``, as the JSON twin. Templates read only that
data (charts are drawn from it too), so the twin always holds exactly what
the page shows, as in Datasette.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shopkeeper.errors import Unauthorized
from shopkeeper.ui import charts
from shopkeeper.ui.session import COOKIE, UiSessions

__all__ = [
    "NAV",
    "LoginRequired",
    "authenticate",
    "render",
    "sessions",
    "to_json",
    "wants_json",
]

NAV = (
    ("overview", "/ui", "Overview"),
    ("customers", "/ui/customers", "Customers"),
    ("segments", "/ui/segments", "Segments"),
    ("campaigns", "/ui/campaigns", "Campaigns"),
    ("merchandising", "/ui/merchandising", "Merchandising"),
    ("decisions", "/ui/decisions", "Decisions"),
)

SECURITY_HEADERS = {
    # Scripts only from our own static files; matplotlib's inline SVG needs
    # inline styles. Nothing is ever loaded from another site.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class LoginRequired(Exception):
    """A page was asked for without a session; people are sent to log in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _money(value: object) -> str:
    if value is None:
        return "–"
    return f"${float(value):,.2f}"  # type: ignore[arg-type]


def _number(value: object, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int | float | Decimal):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: object, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{digits}f}%"  # type: ignore[arg-type]


_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals.update(charts=charts, nav=NAV)
_TEMPLATES.filters.update(money=_money, number=_number, pct=_pct)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[attr-defined]
    if hasattr(value, "tolist"):
        return value.tolist()  # type: ignore[attr-defined]
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(data: Any) -> bytes:
    """The JSON twin's body; NaN becomes null, as JSON has no NaN."""
    return orjson.dumps(
        data,
        default=_default,
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )


def wants_json(request: Request) -> bool:
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def sessions(request: Request) -> UiSessions:
    return request.app.state.ui_sessions


def authenticate(request: Request) -> str | None:
    """The session cookie (``None`` for a bearer-token caller of a JSON twin).

    Pages need a session; JSON twins also take the admin token as a bearer
    token, so scripts can read them without a browser.
    """
    ui = sessions(request)
    cookie = request.cookies.get(COOKIE)
    if ui.valid(cookie):
        return cookie
    header = request.headers.get("authorization", "")
    if header and wants_json(request):
        from shopkeeper.server.auth import check_admin

        check_admin(request.app.state.settings, header)
        return None
    if wants_json(request):
        raise Unauthorized("log in at /ui/login or send the admin token as Bearer")
    raise LoginRequired(request.url.path)


def render(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    title: str,
    section: str,
    session: str | None,
    status: int = 200,
) -> Response:
    """The page, or its JSON twin, from the same ``data``."""
    if wants_json(request):
        return Response(
            to_json(data),
            status,
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )
    html = _TEMPLATES.get_template(template).render(
        data=data,
        title=title,
        section=section,
        signed_in=True,
        csrf=sessions(request).csrf(session) if session else "",
        json_url=f"{request.url.path}.json"
        + (f"?{request.url.query}" if request.url.query else ""),
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def login_page(request: Request, *, error: str | None, login_token: str) -> Response:
    html = _TEMPLATES.get_template("login.html").render(
        error=error,
        next_path=_safe_next(request.query_params.get("next", "/ui")),
        csrf=login_token,
        title="Log in",
        section="",
        signed_in=False,
        json_url="",
    )
    return HTMLResponse(html, 401 if error else 200, headers=SECURITY_HEADERS)


def _safe_next(path: str) -> str:
    """Only our own dashboard paths: a login link must not bounce elsewhere."""
    if path.startswith("/ui") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui"


def redirect(path: str) -> Response:
    return RedirectResponse(_safe_next(path), 303, headers=SECURITY_HEADERS)


def render_error(request: Request, status: int, code: str, message: str) -> Response:
    """A refusal on a dashboard page, for a person: the same words as the
    API's JSON error, inside the page layout."""
    html = _TEMPLATES.get_template("error.html").render(
        status=status,
        code=code,
        message=message,
        title="Not possible",
        section="",
        csrf="",
        json_url="",
        signed_in=False,
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)
