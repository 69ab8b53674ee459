"""Many writers on one initiative at once: no update is lost, none is stored twice, and a write
decided on a version someone else has already moved past is refused with 412."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import psycopg

from tests.integration.conftest import Agency, match, plan_body

WRITERS, COMMANDS_EACH = 20, 5


async def add_members_concurrently(
    clients: list[httpx.AsyncClient], headers: dict[str, str], initiative_id: str,
    writers: int = WRITERS, commands_each: int = COMMANDS_EACH,
) -> list[httpx.Response]:
    """`writers` writers at once, each adding `commands_each` distinct members one after
    another; writer w sends through clients[w % len(clients)]."""

    async def writer(w: int) -> list[httpx.Response]:
        client = clients[w % len(clients)]
        responses = []
        for c in range(commands_each):
            responses.append(await client.post(
                f"/api/v1/initiatives/{initiative_id}/team", headers=headers,
                json={"name": f"Writer {w} member {c}", "kind": "staff", "role": "notes"}))
        return responses

    batches = await asyncio.gather(*(writer(w) for w in range(writers)))
    return [response for batch in batches for response in batch]


async def assert_every_acknowledged_member_stored_once(
    agency: Agency, initiative_id: str, responses: list[httpx.Response],
    writers: int = WRITERS, commands_each: int = COMMANDS_EACH,
) -> None:
    total = writers * commands_each
    assert not [r for r in responses if r.status_code >= 500], "no server errors"
    acknowledged = [r for r in responses if r.status_code == 200]
    assert len(acknowledged) == total, Counter(r.status_code for r in responses)
    versions = [r.json()["version"] for r in acknowledged]
    assert sorted(versions) == list(range(2, total + 2))
    team = (await agency.get(initiative_id))["team"]
    expected = {f"Writer {w} member {c}" for w in range(writers) for c in range(commands_each)}
    assert Counter(m["name"] for m in team) == Counter(expected)
    history = await agency.history(initiative_id)
    assert [e["version"] for e in history] == list(range(1, total + 2))
    assert Counter(e["data"]["name"] for e in history[1:]) == Counter(expected)
    [listed] = await agency.listing("/api/v1/initiatives")
    assert listed["version"] == total + 1  # the view saw every one


async def test_twenty_concurrent_writers_lose_no_update(agency, settings):
    iid = await agency.initiative()
    responses = await add_members_concurrently([agency.client], agency.member, iid)
    await assert_every_acknowledged_member_stored_once(agency, iid, responses)
    # 101 events: the current state now loads from the snapshot taken at version 100, and
    # past states before it are still replayed from the events
    with psycopg.connect(settings.database_url) as conn:
        snapshots = conn.execute("SELECT originator_version FROM cqi_snapshots"
                                 " WHERE originator_id = %s", (iid,)).fetchall()
    assert snapshots == [(100,)]
    assert len((await agency.get(iid, "?version=100"))["team"]) == 99
    assert len((await agency.get(iid, "?version=50"))["team"]) == 49


async def test_sixty_concurrent_writers_are_all_served_none_starved(agency):
    """More writers than worker threads: each command still gets its turn (no 409 "busy")."""
    iid = await agency.initiative()
    responses = await add_members_concurrently([agency.client], agency.member, iid, 60, 3)
    await assert_every_acknowledged_member_stored_once(agency, iid, responses, 60, 3)


async def test_twenty_concurrent_writers_over_real_tcp_lose_no_update(agency, live_server):
    iid = await agency.initiative()
    async with httpx.AsyncClient(base_url=live_server, trust_env=False, timeout=60,
                                 limits=httpx.Limits(max_connections=WRITERS)) as tcp:
        responses = await add_members_concurrently([tcp], agency.member, iid)
        await assert_every_acknowledged_member_stored_once(agency, iid, responses)
        # the live server's own views answer for the same writes
        [listed] = (await tcp.get("/api/v1/initiatives", headers=agency.viewer)).json()
        assert listed["version"] == WRITERS * COMMANDS_EACH + 1


async def test_writers_through_two_app_instances_at_once_lose_no_update(agency, live_server):
    """Two instances of the app on one database (as two replicas behind a load balancer):
    their writes race in PostgreSQL itself, and the loser of each race retries."""
    iid = await agency.initiative()
    async with httpx.AsyncClient(base_url=live_server, trust_env=False, timeout=60) as tcp:
        responses = await add_members_concurrently([agency.client, tcp], agency.member, iid)
        await assert_every_acknowledged_member_stored_once(agency, iid, responses)
        # the same version named through both instances: one wins, the other is told 412
        for round_ in range(5):
            version = (await agency.get(iid))["version"]
            outcomes = await asyncio.gather(*(
                client.post(f"/api/v1/initiatives/{iid}/team",
                            headers={**agency.member, **match(version)},
                            json={"name": f"Race {round_} via {n}", "kind": "staff",
                                  "role": "notes"})
                for n, client in enumerate((agency.client, tcp))))
            assert sorted(r.status_code for r in outcomes) == [200, 412], [
                r.text for r in outcomes]
    assert (await agency.get(iid))["version"] == WRITERS * COMMANDS_EACH + 1 + 5


async def test_of_two_writers_on_the_same_version_exactly_one_wins(agency):
    iid = await agency.initiative()
    for round_ in range(5):
        version = (await agency.get(iid))["version"]
        first, second = await asyncio.gather(*(
            agency.client.post(f"/api/v1/initiatives/{iid}/team",
                               headers={**agency.member, **match(version)},
                               json={"name": f"Round {round_} writer {w}", "kind": "staff",
                                     "role": "notes"})
            for w in (1, 2)))
        assert sorted([first.status_code, second.status_code]) == [200, 412], (
            first.text, second.text)
        winner = first if first.status_code == 200 else second
        assert winner.json()["version"] == version + 1
    initiative = await agency.get(iid)
    assert (initiative["version"], len(initiative["team"])) == (6, 5)


async def test_of_twenty_writers_on_the_same_version_exactly_one_wins(agency):
    iid = await agency.initiative()
    responses = await asyncio.gather(*(
        agency.client.post(f"/api/v1/initiatives/{iid}/team",
                           headers={**agency.member, **match(1)},
                           json={"name": f"Writer {w}", "kind": "staff", "role": "notes"})
        for w in range(WRITERS)))
    assert Counter(r.status_code for r in responses) == {200: 1, 412: WRITERS - 1}
    assert len((await agency.get(iid))["team"]) == 1
    assert len(await agency.history(iid)) == 2


async def test_concurrent_cycles_in_sequence_keep_their_numbers(agency):
    """Writers race to run whole cycles; the domain lets one cycle be open at a time, so each
    plan either wins (and gets the next number) or is refused 409; nothing is lost or doubled."""
    iid = await agency.initiative()

    async def runner() -> list[int]:
        numbers = []
        for _ in range(3):
            value_id = await agency.default_value()
            planned = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles",
                                               headers=agency.member, json=plan_body(value_id))
            assert planned.status_code in (201, 409), planned.text
            if planned.status_code == 201:
                n = planned.json()["number"]
                await agency.do(iid, n)
                await agency.study(iid, n)
                await agency.act(iid, n, "abandon")
                numbers.append(n)
        return numbers

    won = [n for numbers in await asyncio.gather(*(runner() for _ in range(6))) for n in numbers]
    cycles = (await agency.get(iid))["cycles"]
    assert sorted(won) == [c["number"] for c in cycles] == list(range(1, len(cycles) + 1))
    assert all(c["phase"] == "act" for c in cycles)
