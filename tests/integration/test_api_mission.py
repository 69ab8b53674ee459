"""The mission, vision and values through /api/v1/mission and /api/v1/values."""

from __future__ import annotations

from tests.integration.conftest import assert_field_error, match

MISSION = {"mission": "Children safe, families strong", "vision": "Every family heard",
           "revisit_every_months": 12}

BAD_MISSION_BODIES = [
    ({"vision": "v"}, "mission"),
    ({"mission": "m"}, "vision"),
    ({"mission": 1, "vision": "v"}, "mission"),
    ({"mission": "m", "vision": ["v"]}, "vision"),
    ({"mission": "m", "vision": "v", "motto": "x"}, "motto"),
    ({"mission": "   ", "vision": "v"}, "mission"),
    ({"mission": "m", "vision": ""}, "vision"),
    ({"mission": "m" * 5001, "vision": "v"}, "mission"),
    ({"mission": "m", "vision": "v", "revisit_every_months": 0}, "revisit_every_months"),
    ({"mission": "m", "vision": "v", "revisit_every_months": 121}, "revisit_every_months"),
    ({"mission": "m", "vision": "v", "revisit_every_months": "yearly"}, "revisit_every_months"),
    ({"mission": "m", "vision": "v", "revisit_every_months": 1.5}, "revisit_every_months"),
    ({"mission": "m", "vision": "v", "revisit_every_months": True}, "revisit_every_months"),
    (["m", "v"], "body"),
    (None, "body"),
]

BAD_VALUE_BODIES = [
    ({}, "name"),
    ({"description": "d"}, "name"),
    ({"name": 7}, "name"),
    ({"name": ""}, "name"),
    ({"name": "  "}, "name"),
    ({"name": "n" * 121}, "name"),
    ({"name": "Safety", "description": 5}, "description"),
    ({"name": "Safety", "colour": "red"}, "colour"),
    ({"name": "FAMILY ENGAGEMENT"}, "name"),  # the name is taken (case does not matter)
    ("Safety", "body"),
]


async def test_the_mission_is_empty_until_a_leader_writes_it_then_everyone_reads_it(agency):
    response = await agency.client.get("/api/v1/mission", headers=agency.viewer)
    assert response.status_code == 200
    assert response.json()["mission"] == "" and response.json()["vision"] == ""
    assert response.json()["revisit_every_months"] is None
    written = await agency.client.put("/api/v1/mission", headers=agency.leader, json=MISSION)
    assert written.status_code == 200, written.text
    assert written.headers["ETag"] == f'"{written.json()["version"]}"'
    read = await agency.client.get("/api/v1/mission", headers=agency.viewer)
    assert read.status_code == 200
    assert {k: read.json()[k] for k in MISSION} == MISSION
    assert read.headers["ETag"] == written.headers["ETag"]
    unset = await agency.client.put("/api/v1/mission", headers=agency.leader,
                                    json={"mission": "m", "vision": "v"})
    assert unset.status_code == 200, unset.text
    assert unset.json()["revisit_every_months"] is None  # the cadence may be left unset


async def test_every_bad_mission_body_is_refused_naming_the_field_and_nothing_changes(agency):
    first = agency.ok(await agency.client.put("/api/v1/mission", headers=agency.leader,
                                              json=MISSION))
    for body, field in BAD_MISSION_BODIES:
        response = await agency.client.put("/api/v1/mission", headers=agency.leader, json=body)
        assert_field_error(response, field)
    after = agency.ok(await agency.client.get("/api/v1/mission", headers=agency.viewer))
    assert after == first


async def test_a_body_that_is_not_json_or_is_missing_is_a_400_with_the_error_body(agency):
    response = await agency.client.put(
        "/api/v1/mission", headers={**agency.leader, "Content-Type": "application/json"},
        content=b'{"mission": "m", "vision": ')
    assert_field_error(response, "body")
    missing = await agency.client.put("/api/v1/mission", headers=agency.leader)
    assert_field_error(missing, "body")
    assert missing.json()["errors"]["body"] == "a JSON object is required"


async def test_writing_the_mission_on_the_version_read_succeeds_and_on_an_old_one_is_412(agency):
    first = agency.ok(await agency.client.put("/api/v1/mission", headers=agency.leader,
                                              json=MISSION))
    second = await agency.client.put(
        "/api/v1/mission", headers={**agency.leader, **match(first["version"])},
        json={**MISSION, "vision": "Every family heard, every child safe"})
    assert second.status_code == 200, second.text
    assert second.json()["version"] > first["version"]
    assert second.headers["ETag"] == f'"{second.json()["version"]}"'
    stale = await agency.client.put(
        "/api/v1/mission", headers={**agency.leader, **match(first["version"])},
        json={**MISSION, "vision": "lost update"})
    assert stale.status_code == 412, stale.text
    assert "version" in stale.json()["detail"]
    malformed = await agency.client.put("/api/v1/mission",
                                        headers={**agency.leader, "If-Match": "yesterday"},
                                        json={**MISSION, "vision": "malformed"})
    assert_field_error(malformed, "If-Match")
    now = agency.ok(await agency.client.get("/api/v1/mission", headers=agency.viewer))
    assert now["vision"] == "Every family heard, every child safe"


async def test_a_leader_adds_values_and_they_are_listed_with_stable_ids(agency):
    created = await agency.client.post(
        "/api/v1/values", headers=agency.leader,
        json={"name": "Family engagement", "description": "Families are partners"})
    assert created.status_code == 201, created.text
    value = created.json()
    assert {"id", "name", "description"} <= set(value)
    assert (value["name"], value["description"]) == ("Family engagement", "Families are partners")
    safety = await agency.value("Child safety")
    listed = agency.ok(await agency.client.get("/api/v1/values", headers=agency.viewer))
    assert [(v["id"], v["name"]) for v in listed] == [
        (value["id"], "Family engagement"), (safety, "Child safety")]
    assert listed[1]["description"] == ""  # a description is optional


async def test_every_bad_value_body_is_refused_naming_the_field_and_nothing_is_stored(agency):
    await agency.value("Family engagement")
    before = agency.ok(await agency.client.get("/api/v1/values", headers=agency.viewer))
    for body, field in BAD_VALUE_BODIES:
        response = await agency.client.post("/api/v1/values", headers=agency.leader, json=body)
        assert_field_error(response, field)
    after = agency.ok(await agency.client.get("/api/v1/values", headers=agency.viewer))
    assert after == before


async def test_adding_a_value_on_an_old_version_of_the_mission_is_412(agency):
    first = agency.ok(await agency.client.put("/api/v1/mission", headers=agency.leader,
                                              json=MISSION))
    await agency.value("Family engagement")
    stale = await agency.client.post("/api/v1/values",
                                     headers={**agency.leader, **match(first["version"])},
                                     json={"name": "Child safety"})
    assert stale.status_code == 412, stale.text
    names = [v["name"] for v in await agency.listing("/api/v1/values")]
    assert names == ["Family engagement"]


async def test_a_leader_revises_a_value_keeping_its_id(agency):
    value_id = await agency.value("Family engagment")
    revised = await agency.client.put(f"/api/v1/values/{value_id}", headers=agency.leader,
                                      json={"name": "Family engagement", "description": "d"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["id"] == value_id
    assert [(v["id"], v["name"]) for v in await agency.listing("/api/v1/values")] == [
        (value_id, "Family engagement")]


async def test_every_bad_value_revision_is_refused_and_nothing_changes(agency):
    value_id = await agency.value("Family engagement")
    await agency.value("Child safety")
    for body, field in [({}, "name"), ({"name": ""}, "name"), ({"name": 1}, "name"),
                        ({"name": "child SAFETY"}, "name"), ({"name": "x", "extra": 1}, "extra")]:
        response = await agency.client.put(f"/api/v1/values/{value_id}", headers=agency.leader,
                                           json=body)
        assert_field_error(response, field)
    assert [v["name"] for v in await agency.listing("/api/v1/values")] == [
        "Family engagement", "Child safety"]


async def test_a_revised_value_name_shows_on_the_board_and_revisits_at_once(agency):
    value_id = await agency.value("Family engagment")
    iid = await agency.initiative()
    await agency.plan(iid)
    await agency.revisit(subject=value_id)
    agency.ok(await agency.client.put(f"/api/v1/values/{value_id}", headers=agency.leader,
                                      json={"name": "Family engagement"}))
    [row] = await agency.listing("/api/v1/board")
    assert (row["value_id"], row["value_name"]) == (value_id, "Family engagement")
    [revisit] = await agency.listing("/api/v1/revisits")
    assert revisit["subject_label"] == "Family engagement"


async def test_revising_or_adding_standards_to_an_unknown_value_is_404(agency):
    await agency.value("Family engagement")
    revised = await agency.client.put("/api/v1/values/no-such-value", headers=agency.leader,
                                      json={"name": "x"})
    assert revised.status_code == 404, revised.text
    standard = await agency.client.post("/api/v1/values/no-such-value/standards",
                                        headers=agency.leader, json={"text": "x"})
    assert standard.status_code == 404, standard.text
    assert set(standard.json()) == {"detail", "errors"}


async def test_practice_standards_hang_off_a_value(agency):
    value_id = await agency.value("Child safety")
    added = await agency.client.post(
        f"/api/v1/values/{value_id}/standards", headers=agency.leader,
        json={"text": "The worker sees the child alone at every visit"})
    assert added.status_code == 201, added.text
    listed = await agency.listing("/api/v1/values")
    assert [s["text"] for s in listed[0]["standards"]] == [
        "The worker sees the child alone at every visit"]
    for body, field in [({}, "text"), ({"text": " "}, "text"), ({"text": 3}, "text"),
                        ({"text": "x", "why": "y"}, "why"),
                        ({"text": "the worker sees the child alone at every visit"}, "text")]:
        response = await agency.client.post(f"/api/v1/values/{value_id}/standards",
                                            headers=agency.leader, json=body)
        assert_field_error(response, field)
    listed = await agency.listing("/api/v1/values")
    assert len(listed[0]["standards"]) == 1


async def test_values_added_by_another_process_are_known_at_once(services):
    """The value ids a command checks against are remembered per mission version: a value added
    through another process (another replica) is known to the next command here."""
    from service.application import CQIApplication, eventsourcing_env

    first = services.cqi.add_value(actor="leader", name="Child safety", description="").detail
    assert services.cqi.known_value_ids() == {first}
    other = CQIApplication(env=eventsourcing_env(services.settings.database_url, pool_size=1))
    try:
        second = other.add_value(actor="leader", name="Family voice", description="").detail
    finally:
        other.close()
    assert services.cqi.known_value_ids() == {first, second}
    services.cqi.open_initiative(actor="member", title="Family voice in reviews",
                                 problem="Families are not heard", aim="All reviews by June",
                                 value_ids=[second])
