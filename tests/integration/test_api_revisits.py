"""Revisits of the mission, vision and values: overdue is decided when read, against today in
the agency's time zone; a cadence schedules the next revisit when one is held."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import assert_field_error, match

REVISIT_FIELDS = {"id", "subject", "due_on", "days_overdue"}


def noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


async def overdue(agency) -> list[dict]:
    rows = await agency.listing("/api/v1/revisits?status=overdue")
    for row in rows:
        assert set(row) >= REVISIT_FIELDS
    return rows


async def test_a_leader_schedules_a_revisit_and_gets_its_id(agency):
    response = await agency.client.post(
        "/api/v1/revisits", headers=agency.leader,
        json={"subject": "vision", "due_on": "2026-09-01", "participants": ["Director"]})
    assert response.status_code == 201, response.text
    uuid.UUID(response.json()["id"])
    listed = await agency.listing("/api/v1/revisits")
    assert [(r["id"], r["subject"], r["due_on"], r["status"], r["participants"]) for r in listed] \
        == [(response.json()["id"], "vision", "2026-09-01", "scheduled", ["Director"])]


async def test_a_revisit_is_overdue_the_day_after_it_is_due_and_counts_the_days(agency, clock):
    clock.set(noon("2026-03-01"))
    rid = await agency.revisit(subject="mission", due_on="2026-03-01")
    assert await overdue(agency) == []  # due today is not overdue
    clock.set(noon("2026-03-02"))
    assert [(r["id"], r["subject"], r["due_on"], r["days_overdue"])
            for r in await overdue(agency)] == [(rid, "mission", "2026-03-01", 1)]
    clock.set(noon("2026-04-15"))
    assert [r["days_overdue"] for r in await overdue(agency)] == [45]


async def test_overdue_lists_only_scheduled_revisits_past_due_oldest_first(agency, clock):
    clock.set(noon("2026-06-01"))
    late = await agency.revisit(subject="values", due_on="2026-01-10")
    later = await agency.revisit(subject="vision", due_on="2026-05-01")
    await agency.revisit(subject="mission", due_on="2026-07-01")  # not yet due
    held = await agency.revisit(subject="mission", due_on="2026-02-01")
    agency.ok(await agency.client.post(f"/api/v1/revisits/{held}/complete",
                                       headers=agency.leader, json={"outcome": "reaffirmed"}))
    assert [(r["id"], r["days_overdue"]) for r in await overdue(agency)] == [
        (late, 142), (later, 31)]
    scheduled = await agency.listing("/api/v1/revisits?status=scheduled")
    assert len(scheduled) == 3
    assert [r["id"] for r in await agency.listing("/api/v1/revisits?status=held")] == [held]
    unknown = await agency.client.get("/api/v1/revisits?status=late", headers=agency.viewer)
    assert_field_error(unknown, "status")


async def test_a_revisit_of_one_value_names_it(agency, clock):
    clock.set(noon("2026-03-10"))
    value_id = await agency.value("Child safety")
    rid = await agency.revisit(subject=value_id, due_on="2026-03-01")
    [row] = await overdue(agency)
    assert (row["id"], row["subject"], row["subject_label"], row["days_overdue"]) == (
        rid, value_id, "Child safety", 9)


async def test_completing_a_revisit_takes_it_off_the_overdue_list(agency, clock):
    clock.set(noon("2026-03-10"))
    rid = await agency.revisit(due_on="2026-03-01")
    completed = await agency.client.post(
        f"/api/v1/revisits/{rid}/complete", headers=agency.leader,
        json={"outcome": "revised", "notes": "Added consumer voice to the mission"})
    assert completed.status_code == 200, completed.text
    assert completed.json()["next_revisit_id"] is None  # no cadence anywhere
    assert await overdue(agency) == []
    [row] = await agency.listing("/api/v1/revisits")
    assert (row["status"], row["outcome"], row["held_on"]) == ("held", "revised", "2026-03-10")


async def test_completing_with_a_cadence_schedules_the_next_revisit(agency, clock):
    agency.ok(await agency.client.put(
        "/api/v1/mission", headers=agency.leader,
        json={"mission": "Safe children", "vision": "Strong families",
              "revisit_every_months": 12}))
    clock.set(noon("2026-02-10"))
    rid = await agency.revisit(subject="mission", due_on="2026-01-31")
    completed = await agency.client.post(
        f"/api/v1/revisits/{rid}/complete", headers=agency.leader,
        json={"outcome": "reaffirmed", "notes": "Still true", "held_on": "2026-02-03"})
    assert completed.status_code == 200, completed.text
    next_id = completed.json()["next_revisit_id"]
    assert next_id and next_id != rid
    scheduled = await agency.listing("/api/v1/revisits?status=scheduled")
    assert [(r["id"], r["subject"], r["due_on"], r["participants"], r["every_months"])
            for r in scheduled] == [(next_id, "mission", "2027-02-03", ["Director"], 12)]
    assert await overdue(agency) == []


async def test_a_monthly_cadence_lands_on_the_last_day_of_a_short_month(agency, clock):
    value_id = await agency.value("Family engagement")
    clock.set(noon("2026-01-31"))
    rid = await agency.revisit(subject=value_id, due_on="2026-01-31", every_months=1)
    completed = agency.ok(await agency.client.post(
        f"/api/v1/revisits/{rid}/complete", headers=agency.leader,
        json={"outcome": "reaffirmed"}))  # held today
    [row] = await agency.listing("/api/v1/revisits?status=scheduled")
    assert (row["id"], row["due_on"]) == (completed["next_revisit_id"], "2026-02-28")


async def test_completing_a_revisit_twice_is_409_and_schedules_nothing_more(agency, clock):
    clock.set(noon("2026-02-10"))
    rid = await agency.revisit(every_months=6)
    agency.ok(await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                       headers=agency.leader, json={"outcome": "reaffirmed"}))
    again = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                     headers=agency.leader, json={"outcome": "reaffirmed"})
    assert again.status_code == 409, again.text
    assert "already held" in again.json()["detail"]
    assert len(await agency.listing("/api/v1/revisits")) == 2  # the held one and its successor


async def test_a_revisit_cannot_be_held_in_the_future(agency, clock):
    clock.set(noon("2026-03-10"))
    rid = await agency.revisit(due_on="2026-03-01", every_months=120)
    for held_on in ("2026-03-11", "9999-12-31"):
        response = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                            headers=agency.leader,
                                            json={"outcome": "reaffirmed", "held_on": held_on})
        assert_field_error(response, "held_on")
    completed = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                         headers=agency.leader,
                                         json={"outcome": "reaffirmed", "held_on": "2026-03-10"})
    assert completed.status_code == 200, completed.text
    [row] = await agency.listing("/api/v1/revisits?status=scheduled")
    assert row["due_on"] == "2036-03-10"


async def test_completing_on_an_old_version_is_412(agency):
    rid = await agency.revisit()
    agency.ok(await agency.client.post(
        f"/api/v1/revisits/{rid}/reschedule", headers=agency.leader,
        json={"due_on": "2026-04-01", "reason": "Board meeting moved"}))
    stale = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                     headers={**agency.leader, **match(1)},
                                     json={"outcome": "reaffirmed"})
    assert stale.status_code == 412, stale.text
    current = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                       headers={**agency.leader, **match(2)},
                                       json={"outcome": "reaffirmed"})
    assert current.status_code == 200, current.text
    assert current.headers["ETag"] == '"3"'


async def test_rescheduling_moves_the_due_date_and_the_overdue_count(agency, clock):
    clock.set(noon("2026-03-10"))
    rid = await agency.revisit(due_on="2026-03-01")
    assert [r["days_overdue"] for r in await overdue(agency)] == [9]
    agency.ok(await agency.client.post(
        f"/api/v1/revisits/{rid}/reschedule", headers=agency.leader,
        json={"due_on": "2026-03-20", "reason": "Waiting for the consumer survey"}))
    assert await overdue(agency) == []


async def test_an_unknown_revisit_is_404(agency):
    unknown = uuid.uuid4()
    for path, body in [(f"/api/v1/revisits/{unknown}/complete", {"outcome": "reaffirmed"}),
                       (f"/api/v1/revisits/{unknown}/reschedule",
                        {"due_on": "2026-04-01", "reason": "r"})]:
        response = await agency.client.post(path, headers=agency.leader, json=body)
        assert response.status_code == 404, f"{path}: {response.text}"
        assert response.json()["detail"]
    iid = await agency.initiative()  # an id, but not of a revisit
    response = await agency.client.post(f"/api/v1/revisits/{iid}/complete",
                                        headers=agency.leader, json={"outcome": "reaffirmed"})
    assert response.status_code == 404, response.text


BAD_SCHEDULES = [
    ({"due_on": "2026-03-01", "participants": ["A"]}, "subject"),
    ({"subject": "mission", "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": "2026-03-01"}, "participants"),
    ({"subject": "policy", "due_on": "2026-03-01", "participants": ["A"]}, "subject"),
    ({"subject": str(uuid.uuid4()), "due_on": "2026-03-01", "participants": ["A"]}, "subject"),
    ({"subject": 1, "due_on": "2026-03-01", "participants": ["A"]}, "subject"),
    ({"subject": "mission", "due_on": "2026-02-30", "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": "next March", "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": "01/03/2026", "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": 20260301, "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": "2026-03-01T10:00:00", "participants": ["A"]}, "due_on"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": []}, "participants"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": "A"}, "participants"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": [""]}, "participants[0]"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": [7]}, "participants[0]"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": ["A"], "every_months": 0},
     "every_months"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": ["A"],
      "every_months": "yearly"}, "every_months"),
    ({"subject": "mission", "due_on": "2026-03-01", "participants": ["A"], "room": "B"},
     "room"),
    ([], "body"),
]


async def test_every_bad_schedule_is_refused_naming_the_field_and_nothing_is_stored(agency):
    for body, field in BAD_SCHEDULES:
        response = await agency.client.post("/api/v1/revisits", headers=agency.leader, json=body)
        assert_field_error(response, field)
    assert await agency.listing("/api/v1/revisits") == []


async def test_every_bad_completion_or_reschedule_is_refused_and_nothing_changes(agency):
    rid = await agency.revisit()
    for body, field in [({}, "outcome"), ({"outcome": "fine"}, "outcome"),
                        ({"outcome": "revised"}, "notes"),
                        ({"outcome": "revised", "notes": "  "}, "notes"),
                        ({"outcome": "reaffirmed", "notes": 3}, "notes"),
                        ({"outcome": "reaffirmed", "held_on": "yesterday"}, "held_on"),
                        ({"outcome": "reaffirmed", "signed": True}, "signed")]:
        response = await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                            headers=agency.leader, json=body)
        assert_field_error(response, field)
    for body, field in [({"reason": "r"}, "due_on"), ({"due_on": "2026-04-01"}, "reason"),
                        ({"due_on": "2026-04-31", "reason": "r"}, "due_on"),
                        ({"due_on": "2026-04-01", "reason": ""}, "reason")]:
        response = await agency.client.post(f"/api/v1/revisits/{rid}/reschedule",
                                            headers=agency.leader, json=body)
        assert_field_error(response, field)
    [row] = await agency.listing("/api/v1/revisits")
    assert (row["status"], row["due_on"], row["version"]) == ("scheduled", "2026-03-01", 1)


class TestInTheAgencysTimeZone:
    """CQI_TIMEZONE=America/Chicago: "today" is Chicago's date, not UTC's."""

    @pytest.fixture
    def settings(self, settings):
        return dataclasses.replace(settings, timezone="America/Chicago")

    async def test_overdue_starts_at_midnight_in_chicago_not_in_utc(self, agency, clock):
        rid = await agency.revisit(due_on="2026-03-01")
        clock.set(datetime(2026, 3, 2, 5, 30, tzinfo=UTC))  # 23:30 on 1 March in Chicago
        assert await overdue(agency) == []
        clock.set(datetime(2026, 3, 2, 6, 30, tzinfo=UTC))  # 00:30 on 2 March in Chicago
        assert [(r["id"], r["days_overdue"]) for r in await overdue(agency)] == [(rid, 1)]

    async def test_a_revisit_held_today_is_held_on_chicagos_date(self, agency, clock):
        rid = await agency.revisit(due_on="2026-03-01")
        clock.set(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 21:00 on 1 March in Chicago
        agency.ok(await agency.client.post(f"/api/v1/revisits/{rid}/complete",
                                           headers=agency.leader,
                                           json={"outcome": "reaffirmed"}))
        [row] = await agency.listing("/api/v1/revisits")
        assert row["held_on"] == "2026-03-01"
