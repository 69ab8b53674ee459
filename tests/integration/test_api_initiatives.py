"""Initiatives through /api/v1/initiatives: open, read, revise, team, conclude, and the list."""

from __future__ import annotations

import uuid

from tests.integration.conftest import assert_field_error, charter_body, match

INITIATIVE_FIELDS = {"id", "title", "problem", "aim", "status", "version", "value_ids", "cycles"}
SUMMARY_FIELDS = {"id", "title", "status", "current_cycle"}
UNKNOWN = str(uuid.uuid4())


def bad_charters(value_id: str) -> list[tuple[object, str]]:
    good = charter_body([value_id])
    without = {name: {k: v for k, v in good.items() if k != name} for name in good}
    return [
        *[(without[name], name) for name in ("title", "problem", "aim", "value_ids")],
        ({**good, "title": 42}, "title"),
        ({**good, "problem": None}, "problem"),
        ({**good, "aim": {"text": "x"}}, "aim"),
        ({**good, "value_ids": value_id}, "value_ids"),
        ({**good, "value_ids": [1]}, "value_ids[0]"),
        ({**good, "sponsor": "the director"}, "sponsor"),
        ({**good, "title": ""}, "title"),
        ({**good, "title": " \t "}, "title"),
        ({**good, "title": "t" * 201}, "title"),
        ({**good, "problem": ""}, "problem"),
        ({**good, "aim": ""}, "aim"),
        ({**good, "value_ids": []}, "value_ids"),
        ({**good, "value_ids": ["no-such-value"]}, "value_ids"),
        ({**good, "team": [{"name": "Ana", "kind": "alien", "role": "x"}]}, "team[0].kind"),
        ({**good, "team": [{"name": "Ana", "kind": "staff"}]}, "team[0].role"),
        ({**good, "team": [{"name": "", "kind": "staff", "role": "lead"}]}, "team[0].name"),
        ({**good, "team": [{"name": "Ana", "kind": "staff", "role": "lead"},
                           {"name": "ana", "kind": "consumer", "role": "parent"}]},
         "team[1].name"),
        ([good], "body"),
        ("Families at the table", "body"),
    ]


async def test_a_member_opens_an_initiative_and_gets_its_id_and_version(agency):
    value_id = await agency.default_value()
    opened = await agency.client.post("/api/v1/initiatives", headers=agency.member,
                                      json=charter_body([value_id]))
    assert opened.status_code == 201, opened.text
    assert set(opened.json()) >= {"id", "version"}
    assert opened.json()["version"] == 1
    assert opened.headers["ETag"] == '"1"'
    uuid.UUID(opened.json()["id"])


async def test_an_initiative_reads_back_with_every_field_of_the_contract(agency):
    value_id = await agency.default_value()
    body = charter_body([value_id], title="  Families at the table ", team=[
        {"name": "Ana Ruiz", "kind": "staff", "role": "facilitator"},
        {"name": "Parent council", "kind": "consumer", "role": "advisor"}])
    opened = agency.ok(await agency.client.post("/api/v1/initiatives", headers=agency.member,
                                                json=body), 201)
    read = await agency.client.get(f"/api/v1/initiatives/{opened['id']}", headers=agency.viewer)
    assert read.status_code == 200, read.text
    initiative = read.json()
    assert set(initiative) >= INITIATIVE_FIELDS
    assert initiative["id"] == opened["id"]
    assert initiative["title"] == "Families at the table"  # stored trimmed
    assert {k: initiative[k] for k in ("problem", "aim", "value_ids")} == {
        k: body[k] for k in ("problem", "aim", "value_ids")}
    assert (initiative["status"], initiative["version"], initiative["cycles"]) == (
        "proposed", 1, [])
    assert [m["name"] for m in initiative["team"]] == ["Ana Ruiz", "Parent council"]
    assert read.headers["ETag"] == '"1"'


async def test_a_new_initiative_is_in_the_list_right_away(agency):
    assert await agency.listing("/api/v1/initiatives") == []
    iid = await agency.initiative()
    listed = await agency.listing("/api/v1/initiatives")
    assert len(listed) == 1
    assert set(listed[0]) >= SUMMARY_FIELDS
    assert {k: listed[0][k] for k in SUMMARY_FIELDS} == {
        "id": iid, "title": "Families at the table", "status": "proposed",
        "current_cycle": None}


async def test_the_list_can_be_filtered_by_status(agency):
    proposed = await agency.initiative(title="Proposed one")
    active = await agency.initiative(title="Active one")
    await agency.plan(active)
    only_active = await agency.listing("/api/v1/initiatives?status=active")
    assert [i["id"] for i in only_active] == [active]
    only_proposed = await agency.listing("/api/v1/initiatives?status=proposed")
    assert [i["id"] for i in only_proposed] == [proposed]
    assert await agency.listing("/api/v1/initiatives?status=closed") == []
    unknown = await agency.client.get("/api/v1/initiatives?status=finished",
                                      headers=agency.viewer)
    assert_field_error(unknown, "status")


async def test_every_bad_initiative_body_is_refused_naming_the_field_and_nothing_is_stored(
    agency,
):
    value_id = await agency.default_value()
    for body, field in bad_charters(value_id):
        response = await agency.client.post("/api/v1/initiatives", headers=agency.member,
                                            json=body)
        assert_field_error(response, field)
    assert await agency.listing("/api/v1/initiatives") == []
    assert await agency.listing("/api/v1/board") == []
    # every error of a body is reported at once
    response = await agency.client.post(
        "/api/v1/initiatives", headers=agency.member,
        json={"title": "", "problem": "", "aim": "", "value_ids": []})
    assert_field_error(response, "title")
    assert set(response.json()["errors"]) == {"title", "problem", "aim", "value_ids"}


async def test_an_unknown_initiative_is_404_on_every_route(agency):
    value_id = await agency.default_value()
    m = agency.member
    routes = [
        ("GET", f"/api/v1/initiatives/{UNKNOWN}", agency.viewer, None),
        ("GET", f"/api/v1/initiatives/{UNKNOWN}?version=1", agency.auditor, None),
        ("GET", f"/api/v1/initiatives/{UNKNOWN}?as_of=2026-01-01T00:00:00Z", agency.auditor,
         None),
        ("GET", f"/api/v1/initiatives/{UNKNOWN}/history", agency.auditor, None),
        ("PUT", f"/api/v1/initiatives/{UNKNOWN}", m, charter_body([value_id])),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/team", m,
         {"name": "Ana", "kind": "staff", "role": "lead"}),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/conclude", m,
         {"outcome": "closed", "note": "done"}),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/cycles", m,
         {"value_id": value_id, "measure": "m", "intervention": "i", "training_step": "t",
          "objective": "o", "prediction": "p"}),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/cycles/1/do", m, {"observations": "o"}),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/cycles/1/study", m,
         {"result": "r", "learning": "l"}),
        ("POST", f"/api/v1/initiatives/{UNKNOWN}/cycles/1/act", m,
         {"decision": "adopt", "rationale": "r"}),
        ("GET", "/api/v1/initiatives/not-an-id", agency.viewer, None),
    ]
    for method, path, headers, body in routes:
        response = await agency.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
        assert set(response.json()) == {"detail", "errors"}
        assert response.json()["detail"]
    # an id that exists, but is not an initiative's
    revisit_id = await agency.revisit()
    response = await agency.client.get(f"/api/v1/initiatives/{revisit_id}", headers=agency.viewer)
    assert response.status_code == 404, response.text
    history = await agency.client.get(f"/api/v1/initiatives/{revisit_id}/history",
                                      headers=agency.auditor)
    assert history.status_code == 404, history.text


async def test_revising_the_charter_on_the_current_version_succeeds_and_the_list_shows_it(agency):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    revised = await agency.client.put(
        f"/api/v1/initiatives/{iid}", headers={**agency.member, **match(1)},
        json=charter_body([value_id], title="Families lead their plans"))
    assert revised.status_code == 200, revised.text
    assert revised.json()["version"] == 2
    assert revised.headers["ETag"] == '"2"'
    assert [i["title"] for i in await agency.listing("/api/v1/initiatives")] == [
        "Families lead their plans"]
    assert (await agency.get(iid))["title"] == "Families lead their plans"


async def test_revising_the_charter_on_an_old_version_is_412_and_changes_nothing(agency):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    await agency.plan(iid)  # now at version 2
    stale = await agency.client.put(
        f"/api/v1/initiatives/{iid}", headers={**agency.member, **match(1)},
        json=charter_body([value_id], title="Lost update"))
    assert stale.status_code == 412, stale.text
    assert set(stale.json()) == {"detail", "errors"} and stale.json()["detail"]
    initiative = await agency.get(iid)
    assert (initiative["title"], initiative["version"]) == ("Families at the table", 2)
    assert [i["title"] for i in await agency.listing("/api/v1/initiatives")] == [
        "Families at the table"]


async def test_every_bad_charter_revision_is_refused_and_nothing_changes(agency):
    iid = await agency.initiative()
    value_id = await agency.default_value()
    for body, field in bad_charters(value_id):
        if isinstance(body, dict) and "team" in body:
            continue  # the team is not part of a charter revision
        response = await agency.client.put(f"/api/v1/initiatives/{iid}", headers=agency.member,
                                           json=body)
        assert_field_error(response, field)
    team = await agency.client.put(f"/api/v1/initiatives/{iid}", headers=agency.member,
                                   json={**charter_body([value_id]), "team": []})
    assert_field_error(team, "team")
    assert (await agency.get(iid))["version"] == 1


async def test_team_members_join_one_by_one_and_a_duplicate_is_refused(agency):
    iid = await agency.initiative()
    joined = await agency.client.post(f"/api/v1/initiatives/{iid}/team", headers=agency.member,
                                      json={"name": "Ana Ruiz", "kind": "staff", "role": "lead"})
    assert joined.status_code == 200, joined.text
    assert joined.json()["version"] == 2 and joined.headers["ETag"] == '"2"'
    for body, field in [
        ({"name": "ana ruiz", "kind": "consumer", "role": "parent"}, "name"),
        ({"name": "Bo", "kind": "volunteer", "role": "x"}, "kind"),
        ({"name": "Bo", "kind": "staff"}, "role"),
        ({"name": "Bo", "kind": "staff", "role": ""}, "role"),
        ({"name": 5, "kind": "staff", "role": "x"}, "name"),
        ({"name": "Bo", "kind": "staff", "role": "x", "email": "bo@x"}, "email"),
    ]:
        response = await agency.client.post(f"/api/v1/initiatives/{iid}/team",
                                            headers=agency.member, json=body)
        assert_field_error(response, field)
    initiative = await agency.get(iid)
    assert [(m["name"], m["kind"], m["role"]) for m in initiative["team"]] == [
        ("Ana Ruiz", "staff", "lead")]
    assert initiative["version"] == 2


async def test_an_initiative_is_sustained_only_after_a_cycle_adopted_its_change(agency):
    iid = await agency.initiative()
    refused = await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                       headers=agency.member,
                                       json={"outcome": "sustained", "note": "it works"})
    assert refused.status_code == 409, refused.text
    assert "adopted" in refused.json()["detail"]
    await agency.run_cycle(iid, "adopt")
    sustained = await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                         headers=agency.member,
                                         json={"outcome": "sustained", "note": "it works"})
    assert sustained.status_code == 200, sustained.text
    assert (await agency.get(iid))["status"] == "sustained"
    assert [i["status"] for i in await agency.listing("/api/v1/initiatives")] == ["sustained"]
    assert await agency.listing("/api/v1/board") == []


async def test_an_initiative_with_an_open_cycle_cannot_be_closed_but_can_be_abandoned(agency):
    iid = await agency.initiative()
    await agency.plan(iid)
    closed = await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                      headers=agency.member,
                                      json={"outcome": "closed", "note": "done"})
    assert closed.status_code == 409, closed.text
    assert "still open" in closed.json()["detail"]
    abandoned = await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                         headers=agency.member,
                                         json={"outcome": "abandoned", "note": "no staff"})
    assert abandoned.status_code == 200, abandoned.text
    assert (await agency.get(iid))["status"] == "abandoned"


async def test_a_concluded_initiative_takes_no_more_changes(agency):
    iid = await agency.initiative()
    agency.ok(await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                       headers=agency.member,
                                       json={"outcome": "closed", "note": "merged elsewhere"}))
    value_id = await agency.default_value()
    for path, body in [
        ("/cycles", {"value_id": value_id, "measure": "m", "intervention": "i",
                     "training_step": "t", "objective": "o", "prediction": "p"}),
        ("/team", {"name": "Ana", "kind": "staff", "role": "lead"}),
        ("/conclude", {"outcome": "abandoned", "note": "again"}),
    ]:
        response = await agency.client.post(f"/api/v1/initiatives/{iid}{path}",
                                            headers=agency.member, json=body)
        assert response.status_code == 409, f"{path}: {response.text}"
        assert "closed" in response.json()["detail"]
    again = await agency.client.put(f"/api/v1/initiatives/{iid}", headers=agency.member,
                                    json=charter_body([value_id]))
    assert again.status_code == 409, again.text


async def test_a_bad_conclusion_body_is_refused(agency):
    iid = await agency.initiative()
    for body, field in [({"outcome": "finished", "note": "x"}, "outcome"),
                        ({"note": "x"}, "outcome"),
                        ({"outcome": "closed"}, "note"),
                        ({"outcome": "closed", "note": ""}, "note"),
                        ({"outcome": "closed", "note": "x", "when": "now"}, "when")]:
        response = await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                            headers=agency.member, json=body)
        assert_field_error(response, field)
    assert (await agency.get(iid))["status"] == "proposed"


async def test_a_nul_character_in_any_text_is_refused_and_the_views_keep_working(agency):
    """PostgreSQL text cannot hold NUL: stored, it would stop every view at that event."""
    value_id = await agency.default_value()
    opened = await agency.client.post("/api/v1/initiatives", headers=agency.member,
                                      json=charter_body([value_id], title="Families\x00"))
    assert_field_error(opened, "title")
    iid = await agency.initiative()
    await agency.plan(iid)
    for path, body, field in [
        ("/team", {"name": "Ana\x00", "kind": "staff", "role": "lead"}, "name"),
        ("/cycles/1/do", {"observations": "\x00"}, "observations"),
    ]:
        response = await agency.client.post(f"/api/v1/initiatives/{iid}{path}",
                                            headers=agency.member, json=body)
        assert_field_error(response, field)
    await agency.do(iid, 1)
    assert [(r["initiative_id"], r["phase"]) for r in await agency.listing("/api/v1/board")] == [
        (iid, "do")]
