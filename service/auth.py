"""Who is asking: a bearer token (API clients) or a session cookie (browsers); and guards."""

from __future__ import annotations

import functools
import secrets
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from projections.api_tokens import token_holder
from service.application import split_token, token_secret_hash
from service.hardening import security_event
from service.read_cache import ReadCache, Standing, read_cache_of
from service.security import CSRF_COOKIE, SESSION_COOKIE, Principal, cookie_name
from service.services import Services
from service.vouch import CHANGED_MESSAGE, TokenMemory, Vouch, vouching

ROLE_NAMES = {"viewer": "a viewer", "auditor": "an auditor", "member": "a CQI team member",
              "leader": "a leader"}


BACKGROUND_REFRESH = b"x-background-refresh"
READS = ("GET", "HEAD")


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: dict[str, str] = {}
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key and key not in jar:
                    jar[key] = val
            return jar
    return {}


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


async def standing(services: Services, cache: ReadCache | None) -> Standing | None:
    """Where the database stands now (see service/read_cache.py); None: use no cached read."""
    if cache is None:
        return None
    app = services.cqi
    return await cache.standing(services.settings.database_url or "", f"{app.name}_events",
                                app.name)


async def token_principal(services: Services, token: str, cache: ReadCache | None = None,
                          now: Standing | None = None) -> Principal | None:
    """Who holds this bearer token. From the read cache when it was decided at the store's
    present head (`now`: read after the request arrived, so no event since, and none of them a
    revocation or a role change); else from the views (one indexed query), else, for a token
    they do not know yet, from the account's own events."""
    parts = split_token(token)
    if parts is None:
        return None
    key = ("token", token_secret_hash(token))
    if cache is not None and now is not None:
        found, principal = cache.get(key, now.events)
        if found:
            return principal
    holder = await _token_holder(services, token, parts)
    principal = holder[0] if holder is not None else None
    if cache is not None and now is not None and principal is not None:
        # Read after `now` was: never older than the head it is filed under.
        cache.put(key, now.events, principal)
    return principal


async def _token_holder(services: Services, token: str, parts: tuple[Any, str, str]
                        ) -> tuple[Principal, int] | None:
    """Who holds the token, and the version of their account that says so, read now."""
    account_id, token_id, secret = parts
    app = services.cqi
    try:
        async with services.pool.acquire() as conn:
            row = await token_holder(conn, account_id, token_id, f"{app.name}_events", app.name)
    except asyncpg.UndefinedTableError:  # the views are being rebuilt
        row = None
    if row is not None:
        if not secrets.compare_digest(row["secret_hash"], token_secret_hash(secret)):
            return None
        return (Principal(str(row["account_id"]), row["login"], row["display_name"],
                          row["role"]), row["version"])
    account = await services.call(services.cqi.account_for_token, token)
    if account is None:
        return None
    return _principal_of(account), account.version


def _principal_of(account: Any) -> Principal:
    return Principal(str(account.id), account.login, account.display_name, account.role)


def _recheck(services: Services, token: str, principal: Principal) -> int | None:
    """Where the save runs (a thread, or a command's greenlet on the event loop): the
    account's version now, if the token still gives the same holder (see service/vouch.py)."""
    account = services.cqi.account_for_token(token)
    if account is None or _principal_of(account) != principal:
        return None
    return int(account.version)


def token_memory_of(scope: Scope) -> TokenMemory:
    state = scope["litestar_app"].state
    memory = getattr(state, "token_memory", None)
    if memory is None:
        memory = state.token_memory = TokenMemory()
    return memory


async def vouched_holder(services: Services, token: str, memory: TokenMemory
                         ) -> tuple[Principal | None, Vouch | None]:
    """Who holds the token, for a write: from this process's memory, unread, with the Vouch
    its saves will prove (see service/vouch.py); else read now, and remembered."""
    parts = split_token(token)
    if parts is None:
        return None, None
    key = token_secret_hash(token)
    held = memory.get(key)
    if held is not None:
        principal, version = held
        return principal, Vouch(uuid.UUID(principal.account_id), version,
                                functools.partial(_recheck, services, token, principal))
    holder = await _token_holder(services, token, parts)
    if holder is None:
        return None, None
    memory.put(key, *holder)
    return holder[0], None


def _refusal(status: int, detail: str) -> tuple[Message, Message]:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="cqi"'))
    body = msgspec.json.encode({"detail": detail, "errors": {}})
    headers.append((b"content-length", str(len(body)).encode()))
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body, "more_body": False})


async def answer_vouched(scope: Scope, receive: Receive, send: Send, app: ASGIApp,
                         services: Services, token: str, principal: Principal,
                         vouch: Vouch, memory: TokenMemory) -> None:
    """Run the request on a remembered holder. Its answer goes out as it is if one of its
    saves proved the memory; else only once the token has been checked afresh: 401 instead
    if it is no longer good, 409 if it now gives another holder (role, standing)."""
    key = token_secret_hash(token)
    remembered = vouch.version
    replaced = False

    async def send_vouched(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start":
            if vouch.confirmed:
                if vouch.version != remembered:
                    memory.put(key, principal, vouch.version)
            else:
                parts = split_token(token)
                holder = await _token_holder(services, token, parts) if parts else None
                if holder is None or holder[0] != principal:
                    if holder is None:
                        memory.drop(key)
                        status, detail = 401, "This token is no longer valid."
                    else:
                        memory.put(key, *holder)
                        status, detail = 409, CHANGED_MESSAGE
                    security_event("vouch_refused", status=status, method=scope.get("method"),
                                   path=scope.get("path"), login=principal.login)
                    replaced = True
                    start, body = _refusal(status, detail)
                    await send(start)
                    await send(body)
                    return
                memory.put(key, *holder)
        elif replaced:
            return  # the handler's own answer is dropped
        await send(message)

    with vouching(vouch):
        await app(scope, receive, send_vouched)


class AuthenticationMiddleware:
    """Puts the Principal (or None) in scope["user"]; gives each browser (each request without
    a bearer token) a CSRF cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services: Services = scope["litestar_app"].state.services
        cookies = _cookies(scope)
        secure = services.settings.secure_cookies
        principal: Principal | None = None
        scope["auth"] = None
        authorization = _header(scope, b"authorization")
        state = scope.setdefault("state", {})
        vouch: Vouch | None = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
            if scope.get("method") in READS:
                cache = read_cache_of(scope)
                # Read after this request arrived: reused by the handler (the board) as its
                # own.
                state["standing"] = now = await standing(services, cache)
                principal = await token_principal(services, token, cache, now)
            else:
                # Writes: under them the store's head moves with every command, so the read
                # cache's fence would seldom let an entry be used; the holder is remembered
                # instead, and proven by the write itself (service/vouch.py).
                state["standing"] = None
                memory = token_memory_of(scope)
                principal, vouch = await vouched_holder(services, token, memory)
            if principal is not None:
                scope["auth"] = "token"
        elif session_id := cookies.get(cookie_name(SESSION_COOKIE, secure)):
            # A page refreshing itself is not the person using it: it must not keep an idle
            # session alive.
            touch = _header(scope, BACKGROUND_REFRESH) is None
            principal = await services.sessions.principal(session_id, services.now(), touch)
            scope["auth"] = "session" if principal else None
        scope["user"] = principal
        csrf_cookie = cookies.get(cookie_name(CSRF_COOKIE, secure))
        if authorization and authorization.lower().startswith("bearer "):
            # An API client: it proves itself with its token on every request, never with a
            # cookie, so it is given none (check_csrf lets token-authenticated writes by).
            state["csrf_cookie"] = csrf_cookie or ""
            if vouch is not None and principal is not None:
                await answer_vouched(scope, receive, send, self.app, services, token,
                                     principal, vouch, memory)
                return
            await self.app(scope, receive, send)
            return

        new_cookie = None
        if not csrf_cookie:
            csrf_cookie = new_cookie = secrets.token_urlsafe(24)
        state["csrf_cookie"] = csrf_cookie
        if new_cookie is None:
            await self.app(scope, receive, send)
            return
        set_cookie = (f"{cookie_name(CSRF_COOKIE, secure)}={new_cookie}; Path=/; HttpOnly;"
                      f" SameSite=Lax{'; Secure' if secure else ''}")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", set_cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def demand(connection: ASGIConnection[Any, Any, Any, Any], role: str) -> Principal:
    """The principal, if it holds `role`: 401 when nobody is signed in, 403 when too low."""
    principal: Principal | None = connection.scope.get("user")
    if principal is None:
        raise NotAuthorizedException("Sign in first.")
    if not principal.has(role):
        raise PermissionDeniedException(
            f"This needs {ROLE_NAMES[role]} (or a role above it); "
            f"you are signed in as {ROLE_NAMES[principal.role]}."
        )
    return principal


def requires(role: str) -> Any:
    """A route guard built on `demand`."""

    # async: Litestar runs a plain function guard in a worker thread, a hop per request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        demand(connection, role)

    guard.__name__ = f"requires_{role}"
    return guard


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("user")
    if principal is None:  # guards run first; this is a programming error if reached
        raise NotAuthorizedException("Sign in first.")
    return principal
