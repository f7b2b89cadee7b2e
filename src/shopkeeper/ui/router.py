"""The dashboard's routes: log in and out, the overview and customer 360.

Each page is registered twice, ``<path>`` and ``<path>.json``, on one
function (the ``.json`` decorator sits below, so that route is added first
and wins the match), and answers
through :func:`shopkeeper.ui.pages.render`. Sections with more pages keep
their routes in modules of their own, added in :func:`ui_router`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.staticfiles import StaticFiles

from shopkeeper.decide.online_rows import CUSTOMERS
from shopkeeper.errors import Forbidden
from shopkeeper.server.profiles_api import read_warehouse
from shopkeeper.settings import Settings
from shopkeeper.ui.pages import (
    LoginRequired,
    authenticate,
    login_page,
    redirect,
    render,
    sessions,
    wants_json,
)
from shopkeeper.ui.sections import section_routers
from shopkeeper.ui.session import COOKIE, LOGIN_COOKIE, UiSessions
from shopkeeper.ui.views.customers import customer_list, customer_page
from shopkeeper.ui.views.overview import overview

__all__ = ["Session", "check_csrf", "install_ui", "settings_of"]

Session = Annotated[str | None, Depends(authenticate)]
"""The caller's session cookie; pages refuse or redirect callers without one."""


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def check_csrf(request: Request, session: str | None, token: str | None) -> None:
    """Every form post repeats the session's form token, or is refused."""
    if session is None:
        return  # a bearer-token API caller: no cookie for another site to ride
    if not sessions(request).check_csrf(session, token):
        raise Forbidden("the form's check token is missing or wrong; reload the page")


def with_offers(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The customer's eligible offers as real-time decisions see them: from
    the online store's document (the last `shopkeeper online export`), already
    without the campaigns whose holdout holds the customer."""
    store = getattr(request.app.state, "online_store", None)
    doc = None
    if store is not None:
        (doc,) = store.read_many(CUSTOMERS, [data["customer_id"]])
    data["offers_exported"] = doc is not None
    data["offers"] = (doc or {}).get("offers", [])
    return data


def _core_routes(events_dir: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/ui/login")
    def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = login_page(request, error=None, login_token=token)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=600,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/ui/login",
        )
        return response

    @router.post("/ui/login")
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=500)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=500)] = "/ui",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf):
            raise Forbidden(
                "the login form's check token is missing or wrong; reload it"
            )
        ui: UiSessions = sessions(request)
        cookie = ui.login(token)
        if cookie is None:
            fresh = secrets.token_urlsafe(24)
            response = login_page(
                request, error="That is not the admin token.", login_token=fresh
            )
            response.set_cookie(
                LOGIN_COOKIE,
                fresh,
                max_age=600,
                httponly=True,
                secure=True,
                samesite="strict",
                path="/ui/login",
            )
            return response
        response = redirect(next)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=ui.max_age,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
        return response

    @router.post("/ui/logout")
    def logout(
        request: Request,
        session: Session,
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        check_csrf(request, session, csrf)
        response = redirect("/ui/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/ui")
    @router.get("/ui.json")
    def overview_page(request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = overview(wh, events_dir)
        return render(
            request,
            "overview.html",
            data,
            title="Overview",
            section="overview",
            session=session,
        )

    @router.get("/ui/customers")
    @router.get("/ui/customers.json")
    def customers(request: Request, session: Session, q: str | None = None) -> Response:
        """The customer list; ``q`` (any identifier, an e-mail is hashed
        first) jumps to that customer's page."""
        if q and q.strip():
            with read_warehouse(settings_of(request)) as wh:
                data = with_offers(request, customer_page(wh, q))
            target = f"/ui/customers/{data['customer_id']}"
            if wants_json(request):
                return render(
                    request,
                    "customer.html",
                    data,
                    title="Customer",
                    section="customers",
                    session=session,
                )
            return redirect(target)
        with read_warehouse(settings_of(request)) as wh:
            data = customer_list(wh)
        return render(
            request,
            "customers.html",
            data,
            title="Customers",
            section="customers",
            session=session,
        )

    @router.get("/ui/customers/{identifier}")
    @router.get("/ui/customers/{identifier}.json")
    def customer(identifier: str, request: Request, session: Session) -> Response:
        with read_warehouse(settings_of(request)) as wh:
            data = with_offers(request, customer_page(wh, identifier))
        return render(
            request,
            "customer.html",
            data,
            title=f"Customer {data['customer_id']}",
            section="customers",
            session=session,
        )

    return router


def install_ui(app: FastAPI, *, key_path: Path, events_dir: Path) -> None:
    """Mount the dashboard on ``app``: sessions, static files, routes, and
    the two ways a page refuses (log in first; an error page for people)."""
    settings: Settings = app.state.settings
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    app.state.ui_sessions = UiSessions(key_path, token)
    app.mount(
        "/ui/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="ui-static",
    )
    app.include_router(_core_routes(events_dir))
    for router in section_routers():
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        query = request.url.query
        path = exc.next_path + (f"?{query}" if query else "")
        return redirect(f"/ui/login?next={quote(path, safe='')}")
