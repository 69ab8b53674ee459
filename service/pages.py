"""The web UI: full pages for plain requests, fragments for htmx requests."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from projections import cycle_board, overdue_revisits
from service.auth import requires
from service.hardening import SignInThrottle, client_address, security_event, wait_in_words
from service.pages_accounts import AccountPages
from service.pages_base import (
    is_htmx,
    page,
    request_csrf_token,
    safe_next,
    see_other,
    template_globals,
)
from service.pages_initiatives import InitiativePages
from service.pages_measures import MeasurePages
from service.pages_mission import MissionPages
from service.pages_portfolio import PortfolioPages
from service.pages_public import PublicPages
from service.pages_publishing import PublishingPages
from service.pages_revisits import RevisitPages
from service.security import SESSION_COOKIE, cookie_name
from service.services import Req, Svc

__all__ = ["PAGE_CONTROLLERS", "is_htmx", "page", "request_csrf_token", "safe_next",
           "see_other", "template_globals"]


class SessionController(Controller):
    @get("/sign-in", include_in_schema=False)
    async def sign_in_form(self, request: Req, next: FromQuery[str | None] = None
                           ) -> Template:
        return page(request, "sign_in.html", next=safe_next(next), errors={}, login="")

    @post("/sign-in", include_in_schema=False)
    async def sign_in(self, request: Req, services: Svc) -> Any:
        form = await request.form()
        login = str(form.get("login", "")).strip().lower()
        password = str(form.get("password", ""))
        target = safe_next(form.get("next"))
        address = client_address(request.scope, services.settings.trust_proxy_headers)
        throttle = SignInThrottle(services.pool)
        if wait := await throttle.retry_after(login, address, services.now()):
            security_event("sign_in_throttled", login=login, address=address, retry_after=wait)
            refused = page(request, "sign_in.html", status_code=429, next=target, login=login,
                           errors={"form": "Too many failed sign-ins. Try again in "
                                           f"{wait_in_words(wait)}."})
            refused.headers["Retry-After"] = str(wait)
            return refused
        account = await services.call(services.cqi.find_account, login) if login else None
        hashed = account.password_hash if account else services.unknown_login_hash
        matches = await services.verify_password(hashed, password)
        if account is None or not matches or not account.active:
            message = ("This account is deactivated; ask a leader." if account and matches
                       else "The login or the password is not right.")
            if not matches:  # the same whether or not the login exists
                locked = await throttle.failed(login, address, services.now())
                security_event("sign_in_failed", login=login, address=address,
                               locked_for=locked)
            else:
                security_event("sign_in_refused", login=login, address=address,
                               reason="deactivated")
            return page(request, "sign_in.html", status_code=400, next=target, login=login,
                        errors={"form": message})
        await throttle.succeeded(login)
        secure = services.settings.secure_cookies
        name = cookie_name(SESSION_COOKIE, secure)
        previous = request.cookies.get(name)
        session_id = await services.sessions.start(account, services.now(), replacing=previous)
        security_event("signed_in", logging.INFO, login=login, address=address)
        response = Redirect(target, status_code=303)
        response.cookies.append(Cookie(
            key=name, value=session_id, path="/", httponly=True,
            secure=secure, samesite="lax",
            max_age=int(services.settings.session_hours * 3600),
        ))
        return response

    @post("/sign-out", include_in_schema=False)
    async def sign_out(self, request: Req, services: Svc) -> Any:
        secure = services.settings.secure_cookies
        name = cookie_name(SESSION_COOKIE, secure)
        session_id = request.cookies.get(name)
        if session_id:
            await services.sessions.end(session_id)
            principal = request.scope.get("user")
            security_event("signed_out", logging.INFO,
                           login=principal.login if principal else "")
        response = Redirect("/sign-in", status_code=303)
        # Expired at once; a `__Host-` cookie is only replaced by one with the same flags.
        response.cookies.append(Cookie(key=name, value="", path="/", httponly=True,
                                       secure=secure, samesite="lax", max_age=0))
        return response


class BoardPages(Controller):
    @get("/", include_in_schema=False)
    async def home(self) -> Redirect:
        return Redirect("/board", status_code=303)

    @get("/board", guards=[requires("viewer")], include_in_schema=False)
    async def board(self, request: Req, services: Svc) -> Template:
        rows = await services.read(cycle_board.in_progress)
        today = services.today()
        overdue = await services.read(overdue_revisits.revisits, today, "overdue")
        columns: dict[str, list[Any]] = {"none": [], "plan": [], "do": [], "study": [], "act": []}
        for row in rows:
            if row["status"] == "proposed":
                columns["none"].append(row)
            elif row["status"] == "active":
                columns[row["phase"] or "none"].append(row)
        return page(request, "board.html", "_board.html", columns=columns, overdue=overdue,
                    today=today)


PAGE_CONTROLLERS: list[Any] = [SessionController, BoardPages, InitiativePages, MissionPages,
                               PublishingPages, PublicPages,
                               RevisitPages, MeasurePages, AccountPages, PortfolioPages]
