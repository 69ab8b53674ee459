"""The composition root's product: everything a request handler may use, built once per process."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ParamSpec, TypeAlias, TypeVar

import anyio
import anyio.to_thread
import asyncpg
from argon2 import PasswordHasher
from eventsourcing.persistence import IntegrityError
from litestar import Request
from litestar.di import NamedDependency

from domain.account import Account
from domain.errors import DomainError, NotFoundError
from service import bridge, idempotency
from service.application import CQIApplication, Receipt, eventsourcing_env
from service.hardening import create_throttle_tables
from service.projection_runner import RUNNER_LOCK_KEY, SCHEMA_LOCK_KEY, ProjectionRunner
from service.security import AccountFacts, SessionStore, password_hasher, verify_password
from service.settings import Settings

log = logging.getLogger(__name__)

_ARGON2_SLOTS: dict[int, anyio.CapacityLimiter] = {}


def _argon2_slots() -> anyio.CapacityLimiter:
    """Four concurrent password hashes per event loop at most."""
    loop = id(asyncio.get_running_loop())
    if loop not in _ARGON2_SLOTS:
        _ARGON2_SLOTS[loop] = anyio.CapacityLimiter(4)
    return _ARGON2_SLOTS[loop]

P = ParamSpec("P")
T = TypeVar("T")


async def _account_facts(cqi: CQIApplication, account: uuid.UUID) -> AccountFacts | None:
    """A session's account as its own events have it (when the accounts view lags)."""
    def facts() -> AccountFacts | None:
        try:
            found = cqi.load(Account, account)
        except NotFoundError:
            return None
        return found.login, found.display_name, found.role, found.active

    return await anyio.to_thread.run_sync(facts)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the read pool does to a connection it takes back, beyond asyncpg's own rollback of
    an open transaction: nothing. asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` on every release, one more round trip per request; no pooled
    connection here takes a session lock, declares a cursor outside a transaction, listens or
    sets a setting (listeners and start-up's lock use connections of their own)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    cqi: CQIApplication
    runner: ProjectionRunner
    pool: asyncpg.Pool
    sessions: SessionStore
    hasher: PasswordHasher
    clock: Callable[[], datetime] = field(default=system_clock)
    unknown_login_hash: str = ""
    """Verified against when the login is unknown, so that failure takes as long as a wrong
    password does (no telling which logins exist by timing)."""

    @classmethod
    async def start(
        cls, settings: Settings, clock: Callable[[], datetime] = system_clock
    ) -> Services:
        if not settings.database_url:
            raise RuntimeError("Services need a DATABASE_URL (cqi serve starts an embedded one)")
        env = eventsourcing_env(settings.database_url, settings.pool_size)
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=settings.pool_size, reset=_keep_session
        )
        sessions = SessionStore(
            pool, timedelta(hours=settings.session_hours), timedelta(minutes=settings.idle_minutes)
        )
        # Replicas (and server workers) starting together would race to create the same tables;
        # one at a time, each finds the others' tables there. The lock is held by a connection
        # of its own, closed after: no pooled connection ever carries session state.
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK_KEY)
            cqi = await anyio.to_thread.run_sync(functools.partial(CQIApplication, env=env))
            await sessions.create_tables()
            await create_throttle_tables(pool)
        finally:
            await conn.close()
        sessions.ask_accounts(f"{cqi.name}_events", cqi.name,
                              functools.partial(_account_facts, cqi))
        # Under `cqi serve` with a views process, a worker that takes the writer lock over
        # (the views process died) carries the same name: the replica still writes.
        runner = ProjectionRunner(cqi, lock_name=settings.views_name)
        await anyio.to_thread.run_sync(runner.start)
        hasher = password_hasher(settings.password_hash_cost)
        unknown = await anyio.to_thread.run_sync(hasher.hash, secrets.token_urlsafe(16))
        return cls(settings, cqi, runner, pool, sessions, hasher, clock, unknown)

    async def stop(self) -> None:
        await anyio.to_thread.run_sync(self.runner.stop)
        await self.pool.close()
        await anyio.to_thread.run_sync(self.cqi.close)

    # --- helpers for handlers ------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def moment(self, raw: str) -> datetime | None:
        """An ISO 8601 date or date-time (None if it is not one); without a zone it is the
        agency's wall-clock time."""
        text = raw.strip()
        if "T" in text and text.count(" ") == 1:  # an unencoded `+01:00` in a URL: ` 01:00`
            text = text.replace(" ", "+")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.settings.zone)

    def today(self) -> date:
        """Today in the agency's time zone: what "overdue" is measured against."""
        return self.clock().astimezone(self.settings.zone).date()

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a synchronous library call off the event loop."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    async def command(self, fn: Callable[P, Receipt], *args: P.args, **kwargs: P.kwargs) -> Receipt:
        """Run a command, then wait until every view has processed it (read-your-writes).

        With an idempotency key (the request's first command only), a key already used
        answers with the first receipt and runs nothing; see service/idempotency.py.

        The command runs on this thread, in a greenlet: its saves wait on this loop, not in a
        thread of their own (service/bridge.py). A command whose own work is long (a file's
        thousands of data points) goes to `long_command`, which runs it in a thread, so that
        it holds no other request up."""
        return await self._command(True, fn, *args, **kwargs)

    async def long_command(self, fn: Callable[P, Receipt], *args: P.args,
                           **kwargs: P.kwargs) -> Receipt:
        """`command`, run in a worker thread."""
        return await self._command(False, fn, *args, **kwargs)

    async def _command(self, on_loop: bool, fn: Callable[P, Receipt], *args: P.args,
                       **kwargs: P.kwargs) -> Receipt:
        claim = self._claim()
        if claim is not None:
            stored = await self.read(idempotency.find, claim.principal, claim.key)
            if stored is not None:
                return await self._caught_up(self._replayed(claim, stored))
        try:
            with idempotency.claiming(claim):
                run = functools.partial(fn, *args, **kwargs)
                receipt = await (bridge.run_bridged(run) if on_loop else self.call(run))
        except (idempotency.KeyAlreadyUsed, DomainError, IntegrityError):
            # A repeat that raced the first one, or a create whose insert the library retried
            # after it had committed: the key's row decides (a refusal with no row is a
            # refusal).
            if claim is None:
                raise
            stored = await self.read(idempotency.find, claim.principal, claim.key)
            if stored is None:
                raise
            receipt = self._replayed(claim, stored)
        return await self._caught_up(receipt)

    async def key_used(self) -> bool:
        """Whether this request's idempotency key was already used: a handler that refuses
        before its command (data checked against the current state) lets a repeat through
        to `command`, which answers it as the first time."""
        request = idempotency.current_request()
        if request is None or request.key is None:
            return False
        return await self.read(idempotency.find, request.principal(), request.key) is not None

    @staticmethod
    def _claim() -> idempotency.Claim | None:
        """The request's idempotency key, claimed for its first command."""
        request = idempotency.current_request()
        if request is None or request.key is None or request.claimed:
            return None
        request.claimed = True
        return idempotency.Claim(request.principal(), request.key, request.fingerprint())

    @staticmethod
    def _replayed(claim: idempotency.Claim, stored: idempotency.StoredKey) -> Receipt:
        if stored.fingerprint != claim.fingerprint:
            raise idempotency.KeyReusedError()
        return Receipt(**idempotency.receipt_kwargs(stored.receipt))

    async def _caught_up(self, receipt: Receipt) -> Receipt:
        if receipt.notification_id and not await self.runner.progress.wait(
            receipt.notification_id, timeout=10.0
        ):
            # The command is stored; only the views lag. Say so loudly (health reports it too).
            log.error("views did not reach notification %s within 10 s (they stand at %s)",
                      receipt.notification_id, self.runner.progress.position)
        return receipt

    async def hash_password(self, password: str) -> str:
        async with _argon2_slots():
            return await self.call(self.hasher.hash, password)

    async def verify_password(self, password_hash: str, password: str) -> bool:
        """Argon2 costs ~64 MiB and ~0.2 s: a few at a time, on slots of their own, so that a
        flood of sign-ins cannot take every worker thread from the rest of the app."""
        async with _argon2_slots():
            return await self.call(verify_password, self.hasher, password_hash, password)

    async def log_head(self) -> int | None:
        """The log's last notification id (0 when empty); None if the database does not
        answer within 2 s."""
        recorder: Any = self.cqi.recorder
        try:
            async with asyncio.timeout(2):
                async with self.pool.acquire() as conn:
                    head = await conn.fetchval(
                        f'SELECT max(notification_id) FROM "{recorder.datastore.schema}".'
                        f'"{recorder.events_table_name}"')
            return int(head or 0)
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            return None

    async def writes_views(self) -> bool:
        """Whether this replica writes the views: this process, or the views process `cqi
        serve` started beside it (known by its lock connection's name)."""
        if self.runner.is_leader:
            return True
        name = self.settings.views_name
        if not name:
            return False
        try:
            async with asyncio.timeout(2):
                async with self.pool.acquire() as conn:
                    holders = await conn.fetch(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                        " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
                        " AND l.database = (SELECT oid FROM pg_database"
                        "                   WHERE datname = current_database())"
                        " AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1",
                        RUNNER_LOCK_KEY)
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            return False
        return [row[0] for row in holders] == [name]

    async def read(self, query: Callable[..., Any], *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await query(conn, *args)


Svc: TypeAlias = NamedDependency[Services]
"""A handler parameter that receives the process's Services."""
Req: TypeAlias = Request[Any, Any, Any]
