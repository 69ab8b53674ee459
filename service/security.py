"""Passwords, sessions and CSRF tokens.

Sessions live in PostgreSQL (any app process can serve any request); the browser holds only a
random id, and the table only its SHA-256. A new id is issued at every sign-in (no fixation).
CSRF tokens are signed double-submit tokens: HMAC(secret, csrf cookie | session id).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.account import AUDITOR, LEADER, MEMBER, VIEWER
from projections.accounts import TABLE as ACCOUNTS

SESSION_COOKIE = "cqi_session"
CSRF_COOKIE = "cqi_csrf"
HOST_PREFIX = "__Host-"
"""Browsers accept a `__Host-` cookie only with Secure, Path=/ and no Domain: no other host (a
sibling subdomain) and no plain-http page can set or overwrite it."""


def cookie_name(name: str, secure: bool) -> str:
    """The cookie's name as sent: `__Host-` prefixed when cookies are Secure. Only with
    CQI_SECURE_COOKIES=false (plain http, local use) is the prefix dropped, as it must be."""
    return HOST_PREFIX + name if secure else name
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"

RANKS = {VIEWER: 0, AUDITOR: 1, MEMBER: 2, LEADER: 3}
"""Roles are cumulative: an auditor reads all a viewer does plus history; a member also writes
initiatives and cycles; a leader also writes the mission, values, revisits and accounts."""


def password_hasher(cost: str = "standard") -> PasswordHasher:
    if cost == "fast":  # tests only: the same algorithm at a trivial cost
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # argon2id, 64 MiB, t=3, p=4


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


MIN_PASSWORD_LENGTH = 10


def check_password(password: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 256:
        return "use at most 256 characters"
    return None


@dataclass(frozen=True)
class Principal:
    """Who is making this request."""

    account_id: str
    login: str
    display_name: str
    role: str
    session_id: str | None = None  # None when the request came with a bearer token

    def has(self, role: str) -> bool:
        return RANKS[self.role] >= RANKS[role]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def csrf_token(secret_key: str, csrf_cookie: str, session_id: str | None) -> str:
    message = f"{csrf_cookie}|{session_id or ''}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, csrf_cookie: str | None, session_id: str | None,
               presented: str | None) -> bool:
    if not csrf_cookie or not presented:
        return False
    return hmac.compare_digest(csrf_token(secret_key, csrf_cookie, session_id), presented)


SESSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS web_sessions ("
    " id_hash bytea PRIMARY KEY,"
    " account_id uuid NOT NULL,"
    " login text NOT NULL,"
    " display_name text NOT NULL,"
    " role text NOT NULL,"
    " created_at timestamptz NOT NULL,"
    " last_seen_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS web_sessions_account ON web_sessions (account_id)",
)


AccountFacts = tuple[str, str, str, bool]
"""An account's login, display name, role and whether it is active."""


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, lifetime: timedelta, idle: timedelta) -> None:
        self.pool = pool
        self.lifetime = lifetime
        self.idle = idle
        self.events_table: str | None = None
        self.application = ""
        self.account_of: Callable[[uuid.UUID], Awaitable[AccountFacts | None]] | None = None
        """Set by the services (`ask_accounts`): then the accounts view speaks for a session's
        account only once it has seen the account's latest event; else the account does."""

    def ask_accounts(self, events_table: str, application: str,
                     account_of: Callable[[uuid.UUID], Awaitable[AccountFacts | None]]) -> None:
        self.events_table, self.application, self.account_of = (
            events_table, application, account_of)

    async def create_tables(self) -> None:
        async with self.pool.acquire() as conn:
            for statement in SESSIONS_DDL:
                await conn.execute(statement)

    async def start(self, account: Any, now: datetime, replacing: str | None) -> str:
        """Begin a session for the account; the id the browser had before is ended."""
        session_id = secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            if replacing:
                await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1",
                                   _digest(replacing))
            await conn.execute(
                "INSERT INTO web_sessions VALUES ($1, $2, $3, $4, $5, $6, $6)",
                _digest(session_id), account.id, account.login, account.display_name,
                account.role, now,
            )
        return session_id

    async def principal(
        self, session_id: str, now: datetime, touch: bool = True
    ) -> Principal | None:
        """The session's principal, or None if unknown, expired or idle too long. `touch`
        records the use (a person acted); automatic refreshes pass False."""
        async with self.pool.acquire() as conn:
            # The role and the account's standing come from the accounts view, not from the
            # session: a role changed or an account deactivated takes effect at once. The view
            # counts only once it has seen the account's latest event; while it lags (another
            # process's change not applied yet, the views stuck or rebuilt) the account itself
            # is asked. (Without `ask_accounts`, the values recorded at sign-in stand in until
            # the view has the account.)
            fresh = "TRUE"
            if self.events_table is not None:
                fresh = (
                    f"(a.account_id IS NOT NULL AND (SELECT notification_id FROM"
                    f" {self.events_table} WHERE originator_id = s.account_id"
                    "  ORDER BY originator_version DESC LIMIT 1)"
                    f" <= (SELECT max(notification_id) FROM {ACCOUNTS}_tracking"
                    "     WHERE application_name = $2))")
            query = (
                "SELECT s.account_id, COALESCE(a.login, s.login) AS login,"
                " COALESCE(a.display_name, s.display_name) AS display_name,"
                " COALESCE(a.role, s.role) AS role, COALESCE(a.active, TRUE) AS active,"
                f" s.created_at, s.last_seen_at, {fresh} AS fresh FROM web_sessions s"
                f" LEFT JOIN {ACCOUNTS} a USING (account_id) WHERE s.id_hash = $1")
            args: list[Any] = [_digest(session_id)]
            if self.events_table is not None:
                args.append(self.application)
            try:
                found = await conn.fetchrow(query, *args)
            except asyncpg.UndefinedTableError:  # the views are being rebuilt
                found = await conn.fetchrow(
                    "SELECT account_id, login, display_name, role, TRUE AS active, created_at,"
                    " last_seen_at, FALSE AS fresh FROM web_sessions WHERE id_hash = $1",
                    _digest(session_id))
            if found is None:
                return None
            row = dict(found)
            if not row["fresh"] and self.account_of is not None:
                facts = await self.account_of(row["account_id"])
                if facts is None:
                    return None
                row["login"], row["display_name"], row["role"], row["active"] = facts
            if not row["active"]:
                await conn.execute("DELETE FROM web_sessions WHERE account_id = $1",
                                   row["account_id"])
                return None
            if now - row["created_at"] > self.lifetime or now - row["last_seen_at"] > self.idle:
                await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1",
                                   _digest(session_id))
                return None
            if touch and now - row["last_seen_at"] > timedelta(seconds=30):
                await conn.execute("UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1",
                                   _digest(session_id), now)
        return Principal(str(row["account_id"]), row["login"], row["display_name"], row["role"],
                         session_id)

    async def end(self, session_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1", _digest(session_id))

    async def end_all_for(self, account_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE account_id = $1::uuid", account_id)
