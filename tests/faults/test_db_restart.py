"""PostgreSQL stopped with `pg_ctl -m immediate` under 8 writers, then started again: every
acknowledged command is stored once, the health endpoint reports the outage while it lasts,
and the same server process writes again by itself."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from service.embedded_db import EmbeddedPostgres, ensure_database
from tests.faults.conftest import (
    TEAM_MEMBER_ADDED,
    Command,
    new_marker,
    outcomes,
    running_server,
    seeded_agency,
    stored_keys,
    stored_names,
    team_member,
    version_gaps,
)

WRITERS = 8
ACKS_BEFORE_STOP = 24
OUTAGE_SECONDS = 1.5
ACKS_AFTER_START = 24
DEADLINE_SECONDS = 60.0


def stop_immediately(server: EmbeddedPostgres) -> None:
    """`pg_ctl stop -m immediate`: the server quits without a checkpoint, as in a crash (the
    next start runs crash recovery). Through the launcher's own runner, which runs the
    bundled pg_ctl as the server's system user."""
    server._run("pg_ctl", "-D", str(server.pgdata), "-m", "immediate", "-w", "stop")


async def test_writes_survive_postgresql_stopped_immediately_and_started_again(tmp_path):
    # Its own PostgreSQL: this test stops it. (Not under pytest's 0700 temp tree: the server
    # runs as its own system user when the tests run as root.)
    pg_dir = Path(tempfile.mkdtemp(prefix="cqi-faults-restart-"))
    first = EmbeddedPostgres(pg_dir)
    restarted: EmbeddedPostgres | None = None
    try:
        server_url = first.start()
        port = urlsplit(server_url).port
        assert port is not None
        database_url = ensure_database(server_url, "cqi")
        agency = seeded_agency(database_url, initiatives=2)

        commands: list[Command] = []
        writing = True

        async def writer(client: httpx.AsyncClient, number: int) -> None:
            initiative = agency.initiatives[number % len(agency.initiatives)]
            while writing:
                marker = new_marker(f"w{number}")
                command = Command(marker, f"/api/v1/initiatives/{initiative}/team",
                                  team_member(marker))
                commands.append(command)
                while not await command.send(client, agency.member, timeout=3.0):
                    if time.monotonic() > give_up_at:
                        return
                    await asyncio.sleep(0.05)

        def acknowledged() -> list[Command]:
            return [c for c in commands if c.acknowledged]

        give_up_at = time.monotonic() + DEADLINE_SECONDS
        health: Counter[str] = Counter()
        with running_server(database_url, tmp_path) as server:
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False,
                                         limits=httpx.Limits(max_connections=32)) as client:
                processes_before = server.processes()
                writers = [asyncio.create_task(writer(client, n)) for n in range(WRITERS)]
                try:
                    while len(acknowledged()) < ACKS_BEFORE_STOP:
                        assert time.monotonic() < give_up_at, outcomes(commands)
                        await asyncio.sleep(0.02)

                    stopped_at = time.monotonic()
                    await asyncio.to_thread(stop_immediately, first)
                    acknowledged_before_stop = len(acknowledged())
                    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
                        try:
                            response = await client.get("/api/v1/health", timeout=5)
                            health[str(response.status_code)] += 1
                        except httpx.TransportError as error:
                            health[type(error).__name__] += 1
                        await asyncio.sleep(0.1)

                    restarted = EmbeddedPostgres(pg_dir, port=port)
                    await asyncio.to_thread(restarted.start)
                    started_at = time.monotonic()
                    while True:
                        after = [c for c in acknowledged() if c.acknowledged_at > started_at]
                        if len(after) >= ACKS_AFTER_START:
                            break
                        assert time.monotonic() < give_up_at, (
                            f"only {len(after)} writes after PostgreSQL came back; "
                            f"{outcomes(commands)}\n{server.log_tail()}")
                        await asyncio.sleep(0.05)
                    first_write = min(c.acknowledged_at for c in after) - started_at
                finally:
                    writing = False
                    await asyncio.gather(*writers)
                healthy = (await client.get("/api/v1/health", timeout=5)).status_code
            assert server.alive(), "the server process died; it was not restarted"
            processes_after = server.processes()
            server_pid, server_start = server.pid, server.ready_after

        stored = Counter(name for _, name in stored_names(database_url, TEAM_MEMBER_ADDED,
                                                          "name"))
        keys = stored_keys(database_url)
        done = acknowledged()
        lost = [c.marker for c in done if stored[c.marker] == 0]
        duplicated = [name for name, n in stored.items() if n > 1]
        unknown = set(stored) - {c.marker for c in commands}
        pending_stored = [c.marker for c in commands if not c.acknowledged and stored[c.marker]]
        print(f"\nPostgreSQL stop -m immediate under {WRITERS} writers: commands {len(commands)}, "
              f"acknowledged {len(done)} ({acknowledged_before_stop} before the stop), stored "
              f"{sum(stored.values())}, lost {len(lost)}, duplicated {len(duplicated)}; "
              f"unacknowledged at the end {len(commands) - len(done)} (of them stored "
              f"{len(pending_stored)}); health during the outage {dict(health)}; "
              f"seconds from PostgreSQL start to the first successful write: {first_write:.2f}; "
              f"health afterwards {healthy}; same server process {server_pid} and "
              f"workers {len(processes_after) - 1} (it took "
              f"{server_start:.1f} s to start); attempts "
              f"{outcomes(commands)}")

        assert health and set(health) == {"503"}, f"health during the outage: {dict(health)}"
        # A command refused while the database is away is a 503 (try again), not a crash.
        assert "500" not in outcomes(commands), outcomes(commands)
        assert healthy == 200
        # Recovered by itself: the same server and the same workers (none died and respawned).
        assert processes_after == processes_before, (processes_before, processes_after)
        assert len(processes_before) >= 2  # the server and its worker(s)
        assert not lost and not duplicated and not unknown
        assert all(keys[c.key] == 1 for c in done)
        assert sum(keys.values()) == sum(stored.values())  # no events without their key
        assert version_gaps(database_url) == []
        assert not {s for c in commands for s in c.outcomes} & {"400", "404", "422"}
    finally:
        if restarted is not None:
            restarted.stop()
        first.stop()
        shutil.rmtree(pg_dir / "pg", ignore_errors=True)
