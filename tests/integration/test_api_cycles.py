"""PDSA cycles through /api/v1/initiatives/{id}/cycles: phases move forward only, and the
board and the list see every step the moment its command answers."""

from __future__ import annotations

from tests.integration.conftest import assert_field_error, match, plan_body

CYCLE_FIELDS = {"number", "phase", "value_id", "measure", "intervention", "training_step",
                "objective", "prediction", "observations", "result", "learning", "decision",
                "rationale"}
BOARD_FIELDS = {"initiative_id", "title", "cycle_number", "phase", "value_id", "updated_at"}


async def board_row(agency, initiative_id):
    rows = [r for r in await agency.listing("/api/v1/board") if r["initiative_id"] == initiative_id]
    assert len(rows) == 1, rows
    assert set(rows[0]) >= BOARD_FIELDS
    return rows[0]


async def listed(agency, initiative_id):
    rows = [r for r in await agency.listing("/api/v1/initiatives") if r["id"] == initiative_id]
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_cycle_runs_plan_do_study_act_and_each_step_answers_with_its_version(agency):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    planned = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles", headers=agency.member,
                                       json=plan_body(value_id))
    assert planned.status_code == 201, planned.text
    assert {k: planned.json()[k] for k in ("number", "version")} == {"number": 1, "version": 2}
    assert planned.headers["ETag"] == '"2"'
    steps = [("do", {"observations": "Held 12 meetings", "data_collected": "12 surveys"}),
             ("study", {"result": "8 of 12 felt heard", "learning": "Timing matters"}),
             ("act", {"decision": "adopt", "rationale": "The prediction held"})]
    for version, (step, body) in enumerate(steps, start=3):
        response = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/{step}",
                                            headers=agency.member, json=body)
        assert response.status_code == 200, f"{step}: {response.text}"
        assert response.json()["version"] == version
        assert response.headers["ETag"] == f'"{version}"'
    cycle = (await agency.get(iid))["cycles"][0]
    assert set(cycle) >= CYCLE_FIELDS
    assert {k: cycle[k] for k in CYCLE_FIELDS} == {
        **{k: v for k, v in plan_body(value_id).items()}, "number": 1, "phase": "act",
        "observations": "Held 12 meetings", "result": "8 of 12 felt heard",
        "learning": "Timing matters", "decision": "adopt", "rationale": "The prediction held"}


async def test_the_board_and_the_list_see_each_step_as_soon_as_its_command_answers(agency):
    value_id = await agency.default_value()
    iid = await agency.initiative()
    assert await agency.listing("/api/v1/board") == []  # proposed: not on the board yet
    await agency.plan(iid)
    row = await board_row(agency, iid)
    assert {k: row[k] for k in ("title", "cycle_number", "phase", "value_id")} == {
        "title": "Families at the table", "cycle_number": 1, "phase": "plan",
        "value_id": value_id}
    assert (await listed(agency, iid))["current_cycle"] == {"number": 1, "phase": "plan"}
    assert (await listed(agency, iid))["status"] == "active"
    last = row["updated_at"]
    for step, phase in [(agency.do, "do"), (agency.study, "study"), (agency.act, "act")]:
        await step(iid, 1)
        row = await board_row(agency, iid)
        assert (row["cycle_number"], row["phase"]) == (1, phase)
        assert row["updated_at"] > last
        last = row["updated_at"]
        assert (await listed(agency, iid))["current_cycle"] == {"number": 1, "phase": phase}
    safety = await agency.value("Child safety")
    await agency.plan(iid, value_id=safety)
    row = await board_row(agency, iid)
    assert (row["cycle_number"], row["phase"]) == (2, "plan")
    assert (row["value_id"], row["value_name"]) == (safety, "Child safety")
    assert (await listed(agency, iid))["current_cycle"] == {"number": 2, "phase": "plan"}


async def test_study_before_do_is_refused_with_the_reason_and_nothing_is_recorded(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    early = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/study",
                                     headers=agency.member, json={"result": "r", "learning": "l"})
    assert early.status_code == 409, early.text
    assert early.json()["detail"] == "Cycle 1 is in Plan: record Do before Study."
    act = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/act",
                                   headers=agency.member,
                                   json={"decision": "adopt", "rationale": "r"})
    assert act.status_code == 409, act.text
    assert "record Do before Act" in act.json()["detail"]
    assert (await agency.get(iid))["version"] == 2
    assert (await board_row(agency, iid))["phase"] == "plan"


async def test_a_phase_cannot_be_recorded_twice(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    await agency.do(iid, 1)
    again = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/do",
                                     headers=agency.member, json={"observations": "more"})
    assert again.status_code == 409, again.text
    assert "already recorded Do" in again.json()["detail"]


async def test_act_twice_is_refused_because_the_cycle_is_closed(agency):
    iid = await agency.initiative()
    await agency.run_cycle(iid, "adopt")
    again = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/act",
                                     headers=agency.member,
                                     json={"decision": "abandon", "rationale": "changed mind"})
    assert again.status_code == 409, again.text
    assert "Cycle 1 is closed" in again.json()["detail"]
    cycle = (await agency.get(iid))["cycles"][0]
    assert cycle["decision"] == "adopt"


async def test_a_new_cycle_cannot_be_planned_while_one_is_open(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    await agency.do(iid, 1)
    value_id = await agency.default_value()
    second = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles", headers=agency.member,
                                      json=plan_body(value_id))
    assert second.status_code == 409, second.text
    assert "Cycle 1 is still open" in second.json()["detail"]
    assert len((await agency.get(iid))["cycles"]) == 1


async def test_an_unknown_cycle_number_is_404(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    for step, body in [("do", {"observations": "o"}), ("study", {"result": "r", "learning": "l"}),
                       ("act", {"decision": "adopt", "rationale": "r"})]:
        response = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/2/{step}",
                                            headers=agency.member, json=body)
        assert response.status_code == 404, f"{step}: {response.text}"
        assert "no cycle 2" in response.json()["detail"]


async def test_adapt_opens_the_next_cycle_prefilled_from_this_one(agency):
    iid = await agency.initiative()
    await agency.plan(iid, measure="Share of families heard")
    await agency.do(iid, 1)
    await agency.study(iid, 1)
    adapted = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/act",
                                       headers=agency.member,
                                       json={"decision": "adapt", "rationale": "Try earlier"})
    assert adapted.status_code == 200, adapted.text
    assert adapted.json()["version"] == 6  # ActDecided and the next CyclePlanned
    assert adapted.json()["next_cycle"] == 2
    first, second = (await agency.get(iid))["cycles"]
    plan_fields = ("value_id", "measure", "intervention", "training_step", "objective",
                   "prediction")
    assert {k: second[k] for k in plan_fields} == {k: first[k] for k in plan_fields}
    assert (second["number"], second["phase"], second["adapted_from"]) == (2, "plan", 1)
    assert (await board_row(agency, iid))["cycle_number"] == 2
    # the pre-filled plan may still change before Do
    value_id = await agency.default_value()
    revised = await agency.client.put(f"/api/v1/initiatives/{iid}/cycles/2/plan",
                                      headers=agency.member,
                                      json=plan_body(value_id, measure="Days to first meeting"))
    assert revised.status_code == 200, revised.text
    assert (await agency.get(iid))["cycles"][1]["measure"] == "Days to first meeting"


async def test_abandon_closes_the_cycle_without_opening_another(agency):
    iid = await agency.initiative()
    response = await agency.run_cycle(iid, "abandon")
    assert response["next_cycle"] is None
    assert [c["decision"] for c in (await agency.get(iid))["cycles"]] == ["abandon"]


def bad_plans(value_id: str) -> list[tuple[object, str]]:
    good = plan_body(value_id)
    required = ("value_id", "measure", "intervention", "training_step", "objective", "prediction")
    return [
        *[({k: v for k, v in good.items() if k != name}, name) for name in required],
        *[({**good, name: ""}, name) for name in required],
        *[({**good, name: 3}, name) for name in required],
        ({**good, "value_id": "no-such-value"}, "value_id"),
        ({**good, "measure": "m" * 2001}, "measure"),
        ({**good, "budget": 100}, "budget"),
        ([good], "body"),
    ]


async def test_every_bad_plan_is_refused_naming_the_field_and_nothing_is_stored(agency):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    for body, field in bad_plans(value_id):
        response = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles",
                                            headers=agency.member, json=body)
        assert_field_error(response, field)
    initiative = await agency.get(iid)
    assert (initiative["version"], initiative["cycles"], initiative["status"]) == (
        1, [], "proposed")
    assert await agency.listing("/api/v1/board") == []


async def test_every_bad_plan_revision_is_refused(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    value_id = await agency.default_value()
    for body, field in bad_plans(value_id):
        response = await agency.client.put(f"/api/v1/initiatives/{iid}/cycles/1/plan",
                                           headers=agency.member, json=body)
        assert_field_error(response, field)
    assert (await agency.get(iid))["version"] == 2


async def test_every_bad_do_study_or_act_body_is_refused_and_the_phase_stays(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    cases = {
        "do": [({}, "observations"), ({"observations": ""}, "observations"),
               ({"observations": "   "}, "observations"), ({"observations": 1}, "observations"),
               ({"observations": "o", "data_collected": 7}, "data_collected"),
               ({"observations": "o", "mood": "good"}, "mood"), (["o"], "body")],
        "study": [({"learning": "l"}, "result"), ({"result": "r"}, "learning"),
                  ({"result": "", "learning": "l"}, "result"),
                  ({"result": "r", "learning": ""}, "learning"),
                  ({"result": ["r"], "learning": "l"}, "result"),
                  ({"result": "r", "learning": "l", "score": 3}, "score")],
        "act": [({"rationale": "r"}, "decision"), ({"decision": "adopt"}, "rationale"),
                ({"decision": "keep", "rationale": "r"}, "decision"),
                ({"decision": "ADOPT", "rationale": "r"}, "decision"),
                ({"decision": None, "rationale": "r"}, "decision"),
                ({"decision": "adopt", "rationale": ""}, "rationale"),
                ({"decision": "adopt", "rationale": "r", "next": 2}, "next")],
    }
    for step in ("do", "study", "act"):
        version = (await agency.get(iid))["version"]
        for body, field in cases[step]:
            response = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/{step}",
                                                headers=agency.member, json=body)
            assert_field_error(response, field)
        assert (await agency.get(iid))["version"] == version
        await {"do": agency.do, "study": agency.study, "act": agency.act}[step](iid, 1)


async def test_a_step_on_the_current_version_succeeds_and_on_an_old_one_is_412(agency):
    iid = await agency.initiative()
    planned = await agency.plan(iid)
    do = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/do",
                                  headers={**agency.member, **match(planned["version"])},
                                  json={"observations": "Held 12 meetings"})
    assert do.status_code == 200, do.text
    assert do.headers["ETag"] == f'"{do.json()["version"]}"'
    stale = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/study",
                                     headers={**agency.member, **match(planned["version"])},
                                     json={"result": "r", "learning": "l"})
    assert stale.status_code == 412, stale.text
    current = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/study",
                                       headers={**agency.member, **match(do.json()["version"])},
                                       json={"result": "r", "learning": "l"})
    assert current.status_code == 200, current.text
    assert [e["type"] for e in await agency.history(iid)] == [
        "Opened", "CyclePlanned", "DoRecorded", "StudyRecorded"]


async def test_the_etag_of_a_read_is_the_if_match_of_the_next_write(agency):
    iid = await agency.initiative()
    read = await agency.client.get(f"/api/v1/initiatives/{iid}", headers=agency.member)
    value_id = await agency.default_value()
    planned = await agency.client.post(
        f"/api/v1/initiatives/{iid}/cycles",
        headers={**agency.member, "If-Match": read.headers["ETag"]}, json=plan_body(value_id))
    assert planned.status_code == 201, planned.text
    weak = await agency.client.post(f"/api/v1/initiatives/{iid}/cycles/1/do",
                                    headers={**agency.member, "If-Match": 'W/"2"'},
                                    json={"observations": "o"})
    assert weak.status_code == 200, weak.text
