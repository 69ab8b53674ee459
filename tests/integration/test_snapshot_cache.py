"""A large snapshot is read and parsed once per process; each load still gets its own objects,
a newer snapshot (written by any process) is read, past versions use the nearest snapshot, and
a store whose snapshots were deleted loads from the events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from domain.initiative import Initiative
from service.application import CQIApplication, eventsourcing_env
from service.codec import SnapshotCache
from tests.integration.test_snapshot_format import an_initiative_of, from_events


def counting(app: CQIApplication) -> dict[str, int]:
    """Counts the snapshots `app` reads with their state, and those it parses."""
    counts = {"read": 0, "parsed": 0}
    store = app.snapshots
    read, parse = store.recorder.select_events, store.mapper.parse_snapshot  # type: ignore[union-attr]

    def counted_read(*args: object, **kwargs: object) -> object:
        counts["read"] += 1
        return read(*args, **kwargs)  # type: ignore[arg-type]

    def counted_parse(*args: object, **kwargs: object) -> object:
        counts["parsed"] += 1
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    store.recorder.select_events = counted_read  # type: ignore[union-attr,method-assign]
    store.mapper.parse_snapshot = counted_parse  # type: ignore[union-attr,method-assign]
    return counts


@pytest.fixture
def app(database_url: str) -> Iterator[CQIApplication]:
    application = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    application.snapshots.cache = SnapshotCache(min_size=1)  # type: ignore[union-attr]
    yield application
    application.close()


@pytest.fixture
def other(database_url: str) -> Iterator[CQIApplication]:
    """Another process's application on the same store."""
    application = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    yield application
    application.close()


def add_members(app: CQIApplication, initiative_id: uuid.UUID, count: int, tag: str) -> None:
    initiative = app.load(Initiative, initiative_id)
    for k in range(count):
        initiative.add_team_member(actor="test", name=f"{tag} {k}", kind="staff", role="ally")
    app.save(initiative)


def test_a_snapshot_is_parsed_once_and_every_load_gets_objects_of_its_own(
    app: CQIApplication,
) -> None:
    initiative_id = an_initiative_of(app, 150)
    counts = counting(app)
    first = app.repository.get(initiative_id)
    assert counts == {"read": 1, "parsed": 1}
    first.team[0].role = "changed in memory"  # as a command would, before its events are saved
    first.value_ids.append("not saved")
    for _ in range(3):
        again = app.repository.get(initiative_id)
        assert vars(again) == from_events(app, initiative_id)
    assert counts == {"read": 1, "parsed": 1}


def test_a_newer_snapshot_written_by_another_process_is_read(
    app: CQIApplication, other: CQIApplication,
) -> None:
    initiative_id = an_initiative_of(app, 150)
    app.repository.get(initiative_id)  # keeps the snapshot at version 100
    add_members(other, initiative_id, 100, "Later")  # another process: a snapshot at 200
    counts = counting(app)
    loaded = app.repository.get(initiative_id)
    assert loaded.version == 250 and vars(loaded) == from_events(app, initiative_id)
    assert counts == {"read": 1, "parsed": 1}
    assert vars(app.repository.get(initiative_id)) == from_events(app, initiative_id)
    assert counts == {"read": 1, "parsed": 1}


def test_past_versions_start_from_the_nearest_snapshot_kept_or_not(
    app: CQIApplication,
) -> None:
    initiative_id = an_initiative_of(app, 250)  # its save read the snapshot at 100 back
    app.snapshots.cache = SnapshotCache(min_size=1)  # type: ignore[union-attr]
    counts = counting(app)
    for version in (250, 150, 99, 100, 201, 120, 1):
        past = app.replay(Initiative, initiative_id, version)
        assert vars(past) == from_events(app, initiative_id, version), version
    # 250 and 201 share the snapshot at 200, 150, 100 and 120 the one at 100; 99 and 1 have none.
    assert counts["parsed"] == 2


def test_a_store_whose_snapshots_were_deleted_loads_from_the_events(
    app: CQIApplication, database_url: str,
) -> None:
    initiative_id = an_initiative_of(app, 150)
    app.repository.get(initiative_id)
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM cqi_snapshots")
    assert vars(app.repository.get(initiative_id)) == from_events(app, initiative_id)
    assert vars(app.replay(Initiative, initiative_id, 120)) == \
        from_events(app, initiative_id, 120)


def test_a_snapshot_due_at_the_saved_version_is_taken_from_the_aggregate_in_hand(
    app: CQIApplication, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that ends exactly on a snapshot's version snapshots the aggregate it saved, with
    no read of the store, and that snapshot is the state the events give."""
    initiative_id = an_initiative_of(app, 99)
    initiative = app.load(Initiative, initiative_id)
    initiative.add_team_member(actor="test", name="The hundredth", kind="staff", role="ally")
    assert initiative.version == 100

    def no_read(*args: object, **kwargs: object) -> object:
        raise AssertionError("the store was read to take the snapshot")

    monkeypatch.setattr(app.repository, "get", no_read)
    app.save(initiative)
    monkeypatch.undo()
    with psycopg.connect(database_url) as conn:
        versions = [v for (v,) in conn.execute(
            "SELECT originator_version FROM cqi_snapshots WHERE originator_id = %s",
            (initiative_id,))]
    assert versions == [100]
    fresh = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    try:
        assert vars(fresh.repository.get(initiative_id)) == from_events(app, initiative_id)
        assert fresh.check_snapshots()[1] == []
    finally:
        fresh.close()
