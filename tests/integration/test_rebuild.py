"""Every view rebuilt from zero out of the events holds exactly the rows it held live."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from projections.accounts import TABLE as ACCOUNTS
from projections.cycle_board import TABLE as CYCLE_BOARD
from projections.cycles import INITIATIVES as CYCLE_INITIATIVES
from projections.measure_data import ENTRIES as MEASURE_ENTRIES
from projections.measure_data import POINTS as MEASURE_POINTS
from projections.measure_data import TABLE as MEASURES
from projections.overdue_revisits import TABLE as REVISITS
from projections.value_names import TABLE as VALUE_NAMES
from service.projection_runner import ProjectionRunner, all_projections
from tests.integration.conftest import charter_body, plan_body
from tests.integration.measures_support import define_measure, import_csv, measures_with_data

ROOT = Path(__file__).resolve().parents[2]
VIEW_TABLES = sorted({table for projection in all_projections() for table in projection.tables})


def test_the_rebuild_covers_the_four_views():
    assert {VALUE_NAMES, ACCOUNTS, CYCLE_BOARD, REVISITS} <= set(VIEW_TABLES)
    assert {MEASURES, MEASURE_POINTS, MEASURE_ENTRIES} <= set(VIEW_TABLES)


def snapshot(database_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(database_url) as conn:
        return {
            table: sorted(conn.execute(  # whole rows in order: some tables' keys span columns
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))).fetchall(), key=repr)
            for table in VIEW_TABLES
        }


async def a_realistic_agency(agency, services) -> None:
    """Mission and values revised, initiatives in every phase and status, revisits scheduled,
    rescheduled and held with a cadence, accounts changed."""
    c, leader, member = agency.client, agency.leader, agency.member
    agency.ok(await c.put("/api/v1/mission", headers=leader, json={
        "mission": "Children safe, families strong", "vision": "Every family heard",
        "revisit_every_months": 12}))
    engagement = await agency.value("Family engagment", "Families are partners")
    safety = await agency.value("Child safety")
    agency.ok(await c.put(f"/api/v1/values/{engagement}", headers=leader,
                          json={"name": "Family engagement", "description": "Partners"}))
    agency.ok(await c.post(f"/api/v1/values/{safety}/standards", headers=leader,
                           json={"text": "The worker sees the child alone at every visit"}), 201)

    proposed = await agency.initiative(title="Proposed: youth voice")
    agency.ok(await c.post(f"/api/v1/initiatives/{proposed}/team", headers=member,
                           json={"name": "Youth board", "kind": "consumer", "role": "advisor"}))
    in_study = await agency.initiative(title="Safety visits", value_ids=[safety])
    await agency.plan(in_study, value_id=safety)
    await agency.do(in_study, 1)
    await agency.study(in_study, 1)
    adapted = await agency.initiative(title="Family meetings")
    await agency.run_cycle(adapted, "adapt")  # cycle 2 opened pre-filled
    agency.ok(await c.put(f"/api/v1/initiatives/{adapted}", headers=leader,
                          json=charter_body([engagement, safety], title="Family team meetings")))
    sustained = await agency.initiative(title="Kinship first")
    await agency.run_cycle(sustained, "adopt")
    agency.ok(await c.post(f"/api/v1/initiatives/{sustained}/conclude", headers=member,
                           json={"outcome": "sustained", "note": "Now policy"}))
    abandoned = await agency.initiative(title="Paper forms")
    await agency.plan(abandoned)
    agency.ok(await c.post(f"/api/v1/initiatives/{abandoned}/conclude", headers=member,
                           json={"outcome": "abandoned", "note": "Went digital"}))

    held = await agency.revisit(subject="mission", due_on="2025-01-15")
    agency.ok(await c.post(f"/api/v1/revisits/{held}/complete", headers=leader,
                           json={"outcome": "revised", "notes": "Consumer voice added",
                                 "held_on": "2025-02-01"}))
    moved = await agency.revisit(subject=safety, due_on="2025-06-01", every_months=6)
    agency.ok(await c.post(f"/api/v1/revisits/{moved}/reschedule", headers=leader,
                           json={"due_on": "2025-07-01", "reason": "Audit first"}))
    await agency.revisit(subject="values", due_on="2024-11-30")

    await measures_with_data(agency)
    visits = await define_measure(agency, name="Days to first visit", unit="continuous",
                                  direction="down", goal=None, definition={"denominator": ""})
    await import_csv(agency, visits, "period,value\n" + "".join(
        f"2025-{m:02d}-01,{v}\n" for m, v in zip(range(1, 9), [9, 8, 9, 7, 4, 5, 4, 30],
                                                  strict=True)))
    settings = f"/api/v1/measures/{visits}"
    agency.ok(await c.post(f"{settings}/phases", headers=member,
                           json={"period": "2025-05-01", "label": "Same-day assignment"}), 201)
    agency.ok(await c.post(f"{settings}/annotations", headers=member,
                           json={"on": "2025-03-10", "text": "Two workers left"}), 201)
    agency.ok(await c.post(f"{settings}/data/2025-08-01/exclude", headers=member,
                           json={"reason": "Migration week"}))
    agency.ok(await c.post(f"{settings}/data/2025-08-01/astronomical", headers=member,
                           json={"reason": "Migration week"}))
    linked = await agency.initiative(title="Same-day visits")
    agency.ok(await c.post(f"/api/v1/initiatives/{linked}/cycles", headers=member,
                           json=plan_body(await agency.default_value(), measure_id=visits)), 201)
    agency.ok(await c.post(f"/api/v1/initiatives/{linked}/cycles/1/do", headers=member,
                           json={"observations": "Tried", "started_on": "2025-05-02"}))
    published = (await agency.listing("/api/v1/measures"))[0]["id"]
    for step in ("open", f"measures/{published}/publish", f"initiatives/{sustained}/publish",
                 f"initiatives/{abandoned}/publish", f"initiatives/{abandoned}/withdraw"):
        agency.ok(await c.post(f"/api/v1/publication/{step}", headers=leader))

    await services.call(services.cqi.change_role, uuid.UUID(agency.ids["viewer"]),
                        actor=agency.ids["leader"], role="auditor")
    await services.command(services.cqi.deactivate_account, uuid.UUID(agency.ids["auditor"]),
                           actor=agency.ids["leader"])


def run_cli_rebuild(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    cqi = Path(sys.executable).with_name("cqi")
    env = {**os.environ, "DATABASE_URL": database_url, "CQI_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(ROOT)}  # the same code as these tests
    return subprocess.run([str(cqi), "projections", "rebuild"], env=env, cwd=data_dir,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
async def live_views(agency, services, settings):
    await a_realistic_agency(agency, services)
    views = snapshot(settings.database_url)
    assert all(views.values()), {table: len(rows) for table, rows in views.items() if not rows}
    return views


async def test_cqi_projections_rebuild_gives_identical_rows_while_the_server_runs(
    live_views, settings, tmp_path, services, agency,
):
    done = run_cli_rebuild(settings.database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Rebuilt" in done.stdout
    assert snapshot(settings.database_url) == live_views
    # the running server's views keep working and keep following new events
    iid = await agency.initiative(title="After the rebuild")
    assert iid in [i["id"] for i in await agency.listing("/api/v1/initiatives")]


async def test_cqi_projections_rebuild_gives_identical_rows_with_no_server_running(
    live_views, settings, tmp_path, services,
):
    await services.call(services.runner.stop)
    done = run_cli_rebuild(settings.database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert snapshot(settings.database_url) == live_views


async def test_an_in_process_rebuild_gives_identical_rows(live_views, settings, services):
    await services.call(services.runner.stop)  # one writer of the views at a time
    # Batch edges fall mid-command; a second rebuild lets batches grow (mixed sizes).
    runner = ProjectionRunner(services.cqi, batch_size=7, catch_up_batch_size=7)
    await services.call(runner.drop_tables)
    assert not tables_present(settings.database_url) & set(VIEW_TABLES)
    await services.call(runner.create_tables)
    assert await services.call(runner.catch_up) > 0
    head = services.cqi.recorder.max_notification_id()
    assert set((await services.call(runner.positions)).values()) == {head}
    assert snapshot(settings.database_url) == live_views
    growing = ProjectionRunner(services.cqi, batch_size=3, catch_up_batch_size=40)
    await services.call(growing.drop_tables)
    await services.call(growing.create_tables)
    assert await services.call(growing.catch_up) == head
    assert snapshot(settings.database_url) == live_views


def test_batches_grow_while_the_views_catch_up_and_shrink_once_they_have(database_url):
    from service.application import CQIApplication, eventsourcing_env

    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        value = app.add_value(actor="test", name="Child safety", description="").detail
        initiative = app.open_initiative(actor="test", title="Every child seen", problem="p",
                                         aim="a", value_ids=[value]).id

        members = iter(range(1000))

        def add_members(count: int) -> None:
            for _ in range(count):
                app.add_team_member(initiative, actor="test", name=f"Member {next(members)}",
                                    kind="staff", role="caseworker")

        add_members(60)
        runner = ProjectionRunner(app, batch_size=4, catch_up_batch_size=16)
        runner.create_tables()
        sizes = [runner.process_batch() for _ in range(7)]
        head = app.recorder.max_notification_id()
        assert 60 < head < 4 + 8 + 16 * 4
        assert sizes == [4, 8, 16, 16, 16, head - 60, 0]  # a backlog, then none
        add_members(1)
        assert runner.process_batch() == 1
        add_members(6)
        assert runner.process_batch() == 4  # live again: the small batch first
    finally:
        app.close()


def tables_present(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


async def test_a_runner_that_was_at_the_head_before_a_rebuild_starts_the_rebuilt_views_from_zero(
    live_views, settings, services, agency,
):
    """A runner whose views stood at the head when a rebuild dropped and re-created them must
    apply every event to the new, empty views, not only those after where it stood: a batch
    reads the positions from the tables, in its own transaction."""
    await services.call(services.runner.stop)
    late = ProjectionRunner(services.cqi)
    await services.call(late.catch_up)
    head = services.cqi.recorder.max_notification_id()
    assert set((await services.call(late.positions)).values()) == {head}
    rebuild = ProjectionRunner(services.cqi)
    await services.call(rebuild.drop_tables)
    await services.call(rebuild.create_tables)
    await services.call(services.cqi.open_initiative, actor=agency.ids["member"],
                        title="Written during the rebuild", problem="p", aim="a",
                        value_ids=[await agency.default_value()])
    stored = len(services.cqi.recorder.select_notifications(start=1, limit=late.batch_size))
    assert stored < late.batch_size  # one batch takes them all
    assert await services.call(late.process_batch) == stored  # all of them, from the first
    views = snapshot(settings.database_url)
    titles = sorted(row[1] for row in views[CYCLE_BOARD])
    assert titles == sorted([row[1] for row in live_views[CYCLE_BOARD]]
                            + ["Written during the rebuild"])
    opened = {CYCLE_BOARD, CYCLE_INITIATIVES}  # the views an opened initiative adds a row to
    assert {t: v for t, v in views.items() if t not in opened} == {
        t: v for t, v in live_views.items() if t not in opened}


def test_a_batch_whose_last_statement_changed_no_row_still_records_its_position(database_url):
    """View statements are pipelined; the tracking inserts, which read back their own result,
    run after the pipeline. (Inside it, the million-event bench once met "the last operation
    didn't produce records (command status: UPDATE 0)"; this small case did not reproduce it,
    but guards the order.)"""
    from service.application import CQIApplication, eventsourcing_env
    from service.projection_runner import ProjectionRunner, all_projections

    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        value = app.add_value(actor="test", name="Child safety", description="").detail
        initiative = app.open_initiative(actor="test", title="Every child seen", problem="p",
                                         aim="a", value_ids=[value]).id
        for k in range(20):
            app.add_team_member(initiative, actor="test", name=f"Member {k}", kind="staff",
                                role="caseworker")
        projections = all_projections()

        class NoRowTouched:
            name = "no_row_touched_v1"
            tracking_table = "no_row_touched_v1_tracking"
            tables = ("no_row_touched_v1",)
            ddl = ("CREATE TABLE IF NOT EXISTS no_row_touched_v1 (id int)",)

            def apply(self, curs, domain_event) -> None:  # as the measure view does
                curs.executemany("INSERT INTO no_row_touched_v1 (id) VALUES (%s)", [(1,), (2,)])
                curs.execute("UPDATE no_row_touched_v1 SET id = 1 WHERE false")

        runner = ProjectionRunner(app, [*projections, NoRowTouched()])  # type: ignore[list-item]
        runner.create_tables()
        assert runner.catch_up() == app.recorder.max_notification_id()
        assert set(runner.positions().values()) == {app.recorder.max_notification_id()}
    finally:
        app.close()
