"""The command cache: a process reuses the aggregate it last saved for its next command, never
a stale or half-changed copy. Two application instances on one database stand for two server
processes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from domain.errors import DomainError
from domain.initiative import Initiative
from domain.mission import MISSION_ID
from service.application import CQIApplication, eventsourcing_env
from service.command_cache import size_of

ACTOR = "tester"


@pytest.fixture
def two_apps(database_url: str) -> Iterator[tuple[CQIApplication, CQIApplication]]:
    first = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    second = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    yield first, second
    first.close()
    second.close()


def an_initiative(app: CQIApplication) -> uuid.UUID:
    if not app.known_value_ids():
        app.write_mission(actor=ACTOR, mission="Keep children safe.",
                          vision="Every child thrives.", revisit_every_months=None)
        app.add_value(actor=ACTOR, name="Safety", description="")
    value_id = sorted(app.known_value_ids())[0]
    return app.open_initiative(actor=ACTOR, title="Visits", problem="Visits are late.",
                               aim="Visit within a day.", value_ids=[value_id]).id


def add(app: CQIApplication, initiative_id: uuid.UUID, name: str, **kwargs):
    return app.add_team_member(initiative_id, actor=ACTOR, name=name, kind="staff",
                               role="notes", **kwargs)


def team(app: CQIApplication, initiative_id: uuid.UUID) -> list[str]:
    return [m.name for m in app.load(Initiative, initiative_id).team]


def test_the_next_command_reuses_the_saved_aggregate_instead_of_loading_it(two_apps,
                                                                            monkeypatch):
    app, _ = two_apps
    iid = an_initiative(app)
    add(app, iid, "Ann")
    assert iid in app.command_cache
    loads = []
    monkeypatch.setattr(app, "load", lambda *a, **k: loads.append(a) or pytest.fail("loaded"))
    receipt = add(app, iid, "Bob")
    assert receipt.version == 3
    assert loads == []
    monkeypatch.undo()
    assert team(app, iid) == ["Ann", "Bob"]


def test_a_copy_another_process_moved_past_is_reloaded_and_no_update_is_lost(two_apps):
    first, second = two_apps
    iid = an_initiative(first)
    add(first, iid, "Ann")  # first keeps version 2
    add(second, iid, "Bob")  # version 3, written by the other process
    receipt = add(first, iid, "Cy")  # first's copy is stale: it must not be used as is
    assert receipt.version == 4
    assert team(second, iid) == ["Ann", "Bob", "Cy"]
    # and If-Match is judged against the stored version, not the stale copy
    add(second, iid, "Dee")  # version 5
    with pytest.raises(DomainError) as refused:
        add(first, iid, "Eve", expected_version=4)
    assert refused.value.current == 5
    assert add(first, iid, "Eve", expected_version=5).version == 6
    assert team(second, iid) == ["Ann", "Bob", "Cy", "Dee", "Eve"]


def test_a_copy_that_goes_stale_just_before_its_save_is_refused_by_the_store_then_reloaded(
        two_apps):
    first, second = two_apps
    iid = an_initiative(first)
    add(first, iid, "Ann")
    raced = []

    def decide(initiative: Initiative) -> None:
        if not raced:  # the other process saves between our version check and our save
            raced.append(add(second, iid, "Bob"))
        initiative.add_team_member(actor=ACTOR, name="Cy", kind="staff", role="notes")

    receipt = first._change(Initiative, iid, None, decide)
    assert raced[0].version == 3
    assert receipt.version == 4
    assert team(second, iid) == ["Ann", "Bob", "Cy"]
    # named a version that lost the race: reported, nothing stored
    add(first, iid, "Dee")  # 5, cached by first
    raced.clear()

    def decide_on_5(initiative: Initiative) -> None:
        if not raced:
            raced.append(add(second, iid, "Eve"))
        initiative.add_team_member(actor=ACTOR, name="Fay", kind="staff", role="notes")

    with pytest.raises(DomainError) as refused:
        first._change(Initiative, iid, 5, decide_on_5)
    assert refused.value.current == 6
    assert team(second, iid) == ["Ann", "Bob", "Cy", "Dee", "Eve"]


def test_an_exception_while_deciding_drops_the_half_changed_copy(two_apps):
    app, _ = two_apps
    iid = an_initiative(app)
    add(app, iid, "Ann")

    def half_then_fail(initiative: Initiative) -> None:
        initiative.add_team_member(actor=ACTOR, name="Ghost", kind="staff", role="notes")
        raise DomainError("refused after a first change")

    with pytest.raises(DomainError):
        app._change(Initiative, iid, None, half_then_fail)
    assert iid not in app.command_cache
    receipt = add(app, iid, "Bob")
    assert receipt.version == 3
    assert team(app, iid) == ["Ann", "Bob"]


def test_an_exception_while_saving_drops_the_copy(two_apps, monkeypatch):
    app, _ = two_apps
    iid = an_initiative(app)
    add(app, iid, "Ann")

    def failing_save(*aggregates, **kwargs):
        raise OSError("the database went away")

    monkeypatch.setattr(app, "save", failing_save)
    with pytest.raises(OSError):
        add(app, iid, "Ghost")
    monkeypatch.undo()
    assert iid not in app.command_cache
    assert add(app, iid, "Bob").version == 3
    assert team(app, iid) == ["Ann", "Bob"]


def test_concurrent_commands_through_two_processes_lose_nothing_and_store_nothing_twice(
        two_apps):
    first, second = two_apps
    iid = an_initiative(first)
    names = [f"Writer {w} member {c}" for w in range(8) for c in range(5)]
    errors = []

    def writer(w: int) -> None:
        app = (first, second)[w % 2]
        try:
            for c in range(5):
                add(app, iid, f"Writer {w} member {c}")
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    stored = team(first, iid)
    assert sorted(stored) == sorted(names)
    versions = [e.originator_version for e in first.history(iid)]
    assert versions == list(range(1, len(names) + 2))


def test_only_so_many_aggregates_of_modest_size_are_kept(two_apps):
    app, _ = two_apps
    app.command_cache.capacity = 2
    ids = [an_initiative(app) for _ in range(3)]
    for iid in ids:
        add(app, iid, "Ann")  # version 2
    assert ids[0] not in app.command_cache  # the least recently used went first
    assert ids[1] in app.command_cache and ids[2] in app.command_cache
    app.command_cache.largest_size = size_of(app.load(Initiative, ids[2])) + 1
    add(app, ids[2], "Bob")  # one more team member: still kept
    assert ids[2] in app.command_cache
    add(app, ids[2], "Cy")  # two more: larger than allowed, no longer kept
    assert ids[2] not in app.command_cache
    assert add(app, ids[2], "Dee").version == 5
    assert team(app, ids[2]) == ["Ann", "Bob", "Cy", "Dee"]


def test_a_long_history_alone_does_not_stop_an_aggregate_being_kept(two_apps):
    app, _ = two_apps
    iid = an_initiative(app)
    value_id = sorted(app.known_value_ids())[0]
    initiative = app.load(Initiative, iid)
    for n in range(1_200):
        initiative.revise_charter(actor=ACTOR, title=f"Revision {n}", problem="p", aim="a",
                                  value_ids=[value_id], known_value_ids={value_id})
    app.save(initiative)
    assert add(app, iid, "Ann").version == 1_202
    assert iid in app.command_cache


def recording_reads(app: CQIApplication, monkeypatch) -> list[tuple[uuid.UUID, ...]]:
    reads: list[tuple[uuid.UUID, ...]] = []
    latest_versions = app._latest_versions
    monkeypatch.setattr(app, "_latest_versions", lambda *ids: reads.append(ids)
                        or latest_versions(*ids))
    return reads


def test_a_command_on_the_copy_this_process_stored_last_reads_nothing_before_it_decides(
        two_apps, monkeypatch):
    app, _ = two_apps
    iid = an_initiative(app)
    value_id = sorted(app.known_value_ids())[0]
    charter = {"actor": ACTOR, "problem": "p", "aim": "a", "value_ids": [value_id]}
    app.revise_charter(iid, title="First", **charter)  # cached at version 2
    reads = recording_reads(app, monkeypatch)
    monkeypatch.setattr(app.recorder, "select_events", lambda *a, **k: pytest.fail("read"))
    monkeypatch.setattr(app, "load", lambda *a, **k: pytest.fail("loaded"))
    assert app.revise_charter(iid, title="Second", **charter).version == 3
    assert add(app, iid, "Ann").version == 4
    assert reads == []
    monkeypatch.undo()
    assert app.load(Initiative, iid).title == "Second"


def test_a_value_another_process_added_is_accepted_after_one_read(two_apps, monkeypatch):
    """The copy and the value ids this process knows are both behind: the refusal decided
    on them ("no such value") is not the answer; the command reads, reloads and decides
    again."""
    app, other = two_apps
    iid = an_initiative(app)
    value_id = sorted(app.known_value_ids())[0]
    charter = {"actor": ACTOR, "problem": "p", "aim": "a", "value_ids": [value_id]}
    app.revise_charter(iid, title="First", **charter)  # cached at version 2
    other.add_value(actor=ACTOR, name="Equity", description="")
    added = (other.known_value_ids() - {value_id}).pop()
    other.revise_charter(iid, title="Third", **charter)  # version 3, elsewhere
    reads = recording_reads(app, monkeypatch)
    receipt = app.revise_charter(iid, title="Fourth", **{**charter, "value_ids": [added]})
    assert receipt.version == 4
    assert len(reads) == 1
    assert list(app.load(Initiative, iid).value_ids) == [added]


def test_values_checked_against_a_mission_changed_since_are_checked_again_before_storing(
        two_apps, monkeypatch):
    """The copy is current, but another process changed the mission since this process last
    saw it: the save, which assumed that mission version, is refused under the events table's
    lock (nothing stored), and the command reads and decides again."""
    app, other = two_apps
    iid = an_initiative(app)
    value_id = sorted(app.known_value_ids())[0]
    charter = {"actor": ACTOR, "problem": "p", "aim": "a", "value_ids": [value_id]}
    app.revise_charter(iid, title="First", **charter)  # cached at version 2
    mission_before = app.mission().version
    other.add_value(actor=ACTOR, name="Equity", description="")
    reads = recording_reads(app, monkeypatch)
    receipt = app.revise_charter(iid, title="Second", **charter)
    assert receipt.version == 3
    assert reads == [(MISSION_ID, iid)]  # the retry's read; the first attempt read nothing
    assert app._known_values[0] == mission_before + 1
    assert app.load(Initiative, iid).title == "Second"
    assert len(app.recorder.select_events(iid)) == 3  # no version stored twice, none lost


def test_a_kept_copy_ahead_of_the_store_is_not_saved_over_a_gap(two_apps, database_url):
    """The store lost the last version this process saved (a restore, a failover to a replica
    that was behind): the next command must not store a version after a missing one. The save
    expects the copy's version to be the latest stored, is refused, and the command decides
    again on what the store holds."""
    app, other = two_apps
    iid = an_initiative(app)
    add(app, iid, "Ann")  # version 2, kept
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE cqi_events DISABLE TRIGGER USER")  # the audit chain's
        conn.execute("DELETE FROM cqi_events WHERE originator_id = %s"
                     " AND originator_version = 2", (iid,))
        conn.execute("ALTER TABLE cqi_events ENABLE TRIGGER USER")
    assert add(app, iid, "Bob").version == 2
    assert team(other, iid) == ["Bob"]
