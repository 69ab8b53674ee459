"""The app process killed with SIGKILL while requests are in flight: each client retries what
was not acknowledged, with its same Idempotency-Key, against a new process on the same
database. Every command is then stored exactly once, none half-applied, and the views equal
a clean rebuild."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.faults.conftest import (
    OPENED,
    TEAM_MEMBER_ADDED,
    Command,
    clean_rebuild,
    differing_rows,
    head,
    new_marker,
    outcomes,
    running_server,
    seeded_agency,
    stored_keys,
    stored_names,
    team_member,
    tracking_positions,
    version_gaps,
    view_rows,
)
from tests.integration.conftest import charter_body

CLIENTS = 8
COMMANDS = 6  # per client: team members on the seeded initiatives, and new initiatives
ACKS_BEFORE_KILL = 25


async def test_a_killed_app_leaves_no_half_applied_command_and_retries_are_safe(
        database_url, tmp_path):
    agency = seeded_agency(database_url, initiatives=3)

    queues: list[list[Command]] = []
    for client_number in range(CLIENTS):
        queue = []
        for n in range(COMMANDS):
            marker = new_marker(f"c{client_number}")
            if n % 3 == 2:
                queue.append(Command(marker, "/api/v1/initiatives",
                                     charter_body([agency.value_id], title=marker)))
            else:
                initiative = agency.initiatives[(client_number + n) % len(agency.initiatives)]
                queue.append(Command(marker, f"/api/v1/initiatives/{initiative}/team",
                                     team_member(marker)))
        queues.append(queue)
    commands = [c for queue in queues for c in queue]
    in_flight = 0

    async def client_sends(client: httpx.AsyncClient, queue: list[Command]) -> None:
        """Sends its commands one after another; stops at the first that fails."""
        nonlocal in_flight
        for command in queue:
            in_flight += 1
            try:
                acknowledged = await command.send(client, agency.member, timeout=10.0)
            finally:
                in_flight -= 1
            if not acknowledged:
                return

    with running_server(database_url, tmp_path, "first") as first:
        async with httpx.AsyncClient(base_url=first.base_url, trust_env=False) as client:
            clients = [asyncio.create_task(client_sends(client, q)) for q in queues]
            deadline = time.monotonic() + 60
            while sum(c.acknowledged for c in commands) < ACKS_BEFORE_KILL:
                assert time.monotonic() < deadline, outcomes(commands)
                assert not all(task.done() for task in clients), outcomes(commands)
                await asyncio.sleep(0.005)
            in_flight_at_kill = in_flight
            first.kill()
            await asyncio.gather(*clients)
    acknowledged_before = sum(c.acknowledged for c in commands)
    attempted = [c for c in commands if c.attempts and not c.acknowledged]
    # Requests the server had taken and was working on when it died (not merely refused).
    cut_mid_request = sum(c.outcomes[name] for c in attempted
                          for name in ("RemoteProtocolError", "ReadError", "ReadTimeout"))
    stored_at_kill = Counter(name for _, name in
                             stored_names(database_url, TEAM_MEMBER_ADDED, "name")
                             + stored_names(database_url, OPENED, "title"))
    unacknowledged_but_stored = sum(1 for c in attempted if stored_at_kill[c.marker])

    with running_server(database_url, tmp_path, "second") as second:
        async with httpx.AsyncClient(base_url=second.base_url, trust_env=False) as client:
            # Retry every unacknowledged command with its own key, then send the rest.
            retried = await asyncio.gather(*(c.send(client, agency.member, timeout=10.0)
                                             for c in attempted))
            for queue in queues:
                for command in queue:
                    if not command.acknowledged:
                        assert await command.send(client, agency.member), command.outcomes
        deadline = time.monotonic() + 30
        while set(tracking_positions(database_url).values()) != {head(database_url)}:
            assert time.monotonic() < deadline, "the new server's views did not catch up"
            time.sleep(0.05)

    members = Counter(name for _, name in stored_names(database_url, TEAM_MEMBER_ADDED, "name"))
    opened = [(aggregate, title) for aggregate, title in stored_names(database_url, OPENED, "title")
              if aggregate not in agency.initiatives]  # not the seeded ones
    titles = Counter(title for _, title in opened)
    opened_ids = {title: aggregate for aggregate, title in opened}
    stored = members + titles
    keys = stored_keys(database_url)
    once = [c for c in commands if stored[c.marker] == 1]
    print(f"\nkilled the app after {acknowledged_before} acknowledged commands with "
          f"{in_flight_at_kill} requests in flight ({cut_mid_request} cut off mid-request, "
          f"the others refused a connection); {len(attempted)} sent but unacknowledged "
          f"({unacknowledged_but_stored} of them already stored), all retried with their "
          f"keys: {sum(retried)} acknowledged by the new process; commands {len(commands)}, "
          f"stored exactly once {len(once)}, keys stored {sum(keys.values())}; attempts "
          f"{outcomes(commands)}")

    assert cut_mid_request > 0, outcomes(commands)
    assert all(c.acknowledged for c in commands), outcomes(commands)
    assert len(once) == len(commands), {c.marker: stored[c.marker] for c in commands}
    assert set(stored) == {c.marker for c in commands}
    assert all(keys[c.key] == 1 for c in commands)
    assert sum(keys.values()) == len(commands)  # every stored command has its key: all or nothing
    for command in commands:  # a retried open answers with the initiative it created
        if command.path == "/api/v1/initiatives":
            assert command.answer is not None
            assert command.answer["id"] == opened_ids[command.marker]
    assert version_gaps(database_url) == []
    live = view_rows(database_url)
    assert differing_rows(live, clean_rebuild(database_url)) == {}
