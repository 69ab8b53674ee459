"""`cqi projections rebuild` killed with SIGKILL 20 times while it works: the views that the
next run finishes equal a clean rebuild, row for row.

Each killed run is `cqi projections rebuild` (the CLI's own entry point) in a process forked
from this one: a real process, really killed, without paying Python's start-up 20 times. The
run after the last kill does not start over: it resumes from the positions the killed run
committed, as a restarted server's runner does, so an event applied twice or skipped would
show. The reference is a clean `cqi projections rebuild` in a process of its own.

Most runs are killed a random moment after their first committed batch; every fourth is
killed blind, at a random moment after it starts (it may still be dropping the views).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from datetime import date, timedelta
from typing import Any

import psycopg

from domain.initiative import Initiative
from service import cli, projection_runner
from service.demo import load_demo
from service.projection_runner import RUNNER_LOCK_KEY, ProjectionRunner
from service.settings import Settings
from tests.faults.conftest import (
    application,
    cqi_env,
    cqi_process,
    differing_rows,
    head,
    tracking_positions,
    view_rows,
)
from tests.integration.pages_support import PLAN

KILLS = 20
INITIATIVES = 120  # about 3,400 events: a rebuild outlasts the moment a kill takes to land
BATCH = 50  # events per transaction of the killed runs: many commit points to land between
CYCLES = 6  # each: do, study, act (adapt plans the next) — about 30 events per initiative
ACTOR = "system:fault-test"


def fill_history(app: Any, today: date) -> None:
    """Many initiatives, each through several PDSA cycles, saved a few dozen at a time."""
    value_ids = sorted(app.known_value_ids())
    known = set(value_ids)
    batch: list[Initiative] = []
    for n in range(INITIATIVES):
        value_id = value_ids[n % len(value_ids)]
        initiative = Initiative.open(
            actor=ACTOR, title=f"Initiative {n}: families at the table",
            problem="Families do not feel heard in case planning",
            aim="80% of families report feeling included by June", value_ids=[value_id],
            team=[{"name": "Parent partner", "kind": "consumer", "role": "Co-designer"}],
            known_value_ids=known)
        initiative.add_team_member(actor=ACTOR, name=f"Supervisor {n}", kind="staff",
                                   role="Sponsor")
        number = initiative.plan_cycle(actor=ACTOR, plan={**PLAN, "value_id": value_id},
                                       known_value_ids=known)
        began = today - timedelta(days=7 * CYCLES + n % 30)
        for cycle in range(CYCLES):
            initiative.record_do(actor=ACTOR, number=number, observations=f"Held {n} meetings",
                                 started_on=began, today=today)
            initiative.record_study(actor=ACTOR, number=number, result=f"{cycle} of 12 heard",
                                    learning="Timing matters", studied_on=began, today=today)
            last = cycle == CYCLES - 1
            adapted = initiative.decide_act(actor=ACTOR, number=number,
                                            decision="adopt" if last else "adapt",
                                            rationale="The prediction held")
            number = adapted or number
            began += timedelta(days=7)
        if n % 3 == 0:
            initiative.conclude(actor=ACTOR, outcome="sustained", note="Part of practice now")
        batch.append(initiative)
        if len(batch) == 25:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)


def rebuild_in_child(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    # Catch-up batches grow only to twice the first (by default to 5,000: the whole history
    # here in a few batches), so that the kills find many commit points and a size change.
    projection_runner.CATCH_UP_BATCH_SIZE = 2 * BATCH
    os._exit(cli.main(["projections", "rebuild", "--batch-size", str(BATCH)]))


def writer_lock_free(database_url: str, timeout: float = 10.0) -> None:
    """Wait until no session holds the projection writer's lock (a killed run's backend
    goes away once PostgreSQL notices its client is gone)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (RUNNER_LOCK_KEY,),
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "a killed rebuild still holds the writer lock"
            time.sleep(0.02)


def applied(database_url: str) -> int:
    return min(tracking_positions(database_url).values())


def test_views_equal_a_clean_rebuild_after_twenty_killed_rebuilds(database_url, tmp_path):
    today = date.today()
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        secret_key="fault-tests-secret-key", password_hash_cost="fast")
    app = application(database_url)
    try:
        load_demo(app, settings, force=False)
        fill_history(app, today)
        ProjectionRunner(app).create_tables()
    finally:
        app.close()
    last = head(database_url)
    env = cqi_env(database_url, tmp_path)

    # The reference: one uninterrupted rebuild, in a process of its own.
    started = time.monotonic()
    reference = cqi_process(env, "projections", "rebuild", log=tmp_path / "rebuild.log")
    assert reference.wait(120) == 0, (tmp_path / "rebuild.log").read_text()
    clean = view_rows(database_url)
    whole_run = time.monotonic() - started

    killing = time.monotonic()
    fork = multiprocessing.get_context("fork")
    chance = random.Random()
    mid_rebuild, positions_after_kills = 0, []
    for attempt in range(KILLS):
        writer_lock_free(database_url)
        child = fork.Process(target=rebuild_in_child, args=(env,), daemon=True)
        child.start()
        try:
            if attempt % 4 == 1:
                # Blind: whatever it is doing (starting, dropping, creating, applying).
                time.sleep(chance.uniform(0.05, 0.6))
            else:
                # Once it has dropped the views and committed a first batch, a little later.
                deadline = time.monotonic() + 30
                dropped = False
                while child.is_alive():
                    assert time.monotonic() < deadline, "the rebuild applied nothing in 30 s"
                    position = applied(database_url)
                    dropped = dropped or position == 0
                    if dropped and position > 0:
                        break
                    time.sleep(0.005)
                # A rebuild of this history takes well under a second: kill it soon after
                # (the last one at once, so that the run after it has something to resume).
                time.sleep(0 if attempt == KILLS - 1 else chance.uniform(0.0, 0.03))
            alive_when_killed = child.is_alive()
            child.kill()
            child.join(10)
        finally:
            if child.is_alive():
                child.kill()
                child.join(5)
        writer_lock_free(database_url)
        position = applied(database_url)
        positions_after_kills.append(position)
        if alive_when_killed and 0 < position < last:
            mid_rebuild += 1

    killing = time.monotonic() - killing
    print(f"\nkilled rebuilds: {KILLS} in {killing:.1f} s; landed mid-rebuild (alive, "
          f"0 < position < {last}): {mid_rebuild}; positions after each kill: "
          f"{positions_after_kills}; "
          f"one clean rebuild process {whole_run:.2f} s, which said: "
          f"{(tmp_path / 'rebuild.log').read_text().strip().splitlines()[-1]}")

    # The last killed run's views are resumed, not started over.
    resume_from = positions_after_kills[-1]
    app = application(database_url)
    try:
        resumed = ProjectionRunner(app, batch_size=1000).catch_up()
    finally:
        app.close()
    after_resume = view_rows(database_url)
    print(f"resumed from {resume_from}: applied {resumed} events to reach {last}; tables "
          f"compared: {len(clean)}, rows: {sum(len(rows) for rows in clean.values())}")

    assert set(tracking_positions(database_url).values()) == {last}
    assert resumed > 0
    assert differing_rows(clean, after_resume) == {}
    # The 15 that wait for a first batch land mid-rebuild unless the machine stalls.
    assert mid_rebuild >= KILLS // 2, f"only {mid_rebuild} kills landed mid-rebuild"
    assert 0 < resume_from < last
