"""A cycle's Plan links one of the agency's measures; Do and Study carry their days; the cycles
view lists, for a measure, every cycle that tests a change against it."""

from __future__ import annotations

import uuid

from projections import cycles
from tests.integration.conftest import assert_field_error, plan_body
from tests.integration.measures_support import define_measure


async def test_a_cycle_linked_to_a_measure_keeps_its_link_and_its_days(agency, services):
    measure_id = await define_measure(agency)
    iid = await agency.initiative()
    value_id = await agency.default_value()
    base = f"/api/v1/initiatives/{iid}/cycles"
    agency.ok(await agency.client.post(base, headers=agency.member,
                                       json=plan_body(value_id, measure="", measure_id=measure_id)),
              201)
    agency.ok(await agency.client.post(f"{base}/1/do", headers=agency.member, json={
        "observations": "Ran it in the east unit", "started_on": "2026-01-05"}))
    agency.ok(await agency.client.post(f"{base}/1/study", headers=agency.member, json={
        "result": "7 of 10", "learning": "Calls help", "studied_on": "2026-02-27"}))
    cycle = (await agency.get(iid))["cycles"][0]
    assert {k: cycle[k] for k in ("measure_id", "measure", "started_on", "studied_on")} == {
        "measure_id": measure_id, "measure": "", "started_on": "2026-01-05",
        "studied_on": "2026-02-27"}
    rows = await services.read(cycles.measure_cycles, uuid.UUID(measure_id))
    assert [(str(r["initiative_id"]), r["number"], r["phase"], r["started_on"].isoformat(),
             r["studied_on"].isoformat(), r["result"]) for r in rows] == [
        (iid, 1, "study", "2026-01-05", "2026-02-27", "7 of 10")]


async def test_a_plan_naming_a_measure_the_agency_does_not_have_is_refused(agency, services):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    for unknown in (str(uuid.uuid4()), "not-a-uuid", iid):  # an initiative is not a measure
        response = await agency.client.post(
            f"/api/v1/initiatives/{iid}/cycles", headers=agency.member,
            json=plan_body(value_id, measure_id=unknown))
        assert_field_error(response, "measure_id")
        assert response.json()["errors"]["measure_id"] == "is not one of the agency's measures"
    assert (await agency.get(iid))["cycles"] == []


async def test_a_test_cannot_begin_in_the_future(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    response = await agency.client.post(
        f"/api/v1/initiatives/{iid}/cycles/1/do", headers=agency.member,
        json={"observations": "x", "started_on": "2999-01-01"})
    assert response.status_code == 400
    assert "is in the future" in response.json()["errors"]["started_on"]
    assert (await agency.get(iid))["cycles"][0]["phase"] == "plan"


async def test_do_and_study_without_days_are_dated_today(agency, services):
    iid = await agency.initiative()
    await agency.plan(iid)
    base = f"/api/v1/initiatives/{iid}/cycles/1"
    agency.ok(await agency.client.post(f"{base}/do", headers=agency.member,
                                       json={"observations": "x"}))
    agency.ok(await agency.client.post(f"{base}/study", headers=agency.member,
                                       json={"result": "r", "learning": "l"}))
    cycle = (await agency.get(iid))["cycles"][0]
    today = services.today().isoformat()
    assert (cycle["started_on"], cycle["studied_on"]) == (today, today)


async def test_a_linked_measure_id_is_stored_the_one_way_ids_are_written(agency):
    measure_id = await define_measure(agency)
    iid = await agency.initiative()
    value_id = await agency.default_value()
    for spelling in (f"urn:uuid:{measure_id}", measure_id.upper(), f"{{{measure_id}}}"):
        other = await agency.initiative(title=f"Linked as {spelling[:12]}")
        agency.ok(await agency.client.post(
            f"/api/v1/initiatives/{other}/cycles", headers=agency.member,
            json=plan_body(value_id, measure_id=spelling)), 201)
        assert (await agency.get(other))["cycles"][0]["measure_id"] == measure_id
    assert (await agency.get(iid))["cycles"] == []
