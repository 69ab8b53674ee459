"""Baseline for commands: what the `eventsourcing` library does by default, behind Litestar.

A plain `Application` (default settings: its JSON mapper, no snapshots, one `save()` per
command, its default connection pool) on the same PostgreSQL; the library's own
`eventsourcing.projection.ProjectionRunner`, one event per transaction, keeps a small view
(`charter_view`: id, title, version) in a process of its own (`python -m tests.bench.http_es
runner`); and a Litestar app (`tests.bench.http_es:app`, a factory, served by
tests.bench.http_serve like ours) whose command handler loads the aggregate, changes it, saves
it, then returns once the view has the event: `TrackingRecorder.wait()`, which polls the
tracking table with a 100 -> 800 ms back-off. Reads DATABASE_URL.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import Environment
from litestar import Litestar, post, put
from psycopg.sql import SQL

from service.settings import parse_database_url

VIEW_TABLE = "charter_view"
WAIT_TIMEOUT_S = 10.0


class Charter(Aggregate):
    def __init__(self, title: str) -> None:
        self.title = title

    @event("Revised")
    def revise(self, title: str) -> None:
        self.title = title


class Charters(Application[uuid.UUID]):
    """Everything left at the library's defaults."""


class CharterView(PostgresTrackingRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(SQL(
            f"CREATE TABLE IF NOT EXISTS {VIEW_TABLE} (id uuid PRIMARY KEY, title text NOT NULL,"
            " version integer NOT NULL)"))

    def put(self, charter_id: uuid.UUID, title: str, version: int, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"INSERT INTO {VIEW_TABLE} (id, title, version) VALUES (%s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title,"
                " version = EXCLUDED.version", (charter_id, title, version))
            self._insert_tracking(curs, tracking)


class CharterProjection(Projection[CharterView]):
    name = "charter_view"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Charter.Created, tracking: Tracking) -> None:
        self.view.put(domain_event.originator_id, domain_event.title,
                      domain_event.originator_version, tracking)

    @process_event.register
    def _(self, domain_event: Charter.Revised, tracking: Tracking) -> None:
        self.view.put(domain_event.originator_id, domain_event.title,
                      domain_event.originator_version, tracking)


def library_env() -> dict[str, str]:
    db = parse_database_url(os.environ["DATABASE_URL"])
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": db.user,
        "POSTGRES_PASSWORD": db.password,
    }


SETUP_LOCK = 0x62656E63  # "benc"


class TitleIn(msgspec.Struct):
    title: str


def app() -> Litestar:
    import psycopg

    env = library_env()
    # Each server worker creates the tables if missing; two doing it at once can fail
    # ("tuple concurrently updated"), so they take turns.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as turn:
        turn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        charters = Charters(env=env)
        view = (InfrastructureFactory[CharterView]
                .construct(env=Environment(CharterProjection.name, {**os.environ, **env}))
                .tracking_recorder(CharterView))

    def saved_and_seen(charter: Charter) -> int:
        recordings = charters.save(charter)
        view.wait(charters.name, recordings[-1].notification.id, timeout=WAIT_TIMEOUT_S)
        return charter.version

    @post("/charters", sync_to_thread=True)
    def create(data: TitleIn) -> dict[str, Any]:
        charter = Charter(data.title)
        saved_and_seen(charter)
        return {"id": str(charter.id)}

    @put("/charters/{charter_id:uuid}", sync_to_thread=True)
    def revise(charter_id: uuid.UUID, data: TitleIn) -> dict[str, Any]:
        charter: Charter = charters.repository.get(charter_id)
        charter.revise(data.title)
        return {"version": saved_and_seen(charter)}

    return Litestar(route_handlers=[create, revise], on_shutdown=[charters.close])


def run_projection() -> None:
    """The library's runner, until SIGTERM or SIGINT."""
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as turn:
        turn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))  # tables: one at a time
        runner = ProjectionRunner(application_class=Charters, projection_class=CharterProjection,
                                  view_class=CharterView, env=library_env())
    with runner:
        print("projection runner ready", flush=True)
        while not stopping.wait(0.2):
            runner.run_forever(timeout=0)  # re-raises the runner's failure, if any


if __name__ == "__main__":
    # Run the module's own copy, not __main__'s: the stored events name their classes by
    # the module's import path, and the projection must dispatch on those very classes.
    from tests.bench.http_es import run_projection as run

    run()
