"""Snapshots written in the typed format, and those written before in the library's JSON, load
to the state the events give; `check_snapshots` still names a changed or unreadable one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.application import Repository
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper

from domain.initiative import Initiative
from service.application import CQIApplication, eventsourcing_env
from service.codec import SNAPSHOT_MAGIC


@pytest.fixture
def app(database_url: str) -> Iterator[CQIApplication]:
    application = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    yield application
    application.close()


def an_initiative_of(app: CQIApplication, events: int) -> uuid.UUID:
    value = app.add_value(actor="test", name="Family voice", description="Heard").detail
    initiative_id = app.open_initiative(actor="test", title="Before the snapshot",
                                        problem="Not heard", aim="Heard", value_ids=[value]).id
    initiative = app.load(Initiative, initiative_id)
    for k in range(events - 1):
        initiative.add_team_member(actor="test", name=f"Member {k}", kind="staff", role="ally")
    app.save(initiative)
    return initiative_id


def stored_snapshots(database_url: str, aggregate_id: uuid.UUID) -> list[tuple[int, bytes]]:
    with psycopg.connect(database_url) as conn:
        return [(version, bytes(state)) for version, state in conn.execute(
            "SELECT originator_version, state FROM cqi_snapshots WHERE originator_id = %s"
            " ORDER BY originator_version", (aggregate_id,)).fetchall()]


def change_snapshot(database_url: str, aggregate_id: uuid.UUID, state: bytes) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE cqi_snapshots SET state = %s WHERE originator_id = %s",
                     (state, aggregate_id))


def from_events(app: CQIApplication, aggregate_id: uuid.UUID, version: int | None = None
                ) -> dict[str, object]:
    aggregate = Repository(event_store=app.events).get(aggregate_id, version=version)
    return vars(aggregate)


def test_new_snapshots_are_typed_and_load_to_the_state_the_events_give(
    app: CQIApplication, database_url: str
) -> None:
    initiative_id = an_initiative_of(app, 250)
    snapshots = stored_snapshots(database_url, initiative_id)
    assert [version for version, _ in snapshots] == [100, 200]
    assert all(state.startswith(SNAPSHOT_MAGIC) for _, state in snapshots)
    assert vars(app.repository.get(initiative_id)) == from_events(app, initiative_id)
    for version in (100, 150, 200, 201):
        past = app.replay(Initiative, initiative_id, version)
        assert vars(past) == from_events(app, initiative_id, version)
    assert app.check_snapshots() == (2, [])


def test_a_snapshot_stored_in_the_librarys_json_still_loads(
    app: CQIApplication, database_url: str
) -> None:
    initiative_id = an_initiative_of(app, 99)
    library = Mapper(transcoder=app.mapper.transcoder)  # the mapper every snapshot had so far
    snapshot = Snapshot.take(app.repository.get(initiative_id, version=60))
    app.snapshots.recorder.insert_events([library.to_stored_event(snapshot)])  # type: ignore[union-attr]
    [(version, state)] = stored_snapshots(database_url, initiative_id)
    assert version == 60 and state.startswith(b'{"')
    for version in (60, 61, 99):
        past = app.replay(Initiative, initiative_id, version)
        assert vars(past) == from_events(app, initiative_id, version)
    assert app.check_snapshots() == (1, [])


def test_check_snapshots_names_a_changed_typed_snapshot(
    app: CQIApplication, database_url: str
) -> None:
    initiative_id = an_initiative_of(app, 100)
    [(_, state)] = stored_snapshots(database_url, initiative_id)
    change_snapshot(database_url, initiative_id,
                    state.replace(b"Before the snapshot", b"Forged title"))
    [(aggregate_id, version, finding)] = app.check_snapshots()[1]
    assert (aggregate_id, version) == (initiative_id, 100)
    assert finding == "its title differ from what the events give"


@pytest.mark.parametrize("damage", [
    lambda state: state[: len(state) // 2],
    lambda state: state.replace(b"domain.initiative:Initiative", b"domain.measure:Measure", 1),
    lambda state: state.replace(b'"kind":"staff"', b'"kind":7', 1),
])
def test_check_snapshots_names_an_unreadable_typed_snapshot(
    app: CQIApplication, database_url: str, damage: object
) -> None:
    initiative_id = an_initiative_of(app, 100)
    [(_, state)] = stored_snapshots(database_url, initiative_id)
    change_snapshot(database_url, initiative_id, damage(state))  # type: ignore[operator]
    [(aggregate_id, _, finding)] = app.check_snapshots()[1]
    assert aggregate_id == initiative_id
    assert finding == "a snapshot cannot be read (MapperDeserialisationError)"
