"""An auditor replays an initiative: every event with version, type, time, actor and data; and
the initiative exactly as it was at any version or at any moment."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import assert_field_error, charter_body

HISTORY_FIELDS = {"version", "type", "at", "actor", "data"}


@pytest.fixture
async def replayed(agency):
    """An initiative taken through nine events by two people; its state after each command."""
    value_id = await agency.default_value()
    states: dict[int, dict] = {}
    iid = await agency.initiative()

    async def record() -> None:
        state = await agency.get(iid)
        states[state["version"]] = state

    await record()
    agency.ok(await agency.client.post(f"/api/v1/initiatives/{iid}/team", headers=agency.member,
                                       json={"name": "Parent council", "kind": "consumer",
                                             "role": "advisor"}))
    await record()
    agency.ok(await agency.client.put(f"/api/v1/initiatives/{iid}", headers=agency.leader,
                                      json=charter_body([value_id], title="Families lead")))
    await record()
    for step in (agency.plan, agency.do, agency.study):
        await (step(iid) if step == agency.plan else step(iid, 1))
        await record()
    await agency.act(iid, 1, "adapt")  # two events: ActDecided (7) and CyclePlanned (8)
    await record()
    await agency.do(iid, 2, observations="Second round: 15 meetings")
    await record()
    return iid, states


async def test_history_lists_every_event_in_order_with_who_and_what(agency, replayed):
    iid, _ = replayed
    response = await agency.client.get(f"/api/v1/initiatives/{iid}/history",
                                       headers=agency.auditor)
    assert response.status_code == 200, response.text
    history = response.json()
    for entry in history:
        assert set(entry) >= HISTORY_FIELDS
    assert [(e["version"], e["type"]) for e in history] == [
        (1, "Opened"), (2, "TeamMemberAdded"), (3, "CharterRevised"), (4, "CyclePlanned"),
        (5, "DoRecorded"), (6, "StudyRecorded"), (7, "ActDecided"), (8, "CyclePlanned"),
        (9, "DoRecorded")]
    member, leader = agency.ids["member"], agency.ids["leader"]
    assert [e["actor"] for e in history] == [member, member, leader, *[member] * 6]
    moments = [datetime.fromisoformat(e["at"]) for e in history]
    assert moments == sorted(moments) and all(m.tzinfo for m in moments)
    assert history[0]["data"]["title"] == "Families at the table"
    assert history[1]["data"].items() >= {"name": "Parent council", "kind": "consumer",
                                          "role": "advisor"}.items()
    assert history[2]["data"]["title"] == "Families lead"
    assert (history[3]["data"]["number"], history[3]["data"]["adapted_from"]) == (1, None)
    assert history[6]["data"].items() >= {"number": 1, "decision": "adapt"}.items()
    assert (history[7]["data"]["number"], history[7]["data"]["adapted_from"]) == (2, 1)
    assert history[8]["data"]["observations"] == "Second round: 15 meetings"


async def test_each_past_version_is_the_initiative_as_it_was_after_that_many_events(
    agency, replayed,
):
    iid, states = replayed
    for version, state in states.items():
        response = await agency.client.get(f"/api/v1/initiatives/{iid}?version={version}",
                                           headers=agency.auditor)
        assert response.status_code == 200, response.text
        assert response.json() == state, f"version {version}"
        assert response.headers["ETag"] == f'"{version}"'
    # a version no command answered with is replayed too
    decided = await agency.get(iid, "?version=7")  # Act recorded, next cycle not yet opened
    assert [(c["number"], c["phase"], c["decision"]) for c in decided["cycles"]] == [
        (1, "act", "adapt")]


async def test_a_version_that_does_not_exist_is_404_and_a_nonsense_one_400(agency, replayed):
    iid, _ = replayed
    for query in ("?version=10", "?version=1000"):
        response = await agency.client.get(f"/api/v1/initiatives/{iid}{query}",
                                           headers=agency.auditor)
        assert response.status_code == 404, f"{query}: {response.text}"
    for query in ("?version=0", "?version=-1", "?version=two"):
        response = await agency.client.get(f"/api/v1/initiatives/{iid}{query}",
                                           headers=agency.auditor)
        assert_field_error(response, "version")


async def test_as_of_a_moment_between_two_commands_gives_the_earlier_state(agency, replayed):
    iid, states = replayed
    history = await agency.history(iid)
    moments = [datetime.fromisoformat(e["at"]) for e in history]
    for version in states:
        if version == len(history):
            continue
        between = moments[version - 1] + (moments[version] - moments[version - 1]) / 2
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": between.isoformat()},
                                           headers=agency.auditor)
        assert response.status_code == 200, response.text
        assert response.json() == states[version], f"between versions {version} and after"


async def test_as_of_the_very_moment_of_an_event_includes_it(agency, replayed):
    iid, states = replayed
    history = await agency.history(iid)
    response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                       params={"as_of": history[2]["at"]},
                                       headers=agency.auditor)
    assert response.json() == states[3]


async def test_as_of_accepts_any_offset_and_a_wall_clock_time_in_the_agency_zone(
    agency, replayed,
):
    iid, states = replayed
    history = await agency.history(iid)
    first, second = (datetime.fromisoformat(e["at"]) for e in history[:2])
    between = first + (second - first) / 2
    in_new_york = between.astimezone(timezone(timedelta(hours=-5))).isoformat()
    wall_clock_utc = between.astimezone(UTC).replace(tzinfo=None).isoformat()
    for moment in (in_new_york, wall_clock_utc):  # the test agency's zone is UTC
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": moment}, headers=agency.auditor)
        assert response.status_code == 200, f"{moment}: {response.text}"
        assert response.json() == states[1], moment


async def test_as_of_after_the_last_event_is_the_current_state(agency, replayed):
    iid, states = replayed
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await agency.client.get(f"/api/v1/initiatives/{iid}", params={"as_of": later},
                                       headers=agency.auditor)
    assert response.json() == states[max(states)]
    # `?as_of=...+00:00` typed into a shell arrives with a space for the unencoded `+`
    unencoded = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    response = await agency.client.get(f"/api/v1/initiatives/{iid}?as_of={unencoded}",
                                       headers=agency.auditor)
    assert response.status_code == 200, response.text
    assert response.json() == states[max(states)]


async def test_as_of_before_the_initiative_existed_is_404(agency, replayed):
    iid, _ = replayed
    opened = datetime.fromisoformat((await agency.history(iid))[0]["at"])
    for moment in ((opened - timedelta(milliseconds=1)).isoformat(), "2000-01-01"):
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": moment}, headers=agency.auditor)
        assert response.status_code == 404, f"{moment}: {response.text}"
        assert "did not exist" in response.json()["detail"]


async def test_an_as_of_that_is_not_iso_8601_is_a_400(agency):
    iid = await agency.initiative()
    for moment in ["yesterday", "2026-13-01", "2026-02-30T10:00:00", "10:00", ""]:
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": moment}, headers=agency.auditor)
        assert_field_error(response, "as_of")


class TestInTheAgencysTimeZone:
    @pytest.fixture
    def settings(self, settings):
        return dataclasses.replace(settings, timezone="America/Chicago")

    async def test_a_wall_clock_as_of_is_read_in_the_agency_zone(self, agency):
        iid = await agency.initiative()
        first = await agency.get(iid)
        await agency.plan(iid)
        history = await agency.history(iid)
        opened, planned = (datetime.fromisoformat(e["at"]) for e in history)
        between = opened + (planned - opened) / 2
        chicago = between.astimezone(ZoneInfo("America/Chicago")).replace(tzinfo=None)
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": chicago.isoformat()},
                                           headers=agency.auditor)
        assert response.status_code == 200, response.text
        assert response.json() == first
        utc_wall_clock = between.astimezone(UTC).replace(tzinfo=None)
        response = await agency.client.get(f"/api/v1/initiatives/{iid}",
                                           params={"as_of": utc_wall_clock.isoformat()},
                                           headers=agency.auditor)
        assert response.json()["version"] == 2  # read in Chicago, that is hours later


async def test_a_past_state_after_a_snapshot_starts_from_it_and_equals_the_full_replay(
    agency, services
):
    """Past states of a long history load from the nearest snapshot (fast), and that gives
    exactly what replaying every event from the start gives (`cqi verify` checks the same for
    every snapshot: test_audit_chain)."""
    import uuid as uuid_module

    from domain.initiative import Initiative

    iid = await agency.initiative(title="Before the snapshot")
    for k in range(105):  # the 100th event is snapshotted
        agency.ok(await agency.client.post(
            f"/api/v1/initiatives/{iid}/team", headers=agency.member,
            json={"name": f"Member {k}", "kind": "staff", "role": "caseworker"}))
    initiative_id = uuid_module.UUID(iid)
    assert [s.originator_version for s in services.cqi.snapshots.get(initiative_id)] == [100]
    for version in (99, 100, 103):
        from_snapshot = services.cqi.replay(Initiative, initiative_id, version)
        from_events: Initiative | None = None
        for event in services.cqi.events.get(initiative_id, lte=version):
            from_events = event.mutate(from_events)
        assert vars(from_snapshot) == vars(from_events)
        past = agency.ok(await agency.client.get(f"/api/v1/initiatives/{iid}?version={version}",
                                                 headers=agency.auditor))
        assert past["version"] == version and len(past["team"]) == version - 1
