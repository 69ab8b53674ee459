"""A per-process cache of reads that is never behind an acknowledged write.

Every request that may use the cache first learns where the database stands — the newest event
in the store and the board's views' positions — from a query SENT AFTER THE REQUEST ARRIVED (the
fence). An entry is used only if it was read at exactly that standing. A write acknowledged
before the request arrived (by this process or any other) is committed, so the fence sees it and
the entry is not used: a revoked token, a changed role, a new initiative count at once.

The fence is shared: the requests that arrive while one fence query is on its way wait for the
next, which is sent as soon as that one is answered. Under load one round trip serves many
requests, and each of them still gets a standing read after it arrived. If the fence fails
(database away, a view's table being rebuilt), nothing is served from the cache.

Why these keys are exact:
- events: the store's highest notification id. The event store's inserts take an EXCLUSIVE lock
  on its table until commit, so events commit in notification-id order: a snapshot that sees
  id K sees every event up to K, and any event committed later has an id above K. Whatever is a
  function of the events alone (who holds a bearer token, with which role) is the same while K
  is. An entry is always read AFTER its K was read, so it is never older than K says.
- views: each view's tracking table (its identity, `oid`, changes when a rebuild drops and
  re-creates it) and position. A view's rows change only in the transaction that moves its
  position, so rows read in the same snapshot as (oid, position) are what the view holds at
  that position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

FENCE_TIMEOUT = 5.0
"""Seconds a fence may take (to connect, or to answer) before the cache is off for it."""
RETRY_AFTER = 1.0
"""Seconds without a connection attempt after one failed (the cache stays off meanwhile)."""

BOARD_VIEWS = ("cycle_board_v1", "revisits_v1", "value_names_v1")
"""The views the board page reads (cycle board, overdue revisits, value names)."""


@dataclass(frozen=True)
class Standing:
    """Where the database stood when the fence was read."""

    events: int
    """The store's highest notification id (0: no event yet)."""
    views: tuple[tuple[int, int], ...] | None
    """(oid, position) of each of BOARD_VIEWS' tracking tables; None while one is missing."""


def standing_query(events_table: str, application: str,
                   views: Sequence[str] = BOARD_VIEWS) -> tuple[str, tuple[Any, ...]]:
    """One statement: the store's head and every view's tracking identity and position."""
    columns = [f"(SELECT max(notification_id) FROM {events_table}) AS events"]
    for k, view in enumerate(views):
        tracking = f"{view}_tracking"
        columns.append(f"to_regclass('{tracking}')::oid AS oid_{k}")
        columns.append(f"(SELECT max(notification_id) FROM {tracking}"
                       f" WHERE application_name = $1) AS position_{k}")
    return "SELECT " + ", ".join(columns), (application,)


def standing_of(row: asyncpg.Record, views: int = len(BOARD_VIEWS)) -> Standing:
    pairs = tuple((row[1 + 2 * k], row[2 + 2 * k] or 0) for k in range(views))
    complete = all(oid is not None for oid, _ in pairs)
    return Standing(row[0] or 0, pairs if complete else None)


class ReadCache:
    """The fence and the cached entries of one process (one event loop)."""

    def __init__(self, max_entries: int = 10_000, max_pages: int = 256) -> None:
        self._entries = Entries(max_entries)
        self.pages = Entries(max_pages)
        """Whole pages (~16 KB each), fewer of them."""
        self._next: asyncio.Future[Standing | None] | None = None
        """The fence round that requests arriving now join: not sent yet."""
        self._sending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._retry_at = 0.0
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self.fences = 0
        """Fence queries sent (each serves every request that joined its round)."""
        self.fence_failures = 0

    # --- the fence ----------------------------------------------------------------------

    async def standing(self, dsn: str, events_table: str, application: str
                       ) -> Standing | None:
        """Where the database stands, read by a query sent after this call began; None if it
        could not be read (then nothing may be served from the cache)."""
        if not self.enabled:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): start afresh
            self._loop, self._next, self._sending = loop, None, False
            self._conn, self._retry_at = None, 0.0
            self.clear()
        if self._next is None:
            self._next = loop.create_future()
            if not self._sending:
                self._sending = True
                self._task = loop.create_task(self._send_rounds(dsn, events_table, application))
        return await asyncio.shield(self._next)

    async def _send_rounds(self, dsn: str, events_table: str, application: str) -> None:
        query, args = standing_query(events_table, application)
        round_: asyncio.Future[Standing | None] | None = None
        try:
            while self._next is not None:
                # Detached before the query is sent: whoever joins from now on waits for the
                # next round, whose query goes out after they arrived.
                round_, self._next = self._next, None
                self.fences += 1
                try:
                    conn = await self._connection(dsn)
                    row = await conn.fetchrow(query, *args, timeout=FENCE_TIMEOUT)
                    result: Standing | None = standing_of(row)
                except Exception as error:  # whatever it was, nothing may be served
                    self.fence_failures += 1
                    expected = isinstance(error, (OSError, asyncpg.PostgresError,
                                                  asyncpg.InterfaceError, TimeoutError))
                    (log.debug if expected else log.warning)(
                        "read cache: no standing (%r); not serving from the cache", error)
                    if not isinstance(error, asyncpg.PostgresError) or _connection_lost(error):
                        await self._drop_connection()
                    result = None
                if not round_.done():
                    round_.set_result(result)
        finally:
            self._sending = False
            if round_ is not None and not round_.done():  # its requests must not wait forever
                round_.set_result(None)
            if self._next is not None and not self._next.done():  # cancelled mid-way
                self._next.set_result(None)
                self._next = None

    async def _connection(self, dsn: str) -> asyncpg.Connection:
        """The fence's own connection (a pooled one would cost a reset round trip at each
        release); after a failure to connect, none is tried for a second."""
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            raise ConnectionError("the read cache's connection failed a moment ago")
        try:
            self._conn = await asyncpg.connect(dsn, timeout=FENCE_TIMEOUT)
        except BaseException:
            self._retry_at = loop.time() + RETRY_AFTER
            raise
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        """Close the fence's connection (at shutdown)."""
        if self._conn is not None and self._loop is asyncio.get_running_loop():
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    # --- entries ------------------------------------------------------------------------

    def get(self, key: Hashable, stamp: Hashable, entries: Entries | None = None
            ) -> tuple[bool, Any]:
        """(True, value) if `key` was stored at exactly `stamp`."""
        found, value = (entries or self._entries).get(key, stamp)
        if found:
            self.hits += 1
        else:
            self.misses += 1
        return found, value

    def put(self, key: Hashable, stamp: Hashable, value: Any,
            entries: Entries | None = None) -> None:
        (entries or self._entries).put(key, stamp, value)

    def clear(self) -> None:
        self._entries.clear()
        self.pages.clear()


class Entries:
    """Values filed under a key and the stamp they were read at; the least recently stored
    go first beyond `max_entries`."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()

    def get(self, key: Hashable, stamp: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == stamp:
            return True, entry[1]
        return False, None

    def put(self, key: Hashable, stamp: Hashable, value: Any) -> None:
        self._entries[key] = (stamp, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def _connection_lost(error: asyncpg.PostgresError) -> bool:
    state = getattr(error, "sqlstate", None) or ""
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def read_cache_of(scope: Any) -> ReadCache | None:
    """The app's read cache (None if the app was built without one)."""
    app = scope.get("litestar_app") if isinstance(scope, dict) else None
    state = getattr(app, "state", None)
    return getattr(state, "read_cache", None) if state is not None else None
