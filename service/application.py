"""The write side: one eventsourcing Application with a verb-named method per command."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Transcoding,
)
from eventsourcing.utils import get_topic

from domain.account import Account, account_id
from domain.errors import DomainError, NotFoundError, ValidationError
from domain.initiative import Cycle, Initiative, TeamMember
from domain.measure import ChartSettings, DataPoint, Measure, OperationalDefinition
from domain.mission import MISSION_ID, Mission, PracticeStandard, Value
from domain.publication import PUBLICATION_ID, Publication
from domain.revisit import Revisit
from service import bridge
from service.audit import ensure_chain_for
from service.codec import CQIMapper, CQITranscoder, SnapshotRecorder, SnapshotStore
from service.hardening import account_change
from service.idempotency import ExpectationFailed, Expected, expecting, note_detail
from service.settings import parse_database_url

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

MAX_ATTEMPTS = 50
LOCK_STRIPES = 1024


class StaleVersionError(DomainError):
    """The command was decided on a version that is no longer current."""

    def __init__(self, current: int, expected: int) -> None:
        super().__init__(
            f"Someone else changed this since you loaded it (you had version {expected}, "
            f"it is now at version {current}). Reload to see their change, then try again."
        )
        self.current = current
        self.expected = expected


@dataclass(frozen=True)
class Receipt:
    """What a command returns: the aggregate changed, its new version, where it is in the log."""

    id: uuid.UUID
    version: int
    notification_id: int
    topics: tuple[str, ...]
    detail: Any = None
    also_saved: tuple[uuid.UUID, ...] = ()
    """Other aggregates saved atomically with it (e.g. the next revisit a cadence schedules)."""


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def dataclass_transcoding(cls: type) -> Transcoding:
    """Aggregates keep small dataclasses in their state; snapshots need them transcoded."""

    class _Transcoding(Transcoding):
        type = cls
        name = cls.__name__.lower()

        def encode(self, obj: Any) -> dict[str, Any]:
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    return _Transcoding()


def eventsourcing_env(database_url: str, pool_size: int = 10) -> dict[str, str]:
    db = parse_database_url(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": db.user,
        "POSTGRES_PASSWORD": db.password,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        # No ping before each checkout (a round trip each): the library retries a statement that
        # fails on a dead connection, and the pool then replaces it.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # Writes a command's idempotency key in the same transaction as its events.
        "APPLICATION_RECORDER_TOPIC": "service.idempotency:IdempotentRecorder",
    }


def split_token(token: str) -> tuple[uuid.UUID, str, str] | None:
    """A bearer token is `<account id hex>.<token id>.<secret>`; None if it is not shaped so."""
    try:
        account_hex, token_id, secret = token.split(".", 2)
        return uuid.UUID(hex=account_hex), token_id, secret
    except ValueError:
        return None


def token_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KnownValues:
    """The agency's value ids a command checks against: filled in by `_change` before each
    attempt decides (they may be newer on a second attempt)."""

    __slots__ = ("ids",)

    def __init__(self) -> None:
        self.ids: set[str] = set()


class Turns:
    """Commands on one event loop waiting for stripes that other commands on it hold: each
    waits on a future, which the holder sets when it is done, handing the stripe on (first
    come, first served). Used on the loop's thread only: no lock of its own."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[asyncio.Future[None]]] = {}

    def take(self, stripe: int) -> None:
        """In a bridged call: the stripe's turn, once the commands before it are done."""
        queue = self._queues.get(stripe)
        if queue is None:
            self._queues[stripe] = deque()  # taken; nobody waits yet
            return
        turn = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            bridge.await_(turn)
        except BaseException:  # the greenlet killed while it waited (a loop closed)
            if turn.done():
                self.give(stripe)  # handed to it: hand it on
            else:
                queue.remove(turn)
            raise

    def give(self, stripe: int) -> None:
        queue = self._queues[stripe]
        if queue:
            queue.popleft().set_result(None)  # handed on: still taken
        else:
            del self._queues[stripe]

    def __len__(self) -> int:
        return len(self._queues)


class CQIApplication(Application[uuid.UUID]):
    """Every command loads, decides, saves. Nothing is updated in place."""

    name = "cqi"
    snapshotting_intervals = {Initiative: 100, Mission: 100, Account: 100, Measure: 100}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.repository.cache is not None:
            # Its fast-forward holds a thread lock while it reads: a second command on the
            # event loop (service/bridge.py) loading the same aggregate would wait for it on
            # the loop's thread, and stop the process. The command cache does its work.
            self.close()
            raise ValueError(f"{self.AGGREGATE_CACHE_MAXSIZE} cannot be used with this "
                             "service: leave it unset")
        ensure_chain_for(self)  # the audit chain's table and trigger, before any write
        if hasattr(self.recorder, "create_save_function"):  # PostgreSQL
            self.recorder.create_save_function()
            # Commands may run on the event loop's thread (service/bridge.py): none of them
            # may take a connection there.
            bridge.forbid_blocking(self.recorder.datastore)
        # Commands on one aggregate queue here instead of racing each other to the database:
        # under many concurrent writers in one process, optimistic retries alone can starve a
        # writer. Writers in other processes are still caught by the retry in `_change`.
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = \
            weakref.WeakKeyDictionary()
        self._known_values: tuple[int, frozenset[str]] | None = None
        from service.command_cache import CommandCache

        # The aggregates this process last saved, reused by its next command on them (see
        # service/command_cache.py for why that is safe). Commands only; readers load.
        self.command_cache = CommandCache()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for cls in (Cycle, TeamMember, Value, PracticeStandard, DataPoint,
                    OperationalDefinition, ChartSettings):
            transcoder.register(dataclass_transcoding(cls))

    def construct_transcoder(self) -> CQITranscoder:
        """The library's JSON format, decoded by msgspec (service/codec.py)."""
        transcoder = CQITranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        """Events are read and written as the library does; snapshots of the large aggregates
        are written in a typed format that decodes many times faster (service/codec.py)."""
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=CQIMapper)

    def construct_snapshot_store(self) -> EventStore[uuid.UUID]:
        """Snapshots are read in PostgreSQL's binary format (a large one is 15x faster so), and a
        large one this process parsed before is built from its kept layout (SnapshotCache)."""
        datastore = getattr(self.factory, "datastore", None)
        if datastore is None:  # not PostgreSQL
            return super().construct_snapshot_store()
        table = (self.env.name.lower() or "stored") + "_snapshots"  # as the library names it
        recorder = SnapshotRecorder(datastore=datastore, events_table_name=table)
        if self.factory.env_create_table():  # type: ignore[attr-defined]
            recorder.create_table()
        return SnapshotStore(mapper=self.mapper, recorder=recorder)

    # --- plumbing ------------------------------------------------------------------------

    def _take_snapshots(self, processing_event: Any) -> None:
        """A snapshot falls due when a save reaches a multiple of the interval. The library
        then loads the aggregate again from the database at that version; when the saved
        aggregate in hand is at exactly that version (a command adding one event, the usual
        case) it is the same state, decided by the same events, so it is snapshotted as it is
        and the read is saved. `cqi verify` still checks every snapshot against its events."""
        if not self.snapshots or not self.snapshotting_intervals:
            return
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is None or interval is None or event.originator_version % interval:
                continue
            if aggregate.version == event.originator_version and not aggregate.pending_events:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                self.snapshots.put([snapshot_class.take(aggregate)])
            else:
                self.take_snapshot(event.originator_id, event.originator_version)


    def load(self, cls: type[A], aggregate_id: uuid.UUID, version: int | None = None) -> A:
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFoundError(f"No {cls.__name__.lower()} has id {aggregate_id}.") from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"No {cls.__name__.lower()} has id {aggregate_id}.")
        return aggregate

    def replay(self, cls: type[A], aggregate_id: uuid.UUID, version: int | None) -> A:
        """The aggregate as it was at `version`: from the nearest snapshot at or before it, then
        the events after it. Snapshots are outside the hash chain, so `cqi verify` rebuilds every
        snapshotted aggregate from its events alone and reports any snapshot that differs
        (`check_snapshots`): a changed snapshot is caught as a changed event is."""
        return self.load(cls, aggregate_id, version)

    def check_snapshots(self) -> tuple[int, list[tuple[uuid.UUID, int, str]]]:
        """How many snapshots there are, and (aggregate id, version, what differs) for each one
        whose state is not the state its aggregate's events give at that version."""
        mismatches = list(self._snapshot_mismatches())
        with self.factory.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(f"SELECT count(*) AS n FROM {self.name}_snapshots")
            count = curs.fetchone()["n"]
        return count, mismatches

    def _snapshot_mismatches(self) -> Iterator[tuple[uuid.UUID, int, str]]:
        """Reads every snapshotted aggregate's events once, in order, up to its last snapshot
        (read first: a snapshot taken while we read is not mistaken for a changed one)."""
        with self.factory.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(f"SELECT DISTINCT originator_id FROM {self.name}_snapshots")
            ids = sorted(row["originator_id"] for row in curs.fetchall())
        for aggregate_id in ids:
            try:
                snapshots = list(self.snapshots.get(aggregate_id))
            except Exception as error:  # unreadable: that is the finding
                yield aggregate_id, 0, f"a snapshot cannot be read ({type(error).__name__})"
                continue
            if not snapshots:
                continue
            events = iter(self.events.get(aggregate_id, lte=snapshots[-1].originator_version))
            aggregate: Any = None
            for snapshot in snapshots:
                while aggregate is None or aggregate.version < snapshot.originator_version:
                    domain_event = next(events, None)
                    if domain_event is None:
                        break
                    aggregate = domain_event.mutate(aggregate)
                if aggregate is None or aggregate.version != snapshot.originator_version:
                    yield (aggregate_id, snapshot.originator_version,
                           "there is no event at the snapshot's version")
                    continue
                try:
                    taken = snapshot.mutate(None)
                except Exception as error:  # unusable: that is the finding
                    yield (aggregate_id, snapshot.originator_version,
                           f"it cannot be turned back into a {type(aggregate).__name__} "
                           f"({type(error).__name__})")
                    continue
                if type(taken) is not type(aggregate):
                    yield (aggregate_id, snapshot.originator_version,
                           f"it is a {type(taken).__name__}, the events make a "
                           f"{type(aggregate).__name__}")
                    continue
                differing = sorted(name for name in set(vars(taken)) | set(vars(aggregate))
                                   if vars(taken).get(name) != vars(aggregate).get(name))
                if differing:
                    yield (aggregate_id, snapshot.originator_version,
                           "its " + ", ".join(name.lstrip("_") for name in differing)
                           + " differ from what the events give")

    def _commit(self, *aggregates: Aggregate, detail: Any = None) -> Receipt:
        pending = [e for a in aggregates for e in a.pending_events]
        topics = tuple(sorted({get_topic(type(e)) for e in pending}))
        note_detail(detail)  # kept with the request's idempotency key, if it has one
        recordings = self.save(*aggregates)
        return Receipt(
            id=aggregates[0].id,
            version=aggregates[0].version,
            notification_id=max(r.notification.id for r in recordings),
            topics=topics,
            detail=detail,
            also_saved=tuple(a.id for a in aggregates[1:]),
        )

    def _change(
        self,
        cls: type[A],
        aggregate_id: uuid.UUID,
        expected_version: int | None,
        decide: Callable[[A], T],
        also: Callable[[A, T], list[Aggregate]] | None = None,
        *,
        values: KnownValues | None = None,
    ) -> Receipt:
        """Load, check the version the caller saw, decide, save; retry a lost race.

        A caller that named a version gets StaleVersionError when it is no longer current;
        one that did not is retried against the new state, so no update is ever lost.
        `values`: the command checks value ids; they are filled in before it decides.

        The first attempt on an aggregate this process stored last decides on that copy
        without reading anything (see `_for_command`); its save then proves what it assumed.
        A refusal decided on such a copy is never reported as it is: the command is decided
        again on what the store holds, and that answer stands.
        """
        with self._turn(aggregate_id.int % LOCK_STRIPES):
            read = False
            for _ in range(MAX_ATTEMPTS):
                # Taken out of the command cache (or loaded): put back only once it is stored,
                # so an exception anywhere below leaves no half-changed copy behind.
                aggregate, assumed = self._for_command(cls, aggregate_id, values, read)
                read = True  # a second attempt reads
                try:
                    if expected_version is not None and aggregate.version != expected_version:
                        raise StaleVersionError(aggregate.version, expected_version)
                    outcome = decide(aggregate)
                    others = also(aggregate, outcome) if also else []
                except DomainError:
                    if assumed is not None:
                        continue  # decided on a copy not checked: check, and decide again
                    raise
                if not aggregate.pending_events:
                    if assumed is not None:
                        continue  # nothing stored proves the copy current: check it
                    self.command_cache.keep(aggregate)
                    return Receipt(aggregate.id, aggregate.version, 0, (), outcome)
                try:
                    with expecting(assumed):
                        receipt = self._commit(aggregate, *others, detail=outcome)
                except ExpectationFailed:
                    continue  # the values were checked against a mission since changed
                except IntegrityError:
                    # Someone else stored this version first: nothing of ours was stored, and
                    # the copy we had is stale. Load it afresh (or report the conflict).
                    if expected_version is not None:
                        current = self.load(cls, aggregate_id).version
                        raise StaleVersionError(current, expected_version) from None
                    continue
                self.command_cache.keep(aggregate)
                return receipt
            raise DomainError("This record is too busy right now; try again in a moment.")

    @contextmanager
    def _turn(self, stripe: int) -> Iterator[None]:
        """Hold the stripe's lock for a command. Commands on the event loop (service/bridge.py)
        first queue on the loop, and each hands the stripe on to the next when it is done; a
        thread's command holding the lock meanwhile (a file import) is waited for in a
        thread."""
        lock = self._stripes[stripe]
        if not bridge.bridged():
            with lock:
                yield
            return
        turns = self._turns.get(asyncio.get_running_loop())
        if turns is None:
            turns = self._turns[asyncio.get_running_loop()] = Turns()
        turns.take(stripe)
        try:
            bridge.acquire(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            turns.give(stripe)

    def _for_command(self, cls: type[A], aggregate_id: uuid.UUID, values: KnownValues | None,
                     read: bool) -> tuple[A, Expected | None]:
        """The aggregate to decide on, with `values` filled in, and what was assumed unread.

        Unless `read`: this process's last saved copy, as it is, with the value ids of the
        mission version this process last saw. Nothing is read: the save proves both, in its
        own transaction. Another save of the aggregate since this copy's version makes the
        save's version a duplicate, which the store refuses; that the copy's version is the
        latest stored, and the mission's version too, is checked while the events table is
        locked (the returned expectation). Else (or with no copy
        kept), the aggregate's and the mission's latest versions are read in one query, and
        the copy is used only if it is still the latest, or the aggregate is loaded; nothing
        is then assumed (None).
        """
        cached = self.command_cache.take(aggregate_id)
        remembered = self._known_values
        if not read and isinstance(cached, cls) and (values is None or remembered is not None):
            # The copy's own version too: a store that lost commits (restored, or failed over
            # to a replica that was behind) would otherwise take a save leaving a gap.
            assumed: dict[uuid.UUID, int] = {aggregate_id: cached.version}
            if values is not None and remembered is not None:
                values.ids = set(remembered[1])
                assumed[MISSION_ID] = remembered[0]
            return cached, assumed
        ids = (MISSION_ID, aggregate_id) if values is not None else (aggregate_id,)
        latest = self._latest_versions(*ids)
        if values is not None:
            values.ids = self.known_value_ids(mission_version=latest.get(MISSION_ID, 0))
        if isinstance(cached, cls) and latest.get(aggregate_id, 0) == cached.version:
            return cached, None
        return self.load(cls, aggregate_id), None

    def _latest_versions(self, *aggregate_ids: uuid.UUID) -> dict[uuid.UUID, int]:
        """The latest stored version of each aggregate that has events, in one query (one
        backward index probe each)."""
        recorder: Any = self.recorder
        from eventsourcing.persistence import InterfaceError, OperationalError
        from eventsourcing.utils import retry

        @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
        def read() -> dict[uuid.UUID, int]:  # retried on a dropped connection, as the library's
            return recorder.latest_versions(aggregate_ids)

        return bridge.off_loop(read)  # its waits between tries too

    # --- mission, vision, values ---------------------------------------------------------

    def mission(self) -> Mission | None:
        try:
            return self.load(Mission, MISSION_ID)
        except NotFoundError:
            return None

    def known_value_ids(self, mission_version: int | None = None) -> set[str]:
        """The agency's value ids, remembered per version of the mission: most commands check
        their values against them, and then pay one indexed lookup of the mission's version
        instead of loading the mission (none when the caller has just read it)."""
        if mission_version is None:
            latest = self.recorder.select_events(MISSION_ID, desc=True, limit=1)
            version = latest[0].originator_version if latest else 0
        else:
            version = mission_version
        remembered = self._known_values
        if remembered is not None and remembered[0] == version:
            return set(remembered[1])
        mission = self.mission()
        ids = mission.value_ids() if mission else set()
        self._known_values = (mission.version if mission else 0, frozenset(ids))
        return set(ids)

    def linked_measure(self, plan: dict[str, object]) -> tuple[dict[str, object], set[str]]:
        """The plan with its linked measure's id written the one way ids are stored, and the
        ids it may link: only that measure, when it exists (a plan is checked against the one
        measure it names, not against every measure of the agency)."""
        named = plan.get("measure_id")
        if not isinstance(named, str) or not named.strip():
            return plan, set()
        try:
            measure_id = uuid.UUID(named.strip())
            found = self.repository.get(measure_id)
        except (ValueError, AggregateNotFoundError):
            return plan, set()
        if not isinstance(found, Measure):
            return plan, set()
        return {**plan, "measure_id": str(measure_id)}, {str(measure_id)}

    def _change_mission(
        self, actor: str, expected_version: int | None, decide: Callable[[Mission], T]
    ) -> Receipt:
        for _ in range(MAX_ATTEMPTS):
            mission = self.mission()
            if mission is None:
                if expected_version not in (None, 0):
                    raise StaleVersionError(0, expected_version)
                mission = Mission(actor=actor)
                outcome = decide(mission)
                try:
                    return self._commit(mission, detail=outcome)
                except IntegrityError:
                    continue  # someone started it at the same moment; decide again on theirs
            return self._change(Mission, MISSION_ID, expected_version, decide)
        raise DomainError("The mission is too busy right now; try again in a moment.")

    def write_mission(
        self, *, actor: str, mission: object, vision: object, revisit_every_months: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change_mission(actor, expected_version, lambda m: m.write_statements(
            actor=actor, mission=mission, vision=vision,
            revisit_every_months=revisit_every_months,
        ))

    def add_value(
        self, *, actor: str, name: object, description: object,
        expected_version: int | None = None,
    ) -> Receipt:
        value_id = str(uuid.uuid4())

        def decide(mission: Mission) -> str:
            mission.add_value(actor=actor, value_id=value_id, name=name, description=description)
            return value_id

        return self._change_mission(actor, expected_version, decide)

    def revise_value(
        self, *, actor: str, value_id: str, name: object, description: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Mission, MISSION_ID, expected_version, lambda m: m.revise_value(
            actor=actor, value_id=value_id, name=name, description=description))

    def add_standard(
        self, *, actor: str, value_id: str, text: object, expected_version: int | None = None
    ) -> Receipt:
        standard_id = str(uuid.uuid4())

        def decide(mission: Mission) -> str:
            mission.add_standard(actor=actor, value_id=value_id, standard_id=standard_id,
                                 text=text)
            return standard_id

        if self.mission() is None:
            raise NotFoundError(f"There is no value with id {value_id}.")
        return self._change(Mission, MISSION_ID, expected_version, decide)

    def retire_standard(
        self, *, actor: str, value_id: str, standard_id: str,
        expected_version: int | None = None,
    ) -> Receipt:
        if self.mission() is None:
            raise NotFoundError(f"There is no value with id {value_id}.")
        return self._change(Mission, MISSION_ID, expected_version, lambda m: m.retire_standard(
            actor=actor, value_id=value_id, standard_id=standard_id))

    # --- initiatives and cycles ----------------------------------------------------------

    def open_initiative(
        self, *, actor: str, title: object, problem: object, aim: object, value_ids: object,
        team: list[dict[str, object]] | None = None,
    ) -> Receipt:
        initiative = Initiative.open(
            actor=actor, title=title, problem=problem, aim=aim, value_ids=value_ids,
            team=team or [], known_value_ids=self.known_value_ids(),
        )
        return self._commit(initiative)

    def revise_charter(
        self, initiative_id: uuid.UUID, *, actor: str, title: object, problem: object,
        aim: object, value_ids: object, expected_version: int | None = None,
    ) -> Receipt:
        known = KnownValues()
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.revise_charter(actor=actor, title=title, problem=problem, aim=aim,
                                             value_ids=value_ids, known_value_ids=known.ids),
                            values=known)

    def add_team_member(
        self, initiative_id: uuid.UUID, *, actor: str, name: object, kind: object, role: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.add_team_member(actor=actor, name=name, kind=kind, role=role))

    def plan_cycle(
        self, initiative_id: uuid.UUID, *, actor: str, plan: dict[str, object],
        expected_version: int | None = None,
    ) -> Receipt:
        known = KnownValues()
        plan, measures = self.linked_measure(plan)
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.plan_cycle(actor=actor, plan=plan, known_value_ids=known.ids,
                                         known_measure_ids=measures), values=known)

    def revise_plan(
        self, initiative_id: uuid.UUID, number: int, *, actor: str, plan: dict[str, object],
        expected_version: int | None = None,
    ) -> Receipt:
        known = KnownValues()
        plan, measures = self.linked_measure(plan)
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.revise_plan(actor=actor, number=number, plan=plan,
                                          known_value_ids=known.ids, known_measure_ids=measures),
                            values=known)

    def record_do(
        self, initiative_id: uuid.UUID, number: int, *, actor: str, observations: object,
        data_collected: object = "", started_on: object = None, today: date | None = None,
        expected_version: int | None = None,
    ) -> Receipt:
        """`today` (the agency's) is the default start and refuses a start in the future."""
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.record_do(actor=actor, number=number, observations=observations,
                                        data_collected=data_collected, started_on=started_on,
                                        today=today))

    def record_study(
        self, initiative_id: uuid.UUID, number: int, *, actor: str, result: object,
        learning: object, studied_on: object = None, today: date | None = None,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.record_study(actor=actor, number=number, result=result,
                                           learning=learning, studied_on=studied_on,
                                           today=today))

    def decide_act(
        self, initiative_id: uuid.UUID, number: int, *, actor: str, decision: object,
        rationale: object, expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.decide_act(actor=actor, number=number, decision=decision,
                                         rationale=rationale))

    def conclude_initiative(
        self, initiative_id: uuid.UUID, *, actor: str, outcome: object, note: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Initiative, initiative_id, expected_version, lambda i:
                            i.conclude(actor=actor, outcome=outcome, note=note))

    # --- revisits ------------------------------------------------------------------------

    def schedule_revisit(
        self, *, actor: str, subject: object, due_on: object, participants: object,
        every_months: int | None = None,
    ) -> Receipt:
        mission = self.mission()
        if every_months is None and mission is not None and subject in ("mission", "vision",
                                                                         "values"):
            every_months = mission.revisit_every_months
        revisit = Revisit.schedule(
            actor=actor, subject=subject, due_on=due_on, participants=participants,
            every_months=every_months, known_value_ids=mission.value_ids() if mission else set(),
        )
        return self._commit(revisit)

    def reschedule_revisit(
        self, revisit_id: uuid.UUID, *, actor: str, due_on: object, reason: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Revisit, revisit_id, expected_version, lambda r:
                            r.reschedule(actor=actor, due_on=due_on, reason=reason))

    def complete_revisit(
        self, revisit_id: uuid.UUID, *, actor: str, held_on: object, outcome: object,
        notes: object, today: date, expected_version: int | None = None,
    ) -> Receipt:
        """Record the outcome; with a cadence, the next revisit is scheduled in the same save."""

        def next_revisit(revisit: Revisit, next_due: date | None) -> list[Aggregate]:
            if next_due is None:
                return []
            return [Revisit(actor=actor, subject=revisit.subject, due_on=next_due,
                            participants=revisit.participants,
                            every_months=revisit.every_months)]

        return self._change(Revisit, revisit_id, expected_version, lambda r: r.complete(
            actor=actor, held_on=held_on, outcome=outcome, notes=notes, today=today),
            also=next_revisit)

    # --- accounts ------------------------------------------------------------------------

    def find_account(self, login: str) -> Account | None:
        try:
            return self.load(Account, account_id(login))
        except NotFoundError:
            return None

    @account_change("account_registered", "login", "role")
    def register_account(
        self, *, actor: str, login: object, display_name: object, role: object,
        password_hash: str,
    ) -> Receipt:
        account = Account.register(actor=actor, login=login, display_name=display_name,
                                   role=role, password_hash=password_hash)
        try:
            return self._commit(account)
        except IntegrityError:
            raise ValidationError({"login": f"{account.login} is already taken"}) from None

    @account_change("role_changed", "role")
    def change_role(self, account: uuid.UUID, *, actor: str, role: object) -> Receipt:
        return self._change(Account, account, None, lambda a: a.change_role(actor=actor,
                                                                              role=role))

    @account_change("password_changed")
    def change_password(self, account: uuid.UUID, *, actor: str, password_hash: str) -> Receipt:
        return self._change(Account, account, None, lambda a: a.change_password(
            actor=actor, password_hash=password_hash))

    @account_change("account_deactivated")
    def deactivate_account(self, account: uuid.UUID, *, actor: str) -> Receipt:
        return self._change(Account, account, None, lambda a: a.deactivate(actor=actor))

    @account_change("token_issued", "label")
    def issue_token(self, account: uuid.UUID, *, actor: str, label: str = "") -> Receipt:
        """A bearer token `<account id hex>.<token id>.<secret>`; only its hash is stored."""
        token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)

        def decide(a: Account) -> str:
            a.issue_token(actor=actor, token_id=token_id, secret_hash=token_secret_hash(secret),
                          label=label)
            return f"{a.id.hex}.{token_id}.{secret}"

        return self._change(Account, account, None, decide)

    @account_change("token_revoked", "token_id")
    def revoke_token(self, account: uuid.UUID, *, actor: str, token_id: str) -> Receipt:
        return self._change(Account, account, None, lambda a: a.revoke_token(actor=actor,
                                                                               token_id=token_id))

    def account_for_token(self, token: str) -> Account | None:
        parts = split_token(token)
        if parts is None:
            return None
        aggregate_id, token_id, secret = parts
        try:
            account = self.load(Account, aggregate_id)
        except NotFoundError:
            return None
        expected = account.tokens.get(token_id)
        if not account.active or expected is None:
            return None
        if not secrets.compare_digest(expected, token_secret_hash(secret)):
            return None
        return account

    # --- measures and their data ---------------------------------------------------------

    def define_measure(
        self, *, actor: str, name: object, type: object, definition: object, unit: object,
        direction: object, goal: object = None, value_ids: object,
    ) -> Receipt:
        measure = Measure.define(
            actor=actor, name=name, type=type, definition=definition, unit=unit,
            direction=direction, goal=goal, value_ids=value_ids,
            known_value_ids=self.known_value_ids(),
        )
        return self._commit(measure)

    def revise_measure(
        self, measure_id: uuid.UUID, *, actor: str, name: object, type: object,
        definition: object, unit: object, direction: object, goal: object = None,
        value_ids: object, expected_version: int | None = None,
    ) -> Receipt:
        known = KnownValues()
        return self._change(Measure, measure_id, expected_version, lambda m: m.revise(
            actor=actor, name=name, type=type, definition=definition, unit=unit,
            direction=direction, goal=goal, value_ids=value_ids, known_value_ids=known.ids),
            values=known)

    # How a measure's charts are read: baseline, phases, exclusions, flags, annotations.

    def _change_chart(self, measure_id: uuid.UUID, expected_version: int | None,
                      decide: Callable[[Measure], None]) -> Receipt:
        return self._change(Measure, measure_id, expected_version, decide)

    def freeze_baseline(self, measure_id: uuid.UUID, *, actor: str, through: object,
                        expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.freeze_baseline(
            actor=actor, through=through))

    def unfreeze_baseline(self, measure_id: uuid.UUID, *, actor: str,
                          expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.unfreeze_baseline(
            actor=actor))

    def start_phase(self, measure_id: uuid.UUID, *, actor: str, period: object, label: object,
                    expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.start_phase(
            actor=actor, period=period, label=label))

    def remove_phase(self, measure_id: uuid.UUID, *, actor: str, period: object,
                     expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.remove_phase(
            actor=actor, period=period))

    def exclude_point(self, measure_id: uuid.UUID, *, actor: str, period: object,
                      reason: object, expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.exclude_point(
            actor=actor, period=period, reason=reason))

    def include_point(self, measure_id: uuid.UUID, *, actor: str, period: object,
                      reason: object, expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.include_point(
            actor=actor, period=period, reason=reason))

    def flag_astronomical(self, measure_id: uuid.UUID, *, actor: str, period: object,
                          reason: object, expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.flag_astronomical(
            actor=actor, period=period, reason=reason))

    def unflag_astronomical(self, measure_id: uuid.UUID, *, actor: str, period: object,
                            expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.unflag_astronomical(
            actor=actor, period=period))

    def annotate_measure(self, measure_id: uuid.UUID, *, actor: str, on: object, text: object,
                         today: date | None = None,
                         expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.annotate(
            actor=actor, on=on, text=text, today=today))

    def remove_annotation(self, measure_id: uuid.UUID, *, actor: str, on: object,
                          expected_version: int | None = None) -> Receipt:
        return self._change_chart(measure_id, expected_version, lambda m: m.remove_annotation(
            actor=actor, on=on))

    def record_data_point(
        self, measure_id: uuid.UUID, *, actor: str, period: object, value: object = None,
        numerator: object = None, denominator: object = None, note: object = "",
        today: date | None = None, expected_version: int | None = None,
    ) -> Receipt:
        """One period's data; `today` (the agency's) refuses periods that have not started."""
        return self._change(Measure, measure_id, expected_version, lambda m: m.record_point(
            actor=actor, period=period, value=value, numerator=numerator,
            denominator=denominator, note=note, today=today))

    def correct_data_point(
        self, measure_id: uuid.UUID, *, actor: str, period: object, value: object = None,
        numerator: object = None, denominator: object = None, reason: object,
        expected_version: int | None = None,
    ) -> Receipt:
        return self._change(Measure, measure_id, expected_version, lambda m: m.correct_point(
            actor=actor, period=period, value=value, numerator=numerator,
            denominator=denominator, reason=reason))

    def import_data_points(
        self, measure_id: uuid.UUID, *, actor: str, points: list[dict[str, Any]],
        today: date | None = None, expected_version: int | None = None,
    ) -> Receipt:
        """Many points in one event and one save: all of them or, if any is refused, none.
        The receipt's detail is how many were recorded."""
        return self._change(Measure, measure_id, expected_version, lambda m: m.import_points(
            actor=actor, points=points, today=today))

    # --- publication: what the public pages show ------------------------------------------

    def publication(self) -> Publication | None:
        try:
            return self.load(Publication, PUBLICATION_ID)
        except NotFoundError:
            return None

    def _change_publication(
        self, actor: str, expected_version: int | None, decide: Callable[[Publication], T]
    ) -> Receipt:
        """The publication is started by its first change (until then nothing is public)."""
        for _ in range(MAX_ATTEMPTS):
            if self.publication() is None:
                if expected_version not in (None, 0):
                    raise StaleVersionError(0, expected_version)
                publication = Publication(actor=actor)
                outcome = decide(publication)
                try:
                    return self._commit(publication, detail=outcome)
                except IntegrityError:
                    continue  # someone started it at the same moment; decide again on theirs
            return self._change(Publication, PUBLICATION_ID, expected_version, decide)
        raise DomainError("The publication is too busy right now; try again in a moment.")

    def open_public_pages(
        self, *, actor: str, note: object = "", expected_version: int | None = None
    ) -> Receipt:
        return self._change_publication(actor, expected_version, lambda p: p.open_pages(
            actor=actor, note=note))

    def close_public_pages(
        self, *, actor: str, note: object = "", expected_version: int | None = None
    ) -> Receipt:
        return self._change_publication(actor, expected_version, lambda p: p.close_pages(
            actor=actor, note=note))

    def publish_measure(
        self, measure_id: uuid.UUID, *, actor: str, expected_version: int | None = None
    ) -> Receipt:
        self.load(Measure, measure_id)  # NotFoundError: there is no such measure
        return self._change_publication(actor, expected_version, lambda p: p.publish_measure(
            actor=actor, measure_id=measure_id))

    def withdraw_measure(
        self, measure_id: uuid.UUID, *, actor: str, expected_version: int | None = None
    ) -> Receipt:
        return self._change_publication(actor, expected_version, lambda p: p.withdraw_measure(
            actor=actor, measure_id=measure_id))

    def publish_initiative(
        self, initiative_id: uuid.UUID, *, actor: str, expected_version: int | None = None
    ) -> Receipt:
        self.load(Initiative, initiative_id)  # NotFoundError: there is no such initiative
        return self._change_publication(actor, expected_version, lambda p: p.publish_initiative(
            actor=actor, initiative_id=initiative_id))

    def withdraw_initiative(
        self, initiative_id: uuid.UUID, *, actor: str, expected_version: int | None = None
    ) -> Receipt:
        return self._change_publication(
            actor, expected_version,
            lambda p: p.withdraw_initiative(actor=actor, initiative_id=initiative_id))

    # --- history -------------------------------------------------------------------------

    def history(self, aggregate_id: uuid.UUID) -> Iterator[Any]:
        return iter(self.events.get(aggregate_id))

    def version_at(self, aggregate_id: uuid.UUID, moment: datetime) -> int | None:
        """The highest version recorded at or before `moment` (None: it did not exist yet)."""
        version = None
        for domain_event in self.events.get(aggregate_id):
            if domain_event.timestamp > moment:
                break
            version = domain_event.originator_version
        return version
