"""Commands on the event loop's thread (service/bridge.py) against PostgreSQL: every database
call they make runs in a thread, and a save is answered with what was stored."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from domain.initiative import Initiative
from service import bridge
from service.application import CQIApplication, eventsourcing_env
from service.codec import SnapshotCache
from tests.integration.test_snapshot_format import an_initiative_of


@pytest.fixture
def app(database_url):  # type: ignore[no-untyped-def]
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    app.snapshots.cache = SnapshotCache(min_size=1)  # every snapshot parsed is kept
    yield app
    app.close()


def stored_version(database_url: str, aggregate_id) -> int:  # type: ignore[no-untyped-def]
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT max(originator_version) FROM cqi_events WHERE "
                            "originator_id = %s", (aggregate_id,)).fetchone()[0]


async def test_a_command_on_an_aggregate_whose_snapshot_this_process_keeps_reads_off_the_loop(
        app, database_url):
    """Its load asks for the newest snapshot's version before using the kept one."""
    initiative_id = an_initiative_of(app, 150)  # a snapshot at version 100
    value = next(iter(app.known_value_ids()))
    app.load(Initiative, initiative_id)  # a page's read: the snapshot is now kept
    app.command_cache.drop(initiative_id)  # as for a large aggregate, or another's write
    receipt = await bridge.run_bridged(lambda: app.revise_charter(
        initiative_id, actor="test", title="Revised", problem="p", aim="a", value_ids=[value]))
    assert receipt.version == 151 == stored_version(database_url, initiative_id)


async def test_a_snapshot_falling_due_inside_a_save_of_several_events_is_taken_off_the_loop(
        app, database_url):
    """Two events crossing a multiple of 100: the snapshot is read back and written after the
    save's commit. Failing there would answer an error for a stored write."""
    initiative_id = an_initiative_of(app, 199)
    initiative = app.load(Initiative, initiative_id)  # its version 100 snapshot is kept
    for k in range(2):
        initiative.add_team_member(actor="test", name=f"Late {k}", kind="staff", role="ally")
    loop_thread = threading.get_ident()
    recordings = await bridge.run_bridged(lambda: app.save(initiative))
    assert [r.domain_event.originator_version for r in recordings] == [200, 201]
    assert stored_version(database_url, initiative_id) == 201
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT max(originator_version) FROM cqi_snapshots WHERE "
                            "originator_id = %s", (initiative_id,)).fetchone()[0] == 200
    assert threading.get_ident() == loop_thread


async def test_commands_on_many_aggregates_at_once_are_all_stored_in_shared_transactions(
        app, database_url):
    value = app.add_value(actor="test", name="Safety", description="").detail
    ids = [app.open_initiative(actor="test", title=f"I{k}", problem="p", aim="a",
                               value_ids=[value]).id for k in range(12)]
    before = app.recorder._group.groups
    receipts = await asyncio.gather(*(bridge.run_bridged(
        lambda i=i, n=n: app.revise_charter(i, actor="test", title=f"R{n}", problem="p",
                                            aim="a", value_ids=[value]))
        for i in ids for n in range(3)))
    assert sorted(r.version for r in receipts) == sorted([2, 3, 4] * 12)
    assert all(stored_version(database_url, i) == 4 for i in ids)
    assert app.recorder._group.groups - before < 36  # some saves shared a transaction


def test_the_librarys_aggregate_cache_is_refused_at_start_up(database_url):
    """Its fast-forward holds a thread lock while it reads: on the event loop's thread a
    second command loading the same aggregate would wait for it forever."""
    with pytest.raises(ValueError, match="AGGREGATE_CACHE_MAXSIZE cannot be used"):
        CQIApplication(env={**eventsourcing_env(database_url, pool_size=1),
                            "AGGREGATE_CACHE_MAXSIZE": "100"})
