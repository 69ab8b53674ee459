"""20 writers x 25 commands on ONE initiative, all at once, over HTTP to a real server process:
every acknowledged command is stored once, nothing unacknowledged is stored, the views agree."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.conftest import (
    TEAM_MEMBER_ADDED,
    clean_rebuild,
    differing_rows,
    new_marker,
    running_server,
    seeded_agency,
    stored_names,
    team_member,
    version_gaps,
    view_rows,
)

WRITERS = 20
COMMANDS = 25
MAX_TRIES = 300


@dataclass
class Tally:
    sent: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    stale_retries: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    async def post(self, client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
        """POST, counting how many writers' requests are in flight at once."""
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await client.post(path, **kwargs)
        finally:
            self.in_flight -= 1


async def unversioned_writer(client: httpx.AsyncClient, path: str, headers: dict[str, str],
                             writer: int, tally: Tally) -> None:
    """Names no version: the application decides again on whatever state it finds."""
    for _ in range(COMMANDS):
        marker = new_marker(f"w{writer}")
        tally.sent.append(marker)
        response = await tally.post(client, path, headers=headers, json=team_member(marker))
        if response.is_success:
            tally.acknowledged.append(marker)
        else:
            tally.refused[response.status_code] += 1


async def versioned_writer(client: httpx.AsyncClient, path: str, headers: dict[str, str],
                           writer: int, tally: Tally) -> None:
    """A careful client: reads the version, sends If-Match, and on 412 reads again."""
    for _ in range(COMMANDS):
        marker = new_marker(f"v{writer}")
        tally.sent.append(marker)
        for _ in range(MAX_TRIES):
            current = await client.get(path.removesuffix("/team"), headers=headers)
            assert current.status_code == 200, current.text
            response = await tally.post(
                client, path, json=team_member(marker),
                headers={**headers, "If-Match": current.headers["etag"]})
            if response.status_code == 412:
                tally.stale_retries += 1
                continue
            if response.is_success:
                tally.acknowledged.append(marker)
            else:
                tally.refused[response.status_code] += 1
            break
        else:
            tally.refused[412] += 1


async def test_twenty_concurrent_writers_on_one_initiative_lose_and_duplicate_nothing(
        database_url, tmp_path):
    agency = seeded_agency(database_url, initiatives=1)
    initiative = agency.initiatives[0]
    path = f"/api/v1/initiatives/{initiative}/team"
    tally = Tally()

    with running_server(database_url, tmp_path) as server:
        limits = httpx.Limits(max_connections=WRITERS * 2)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits,
                                     trust_env=False) as client:
            started = asyncio.get_running_loop().time()
            await asyncio.gather(*(
                (versioned_writer if writer % 10 == 0 else unversioned_writer)(
                    client, path, agency.member, writer, tally)
                for writer in range(WRITERS)
            ))
            seconds = asyncio.get_running_loop().time() - started
            read = await client.get(f"/api/v1/initiatives/{initiative}", headers=agency.member)
            listed = await client.get("/api/v1/initiatives", headers=agency.member)
        assert server.alive()

    stored = [name for aggregate, name in stored_names(database_url, TEAM_MEMBER_ADDED, "name")
              if aggregate == initiative]
    counts = Counter(stored)
    acknowledged, sent = set(tally.acknowledged), set(tally.sent)
    lost = acknowledged - set(counts)
    duplicated = sorted(name for name, n in counts.items() if n > 1)
    unsent = set(counts) - sent
    stored_unacknowledged = set(counts) - acknowledged
    print(f"\nwriters: {WRITERS} x {COMMANDS} commands in {seconds:.2f} s; "
          f"acknowledged {len(tally.acknowledged)}, stored {len(stored)}, lost {len(lost)}, "
          f"duplicated {len(duplicated)}, stored but never sent {len(unsent)}, stored but not "
          f"acknowledged {len(stored_unacknowledged)}; refused {dict(tally.refused)}; "
          f"If-Match retries after 412: {tally.stale_retries}; most requests in flight at "
          f"once: {tally.most_in_flight}")

    assert len(tally.sent) == WRITERS * COMMANDS
    assert tally.most_in_flight >= WRITERS // 2, "the writers did not run concurrently"
    assert not tally.refused, f"commands refused: {dict(tally.refused)}"
    assert len(tally.acknowledged) == WRITERS * COMMANDS
    assert not lost and not duplicated and not unsent and not stored_unacknowledged
    assert len(stored) == len(tally.acknowledged)
    assert version_gaps(database_url) == []

    # What the server showed right after the last write: the aggregate lists each member once,
    # and the list view stands at the aggregate's version.
    assert read.status_code == 200, read.text
    team = Counter(m["name"] for m in read.json()["team"])
    assert team == Counter(tally.acknowledged)
    assert read.json()["version"] == 1 + len(tally.acknowledged)
    assert listed.status_code == 200, listed.text
    (row,) = [r for r in listed.json() if r["id"] == initiative]
    assert row["version"] == read.json()["version"]
    # And the live views hold row for row what a rebuild from the events gives.
    live = view_rows(database_url)
    assert differing_rows(live, clean_rebuild(database_url)) == {}
