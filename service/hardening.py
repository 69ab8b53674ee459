"""Hardening at the edge: security headers on every response, allowed hosts, sign-in throttling
and the security event log.

Headers are added by a `before_send` hook, which Litestar runs for every response it sends (a
404 for an unknown path, an error page, a crash) — route middleware would miss the 404s.
The host check wraps the whole ASGI handler for the same reason.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from litestar.types import ASGIApp, Message, Receive, Scope, Send

security_log = logging.getLogger("cqi.security")

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",  # htmx from /static/htmx; no inline script, no eval
    "style-src 'self'",  # app.css only: no <style> elements, no style attributes
    "img-src 'self' data:",  # data: for the empty favicon
    "connect-src 'self'",  # htmx requests
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # for browsers older than frame-ancestors
    (b"referrer-policy", b"same-origin"),  # initiative ids in our URLs stay with us
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


def _header(scope: Scope, wanted: bytes) -> str | None:
    """The header's value; several lines of it joined with commas, in order, as one list (a
    proxy may append its own line instead of extending the client's)."""
    values = [value.decode("latin-1") for name, value in scope.get("headers", [])
              if name == wanted]
    return ",".join(values) if values else None


def served_over_tls(scope: Scope, trust_proxy: bool) -> bool:
    """The request came over https: to this server, or (only when a proxy is trusted) to the
    proxy in front of it, which says so in X-Forwarded-Proto (its last value is its own)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    if trust_proxy:
        forwarded = _header(scope, b"x-forwarded-proto") or ""
        return forwarded.split(",")[-1].strip().lower() == "https"
    return False


def client_address(scope: Scope, trust_proxy: bool) -> str:
    """The address that sent the request: with a trusted proxy, the last address it appended
    to X-Forwarded-For (earlier entries come from the client and prove nothing)."""
    if trust_proxy:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded and forwarded.split(",")[-1].strip():
            return forwarded.split(",")[-1].strip()
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def security_headers(trust_proxy: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook adding the security headers to every http response."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        extra = [header for header in HEADERS if header[0] not in present]
        if served_over_tls(scope, trust_proxy):
            extra.append(HSTS)
        if (scope.get("user") is not None and b"cache-control" not in present
                and not scope.get("path", "").startswith("/static/")):
            extra.append((b"cache-control", b"no-store"))  # signed-in pages stay off disk
        message["headers"] = headers + extra

    return add_headers


def host_of(header: str) -> str:
    """The host name of a Host header, without its port: "[::1]:8000" -> "::1"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    name, _, port = header.rpartition(":")
    return name if name and port.isdigit() else header


def host_allowed(header: str | None, allowed: Sequence[str]) -> bool:
    """Whether a Host header names an allowed host (any port): "*" allows all, "*.example.org"
    its subdomains."""
    if not header:
        return False
    host = host_of(header)
    if not re.fullmatch(r"[a-z0-9.\-:]+", host):
        return False
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class AllowedHosts:
    """Answers 400 to a request whose Host header is not one of the allowed hosts, so that
    nothing the app builds from the Host (redirects, public links) can be poisoned."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = tuple(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not host_allowed(
            _header(scope, b"host"), self.allowed
        ):
            security_event("host_refused", host=_header(scope, b"host") or "",
                           path=scope.get("path", ""))
            body = b"This host name is not served here (see CQI_ALLOWED_HOSTS).\n"
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


# --- the security event log ---------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-]+")


def _value(value: object) -> str:
    text = str(value)
    if _BARE.fullmatch(text):
        return text
    # Quoted, with quotes, backslashes and control characters escaped: one event, one line,
    # whatever a client sends as a login name.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return f'"{escaped}"'


def security_event(event: str, level: int = logging.WARNING, **fields: object) -> None:
    """One key=value line on the `cqi.security` logger: event=... then the fields given.
    Never pass a password, token or session id."""
    parts = [f"event={event}"] + [f"{key}={_value(value)}" for key, value in fields.items()]
    security_log.log(level, " ".join(parts))


# --- sign-in throttling ---------------------------------------------------------------------

THROTTLE_DDL = (
    "CREATE TABLE IF NOT EXISTS sign_in_throttle ("
    " key text PRIMARY KEY,"
    " failures integer NOT NULL,"
    " window_start timestamptz NOT NULL,"
    " locked_until timestamptz)",
)


@dataclass(frozen=True)
class ThrottlePolicy:
    account_failures: int = 5
    """Failed sign-ins for one login name within `window` before it is locked."""
    address_failures: int = 20
    """Failed sign-ins from one client address within `window` before it is locked."""
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


async def create_throttle_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for statement in THROTTLE_DDL:
            await conn.execute(statement)


class SignInThrottle:
    """Counts failed sign-ins per login name and per client address in PostgreSQL, so every
    app process shares the counts. A login name counts whether or not an account has it, so
    the answer never tells which accounts exist."""

    def __init__(self, pool: asyncpg.Pool, policy: ThrottlePolicy | None = None) -> None:
        self.pool = pool
        self.policy = policy or ThrottlePolicy()

    @staticmethod
    def _keys(login: str, address: str) -> tuple[str, str]:
        return f"account:{login.strip().lower()}", f"address:{address}"

    async def retry_after(self, login: str, address: str, now: datetime) -> int:
        """Seconds until a sign-in may be tried again (0: now)."""
        async with self.pool.acquire() as conn:
            until = await conn.fetchval(
                "SELECT max(locked_until) FROM sign_in_throttle"
                " WHERE key = ANY($1::text[]) AND locked_until > $2",
                list(self._keys(login, address)), now,
            )
        return max(1, math.ceil((until - now).total_seconds())) if until else 0

    async def failed(self, login: str, address: str, now: datetime) -> int:
        """Count a failed sign-in; the seconds of lockout it caused (0: none)."""
        account_key, address_key = self._keys(login, address)
        locked = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for key, limit in ((account_key, self.policy.account_failures),
                               (address_key, self.policy.address_failures)):
                row = await conn.fetchrow(
                    "INSERT INTO sign_in_throttle AS t VALUES ($1, 1, $2, NULL)"
                    " ON CONFLICT (key) DO UPDATE SET"
                    "  failures = CASE WHEN t.window_start <= $2 - $3::interval THEN 1"
                    "                  ELSE t.failures + 1 END,"
                    "  window_start = CASE WHEN t.window_start <= $2 - $3::interval THEN $2"
                    "                      ELSE t.window_start END"
                    " RETURNING failures", key, now, self.policy.window,
                )
                if row["failures"] >= limit:
                    # Locked; counting starts afresh once the lockout is over.
                    await conn.execute(
                        "UPDATE sign_in_throttle SET locked_until = $2::timestamptz + $3::interval,"
                        " failures = 0, window_start = $2::timestamptz WHERE key = $1",
                        key, now, self.policy.lockout,
                    )
                    locked = max(locked, math.ceil(self.policy.lockout.total_seconds()))
        return locked

    async def succeeded(self, login: str) -> None:
        """A right password resets the login's count (not the address's: one right password
        must not buy an address more guesses at other accounts)."""
        account_key, _ = self._keys(login, "")
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM sign_in_throttle WHERE key = $1", account_key)


def wait_in_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes <= 1 else f"{minutes} minutes"



def account_change(event: str, *fields: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates an account command: once it has succeeded, a security event names the actor,
    the account and the given keyword arguments (never a password hash or token secret)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def logged(self: Any, *args: Any, **kwargs: Any) -> Any:
            receipt = command(self, *args, **kwargs)
            account = args[0] if args else kwargs.get("account", receipt.id)
            security_event(event, logging.INFO, actor=kwargs.get("actor", ""), account=account,
                           **{name: kwargs.get(name, "") for name in fields})
            return receipt

        return logged

    return decorate
