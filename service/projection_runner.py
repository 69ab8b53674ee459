"""Keeps the views up to date: one thread, one LISTEN connection, batched catch-up.

Each batch of events is applied to every view and every view's tracking position is recorded
in ONE transaction, so a crash at any point leaves each view exactly at a committed position.
Only the process holding a PostgreSQL advisory lock writes; others follow the tracking tables
so that their requests can still wait for their own writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import retry
from psycopg import sql
from psycopg.rows import tuple_row

from projections.accounts import Accounts
from projections.alignment import Alignment
from projections.api_tokens import ApiTokens
from projections.base import Projection
from projections.cycle_board import CycleBoard
from projections.cycles import Cycles
from projections.measure_data import MeasureData
from projections.overdue_revisits import OverdueRevisits
from projections.published import Published
from projections.value_names import ValueNames
from service.application import CQIApplication

log = logging.getLogger(__name__)

RUNNER_LOCK_KEY = 0x43515F56  # "CQ_V": one projection writer per database
BATCH_LOCK_KEY = RUNNER_LOCK_KEY + 1  # held by the transaction of each batch
LOCK_CONNECTION_TIMEOUTS = {
    # The writer lock lives as long as its connection. A writer that dies on its own host
    # closes the socket and the server frees the lock at once; one whose host or network
    # vanishes would hold it until TCP gives up (two hours by default, or ~15 minutes of
    # retransmissions while notifications are being sent). Both ends declare such a peer
    # dead after about 11 s: the server (options) and this process (libpq's own settings).
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 11000,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2"
               " -c tcp_keepalives_count=3 -c tcp_user_timeout=11000",
}
SCHEMA_LOCK_KEY = RUNNER_LOCK_KEY + 2  # held while tables are created (several replicas start)
CATCH_UP_BATCH_SIZE = 5000  # the largest batch while the views catch up (see ProjectionRunner)
STALL_SECONDS = 30.0
"""Views that stand still this long behind the log are reported by the health check (see
ProjectionRunner.stalled_for)."""


def all_projections() -> list[Projection]:
    return [ValueNames(), Accounts(), CycleBoard(), OverdueRevisits(), MeasureData(), Cycles(),
            Alignment(), Published(), ApiTokens()]


class Progress:
    """The position up to which every view has processed the application's log.

    The runner thread advances it; request handlers (on an event loop) and the CLI (threads)
    wait on it. Waiters are woken directly, no polling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.position = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def advance(self, position: int) -> None:
        with self._lock:
            self.position = position
            ready = [w for w in self._waiters if w[0] <= position]
            self._waiters = [w for w in self._waiters if w[0] > position]
            self._changed.notify_all()
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in ready:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():  # one wake-up of each loop, not one per waiter
            loop.call_soon_threadsafe(_resolve, futures)

    async def wait(self, notification_id: int, timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.position >= notification_id:
                return True
            future: asyncio.Future[None] = loop.create_future()
            waiter = (notification_id, loop, future)
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await future
            return True
        except TimeoutError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            return self.position >= notification_id

    def wait_sync(self, notification_id: int, timeout: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.position >= notification_id, timeout)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


class ProjectionRunner:
    def __init__(
        self,
        app: CQIApplication,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 500,
        catch_up_batch_size: int | None = None,
        lock_name: str | None = None,
    ) -> None:
        self.app = app
        self.lock_name = lock_name
        """The application name of the connection that holds (or asks for) the writer lock;
        None: the connection's default (PGAPPNAME)."""
        self.projections = list(projections or all_projections())
        self.batch_size = batch_size
        """Events read for a batch when the views are up to date (live batches hold the few
        events written meanwhile)."""
        self.catch_up_batch_size = max(batch_size, catch_up_batch_size or CATCH_UP_BATCH_SIZE)
        """The most a batch takes while the views catch up (a rebuild, a backlog): each batch
        that comes back full doubles the next one up to this, and one that does not goes back
        to `batch_size`. Each view writes a batch with a few statements per table, so larger
        batches cost less per event."""
        self._limit = batch_size
        self.progress = Progress()
        self.datastore = app.factory.datastore  # type: ignore[attr-defined]
        self.recorders = {
            p.name: PostgresTrackingRecorder(self.datastore, tracking_table_name=p.tracking_table)
            for p in self.projections
        }
        for projection in self.projections:
            recorder = self.recorders[projection.name]
            recorder.sql_create_statements.extend(sql.SQL(s) for s in projection.ddl)  # type: ignore[arg-type]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = False
        self.error: BaseException | None = None
        """The last failure of the runner thread, until a batch next goes through (or, in a
        process that does not hold the writer lock, until the views move past where they stood
        then, or reach the head of the log); the health check reports it."""
        self._failed_at = 0
        self.stall_seconds = STALL_SECONDS
        self._behind: tuple[int, float] | None = None
        # Statements kept as bytes: psycopg turns a Composed into bytes at every execute.
        self._positions_query: bytes | None = None
        self._views_by_type: dict[type, list[int]] = {}
        self._read_query: bytes | None = None
        self._record_queries: dict[tuple[str, ...], bytes] = {}

    def stalled_for(self, head: int, now: float) -> float | None:
        """Seconds for which the views have stood still behind `head` (the log's last
        notification id, just read), once that is `stall_seconds` or more; else None.

        This catches what `error` cannot: a writer in another process that holds the lock but
        no longer moves the views (a batch hung on a lock, a process frozen), which its
        followers would otherwise not notice. `now` is a monotonic clock's reading. The time
        is counted from the first call that saw the views behind at their present position,
        so a check that meets a command just stored is never taken for a stall."""
        position = self.progress.position
        if head <= position:
            self._behind = None
            return None
        if self._behind is None or self._behind[0] != position:
            self._behind = (position, now)
            return None
        still = now - self._behind[1]
        return still if still >= self.stall_seconds else None

    # --- tables --------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the views' tables if missing. Replicas starting together would race on
        `CREATE TABLE IF NOT EXISTS` (one fails on the catalogue's unique index), so creation is
        serialised across processes by an advisory lock, held on a connection of its own."""
        with self._connect() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
            for recorder in self.recorders.values():
                recorder.create_table()

    def drop_tables(self) -> None:
        """Drop every view's tables and tracking (used by rebuild); one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            for projection in self.projections:
                for table in (*projection.tables, projection.tracking_table):
                    curs.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                        sql.Identifier(table)))

    def positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as curs:
            return self._positions(curs)

    def _positions(self, curs: Any) -> dict[str, int]:
        """Every view's position, in one round trip (a batch reads them twice)."""
        if self._positions_query is None:
            self._positions_query = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                sql.SQL("(SELECT max(notification_id) FROM {} WHERE application_name = %(app)s) "
                        "AS {}").format(sql.Identifier(p.tracking_table), sql.Identifier(f"p{k}"))
                for k, p in enumerate(self.projections))).as_bytes(None)
        curs.execute(self._positions_query, {"app": self.app.name}, prepare=True)
        row = curs.fetchone()
        values = row.values() if isinstance(row, dict) else row
        return {p.name: value or 0 for p, value in zip(self.projections, values, strict=True)}

    # --- processing ----------------------------------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def process_batch(self) -> int:
        """Apply the next batch of events to every view that has not seen them; return count.

        One transaction reads the positions, the events after the lowest, applies them and
        records the new positions: a failure anywhere leaves every view where it stood, so the
        whole batch may be tried again (the retry: the database restarting, a dropped
        connection)."""
        limit = self._limit
        with self.datastore.transaction(commit=True) as curs:
            # Batches are serialised even if two processes ever believe they are the writer
            # (e.g. one lost its lock connection mid-batch): the positions are read after the
            # lock, so no event is applied twice. Reading them in this transaction also holds
            # off a rebuild's DROP until it ends, and a rebuild done before it shows as views
            # at zero. (Read in a transaction of their own, rolled back, they cost more: psycopg
            # forgets its prepared statements at every ROLLBACK and sends DEALLOCATE ALL.)
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (BATCH_LOCK_KEY,), prepare=True)
            positions = self._positions(curs)
            start = min(positions.values())
            notifications = self._read(curs, start, limit)
            if not notifications:
                self._limit = self.batch_size
                last = start
            else:
                self._limit = (min(2 * limit, self.catch_up_batch_size)
                               if len(notifications) == limit else self.batch_size)
                last = notifications[-1].id
                self._apply(curs, notifications, positions, last)
        self.progress.advance(last)
        return len(notifications)

    def _apply(self, curs: Any, notifications: list[Notification], positions: dict[str, int],
               last: int) -> None:
        # Each view gets the batch's events it has not seen and writes them with a few
        # statements per table for the whole batch (projections/base.py), in pipeline mode:
        # they go out without waiting for each answer. An error still surfaces before the
        # commit, and the whole batch is rolled back.
        to_domain_event = self.app.mapper.to_domain_event
        seen = [positions[p.name] for p in self.projections]
        batches: list[list[Any]] = [[] for _ in self.projections]
        for notification in notifications:
            domain_event = to_domain_event(notification)
            for k in self._views_of(type(domain_event)):
                if notification.id > seen[k]:
                    batches[k].append(domain_event)
        with curs.connection.pipeline():
            for projection, events in zip(self.projections, batches, strict=True):
                # Every view, even with no event of its own: a broken view fails each batch.
                projection.apply(curs, events)
        # After the pipeline, so that reading back the count meets this statement's result.
        self._record_positions(curs, last, positions)
        # Wakes the processes that follow (delivered at commit): their requests waiting for
        # read-your-writes go on at once, not at their next look at the positions. The
        # payload is the new position: a follower needs no query to know it.
        curs.execute("SELECT pg_notify(%s, %s)", (self.views_channel, str(last)), prepare=True)

    def _read(self, curs: Any, start: int, limit: int) -> list[Notification]:
        """The notifications after `start`, as the recorder's select_notifications reads them
        but only the columns needed, as tuples in binary (a large share of a rebuild's time
        went into making a dict of each row)."""
        if self._read_query is None:
            self._read_query = sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(sql.Identifier(self.datastore.schema),
                     sql.Identifier(self.app.recorder.events_table_name)  # type: ignore[attr-defined]
                     ).as_bytes(None)
        with curs.connection.cursor(row_factory=tuple_row, binary=True) as rows:
            rows.execute(self._read_query, (start, limit), prepare=True)
            return [Notification(id=i, originator_id=o, originator_version=v, topic=t,
                                 state=bytes(state))
                    for i, o, v, t, state in rows.fetchall()]

    def _views_of(self, event_type: type) -> list[int]:
        """The views (their indexes) that handle events of this type."""
        views = self._views_by_type.get(event_type)
        if views is None:
            views = self._views_by_type[event_type] = [
                k for k, p in enumerate(self.projections)
                if not hasattr(p, "handles_event_type") or p.handles_event_type(event_type)]
        return views

    def _record_positions(self, curs: Any, last: int, positions: dict[str, int]) -> None:
        """Move every view that took part in the batch to `last`: the library's own tracking
        upserts (each moves its view forward only), all in one statement, one round trip."""
        moved = [p for p in self.projections if last > positions[p.name]]
        if not moved:
            return
        names = tuple(p.name for p in moved)
        query = self._record_queries.get(names)
        if query is None:
            steps = sql.SQL(", ").join(
                sql.SQL("{} AS ({})").format(sql.Identifier(f"moved_{k}"),
                                             self.recorders[p.name].insert_tracking_statement)
                for k, p in enumerate(moved))
            count = sql.SQL(" + ").join(
                sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(f"moved_{k}"))
                for k in range(len(moved)))
            query = self._record_queries[names] = sql.SQL(
                "WITH {} SELECT {} AS moved").format(steps, count).as_bytes(None)
        curs.execute(query, {"application_name": self.app.name, "notification_id": last})
        row = curs.fetchone()
        done = row["moved"] if isinstance(row, dict) else row[0]
        if done != len(moved):
            raise IntegrityError(f"the positions of {len(moved)} views were to move to {last}; "
                                 f"{done} moved (another writer?)")

    def catch_up_or_follow(self, head: int, timeout: float = 600.0) -> int:
        """Bring the views to `head`: by processing, or, if a running server holds the writer
        lock, by waiting for its runner to do it. Returns the events this process applied."""
        with self._connect() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUNNER_LOCK_KEY,)).fetchone()
            if row and row[0]:
                return self.catch_up()
        deadline = time.monotonic() + timeout
        while min(self.positions().values()) < head:
            if time.monotonic() > deadline:
                raise TimeoutError("the running server's projection runner did not catch up")
            time.sleep(0.2)
        return 0

    def catch_up(self) -> int:
        """Process until the views reach the head of the log; return events processed."""
        total = 0
        while processed := self.process_batch():
            total += max(processed, 0)
        return total

    # --- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        self.create_tables()
        self._thread = threading.Thread(target=self._run, name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            if self._thread.is_alive():
                self._wake()
            self._thread.join(timeout)

    def _wake(self) -> None:
        """Cut short the thread's wait for a notification instead of letting it time out."""
        channel = self.app.recorder.channel_name  # type: ignore[attr-defined]
        with contextlib.suppress(Exception), self.datastore.transaction(commit=True) as curs:
            curs.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(channel)))

    def _connect(self) -> psycopg.Connection[Any]:
        info = self.datastore.pool.kwargs
        return psycopg.connect(
            dbname=info["dbname"], host=info["host"], port=info["port"], user=info["user"],
            password=info["password"], autocommit=True, connect_timeout=10,
            **LOCK_CONNECTION_TIMEOUTS,
            **({"application_name": self.lock_name} if self.lock_name else {}),
        )

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    self.create_tables()  # a rebuild elsewhere may have dropped them
                    self._serve(conn)
            except Exception as error:  # the database went away, or a view failed: keep trying
                self.error = error
                self._failed_at = self.progress.position
                self.is_leader = False
                log.error("projection runner: the views are not being updated (they stand at "
                          "notification %s): %r; retrying in 1 s", self.progress.position, error,
                          exc_info=error)
                self._stopping.wait(1.0)

    @property
    def views_channel(self) -> str:
        """Notified by the writer each time the views move on (followers listen to it)."""
        return f"{self.app.recorder.channel_name}_views"  # type: ignore[attr-defined]

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        channel = self.app.recorder.channel_name  # type: ignore[attr-defined]
        # A follower hears only the writer's "views moved on"; the writer hears new events.
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.views_channel)))
        woken_to: int | None = None
        while not self._stopping.is_set():
            if not self.is_leader and woken_to is None:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUNNER_LOCK_KEY,)).fetchone()
                self.is_leader = bool(row and row[0])
                if self.is_leader:  # its own batches' notifications would only wake it
                    conn.execute(sql.SQL("UNLISTEN {}").format(
                        sql.Identifier(self.views_channel)))
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            if self.is_leader:
                processed = self.process_batch()
                self.error = None  # cleared only once a batch went through
                if processed:
                    # Busy: no waiting, but read the lock connection all the same, so that a
                    # writer whose connection (and with it the lock) is gone stops within a
                    # batch or two instead of writing on for as long as events keep coming.
                    for _ in conn.notifies(timeout=0):
                        pass
                    continue
            else:
                # Another process writes the views; follow its progress for our waiters:
                # from the writer's notification when one came, else by reading the positions
                # (and trying for the lock: the writer may be gone).
                position = woken_to if woken_to is not None else min(self.positions().values())
                self.progress.advance(position)
                if self.error is not None and (
                        position > self._failed_at
                        or position >= (self.app.recorder.max_notification_id() or 0)):
                    self.error = None  # the writer moves the views on (or has nothing to do)
            woken_to = None
            for note in conn.notifies(timeout=0.25 if self.is_leader else 0.05, stop_after=1):
                if note.channel == self.views_channel and note.payload.isdigit():
                    woken_to = int(note.payload)
