"""The web UI: full pages for plain requests, fragments for htmx requests."""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

from projections import cycle_board, overdue_revisits
from service.auth import requires, standing
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
from service.read_cache import ReadCache, Standing, read_cache_of, standing_of, standing_query
from service.security import SESSION_COOKIE, cookie_name
from service.services import Req, Services, Svc

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


CSRF_MARK = f"csrf-mark-{secrets.token_hex(16)}"
"""Stands in a cached page for the CSRF token of the request it is served to (random per
process: no text a user writes can contain it)."""


def _html(html: str) -> Response[str]:
    return Response(html, media_type=MediaType.HTML, headers={"Vary": "HX-Request"})


async def _board_snapshot(conn: asyncpg.Connection, today: date, query: str,
                          args: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    """The board views' standing and the board's rows, all from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        stamp = standing_of(await conn.fetchrow(query, *args)).views
        rows = await cycle_board.in_progress(conn)
        overdue = await overdue_revisits.revisits(conn, today, "overdue")
    return stamp, rows, overdue


class BoardPages(Controller):
    @get("/", include_in_schema=False)
    async def home(self) -> Redirect:
        return Redirect("/board", status_code=303)

    @get("/board", guards=[requires("viewer")], include_in_schema=False)
    async def board(self, request: Req, services: Svc) -> Any:
        """The board's body (cards and overdue revisits) is rendered once per views' state
        and day; the whole page once per views' state, day and signed-in person, with this
        request's CSRF token put in. Either is reused only by requests that find the views
        exactly as they were (see service/read_cache.py)."""
        today = services.today()
        cache = read_cache_of(request.scope)
        now: Standing | None = None
        if cache is not None:
            state = request.scope.get("state", {})  # the token's check read it already
            now = state["standing"] if "standing" in state else await standing(services, cache)
        stamp = (now.views, today) if now is not None and now.views is not None else None
        htmx = is_htmx(request)
        page_key = ("board", request.scope["user"], request.scope["path"])
        if cache is not None and stamp is not None and not htmx:
            found, html = cache.get(page_key, stamp, cache.pages)
            if found:
                return _html(html.replace(CSRF_MARK, request_csrf_token(request)))
        body: str | None = None
        if cache is not None and stamp is not None:
            found, body = cache.get("board", stamp)
            if not found:
                body, stamp = await self._board_body(request, services, today, cache)
        if body is None:
            stamp = None
            body = self._render_board(request, *await self._board_rows(services, today))
        if htmx:
            return _html(body)
        response = page(request, "board.html", board=Markup(body))
        if cache is None or stamp is None:
            return response
        template = request.app.template_engine.get_template("board.html")
        html = str(template.render(**response.create_template_context(request)))
        cache.put(page_key, stamp, html.replace(request_csrf_token(request), CSRF_MARK),
                  cache.pages)
        return _html(html)

    @staticmethod
    async def _board_rows(services: Services, today: date) -> tuple[Any, Any, date]:
        return (await services.read(cycle_board.in_progress),
                await services.read(overdue_revisits.revisits, today, "overdue"), today)

    async def _board_body(self, request: Req, services: Services, today: date,
                          cache: ReadCache) -> tuple[str | None, Any]:
        """Rendered from the views as they stand in one snapshot, and kept under that
        standing (returned with it); None if the views' tables are missing (a rebuild
        starting)."""
        query, args = standing_query(f"{services.cqi.name}_events", services.cqi.name)
        try:
            stamp, rows, overdue = await services.read(_board_snapshot, today, query, args)
        except asyncpg.UndefinedTableError:
            return None, None
        body = self._render_board(request, rows, overdue, today)
        if stamp is None:
            return body, None
        cache.put("board", (stamp, today), body)
        return body, (stamp, today)

    @staticmethod
    def _render_board(request: Req, rows: Any, overdue: Any, today: date) -> str:
        columns: dict[str, list[Any]] = {"none": [], "plan": [], "do": [], "study": [], "act": []}
        for row in rows:
            if row["status"] == "proposed":
                columns["none"].append(row)
            elif row["status"] == "active":
                columns[row["phase"] or "none"].append(row)
        template = request.app.template_engine.get_template("_board.html")
        zone = request.app.state.services.settings.zone
        return str(template.render(columns=columns, overdue=overdue, today=today, zone=zone))


PAGE_CONTROLLERS: list[Any] = [SessionController, BoardPages, InitiativePages, MissionPages,
                               PublishingPages, PublicPages,
                               RevisitPages, MeasurePages, AccountPages, PortfolioPages]
