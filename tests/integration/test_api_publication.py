"""The publication API: leaders open and close the public pages and choose what they show."""

from __future__ import annotations

import json
import uuid

import pytest

from service.demo import load_demo
from tests.integration.conftest import assert_field_error, match
from tests.integration.measures_support import define_measure

PUBLICATION = "/api/v1/publication"


async def test_nothing_is_published_and_the_pages_are_closed_by_default(agency):
    body = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert body == {"open": False, "measure_ids": [], "initiative_ids": [],
                    "public_url": "https://testserver.local/public", "version": 0}


async def test_a_leader_opens_the_pages_and_publishes_a_measure_and_an_initiative(agency):
    measure_id = await define_measure(agency)
    initiative_id = await agency.initiative()
    opened = agency.ok(await agency.client.post(
        f"{PUBLICATION}/open", headers=agency.leader, json={"note": "The board agreed"}))
    assert opened["open"] is True and opened["version"] == 2
    agency.ok(await agency.client.post(f"{PUBLICATION}/measures/{measure_id}/publish",
                                       headers=agency.leader))
    response = await agency.client.post(
        f"{PUBLICATION}/initiatives/{initiative_id}/publish", headers=agency.leader)
    body = agency.ok(response)
    assert body["measure_ids"] == [measure_id]
    assert body["initiative_ids"] == [initiative_id]
    assert response.headers["ETag"] == '"4"' and body["version"] == 4
    again = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert again == body


async def test_every_change_is_stored_as_an_event_with_its_leader(agency, services):
    measure_id = await define_measure(agency)
    initiative_id = await agency.initiative()
    for path in ("open", f"measures/{measure_id}/publish",
                 f"initiatives/{initiative_id}/publish", f"measures/{measure_id}/withdraw",
                 f"initiatives/{initiative_id}/withdraw", "close"):
        agency.ok(await agency.client.post(f"{PUBLICATION}/{path}", headers=agency.leader))
    publication = await services.call(services.cqi.publication)
    events = await services.call(lambda: list(services.cqi.history(publication.id)))
    assert [type(e).__name__ for e in events] == [
        "Started", "PublicPagesOpened", "MeasurePublished", "InitiativePublished",
        "MeasureWithdrawn", "InitiativeWithdrawn", "PublicPagesClosed"]
    assert {e.actor for e in events} == {agency.ids["leader"]}
    assert events[2].measure_id == measure_id and events[3].initiative_id == initiative_id
    body = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert (body["open"], body["measure_ids"], body["initiative_ids"]) == (False, [], [])


@pytest.mark.parametrize("role", ["member", "auditor", "viewer"])
async def test_only_a_leader_reads_or_changes_the_publication(agency, role):
    measure_id = await define_measure(agency)
    headers = getattr(agency, role)
    assert (await agency.client.get(PUBLICATION, headers=headers)).status_code == 403
    for path in ("open", "close", f"measures/{measure_id}/publish"):
        response = await agency.client.post(f"{PUBLICATION}/{path}", headers=headers)
        assert response.status_code == 403, path
    body = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert body["version"] == 0


async def test_without_credentials_the_publication_answers_401(client):
    assert (await client.get(PUBLICATION)).status_code == 401
    assert (await client.post(f"{PUBLICATION}/open", json={})).status_code == 401


async def test_publishing_what_does_not_exist_is_404_and_stores_nothing(agency):
    for kind in ("measures", "initiatives"):
        response = await agency.client.post(
            f"{PUBLICATION}/{kind}/{uuid.uuid4()}/publish", headers=agency.leader)
        assert response.status_code == 404, response.text
        assert set(response.json()) == {"detail", "errors"}
    body = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert body["version"] == 0


async def test_an_initiative_id_is_not_published_as_a_measure(agency):
    initiative_id = await agency.initiative()
    response = await agency.client.post(
        f"{PUBLICATION}/measures/{initiative_id}/publish", headers=agency.leader)
    assert response.status_code == 404


async def test_a_malformed_id_is_not_found(agency):
    response = await agency.client.post(f"{PUBLICATION}/measures/not-an-id/publish",
                                        headers=agency.leader)
    assert response.status_code == 404


async def test_publishing_twice_or_withdrawing_what_is_not_published_is_a_409(agency):
    measure_id = await define_measure(agency)
    initiative_id = await agency.initiative()
    agency.ok(await agency.client.post(f"{PUBLICATION}/measures/{measure_id}/publish",
                                       headers=agency.leader))
    twice = await agency.client.post(f"{PUBLICATION}/measures/{measure_id}/publish",
                                     headers=agency.leader)
    assert twice.status_code == 409
    assert twice.json()["detail"] == "This measure is already published."
    never = await agency.client.post(f"{PUBLICATION}/initiatives/{initiative_id}/withdraw",
                                     headers=agency.leader)
    assert never.status_code == 409
    assert "not published" in never.json()["detail"]
    closed = await agency.client.post(f"{PUBLICATION}/close", headers=agency.leader)
    assert closed.status_code == 409
    assert closed.json()["detail"] == "The public pages are already closed."


async def test_a_stale_if_match_is_412_and_changes_nothing(agency):
    measure_id = await define_measure(agency)
    agency.ok(await agency.client.post(f"{PUBLICATION}/open", headers=agency.leader))
    stale = await agency.client.post(f"{PUBLICATION}/measures/{measure_id}/publish",
                                     headers={**agency.leader, **match(0)})
    assert stale.status_code == 412
    current = await agency.client.post(f"{PUBLICATION}/measures/{measure_id}/publish",
                                       headers={**agency.leader, **match(2)})
    assert agency.ok(current)["measure_ids"] == [measure_id]


async def test_a_bad_note_is_a_400_naming_the_field(agency):
    response = await agency.client.post(f"{PUBLICATION}/open", headers=agency.leader,
                                        json={"note": "x" * 1001})
    assert_field_error(response, "note")
    unknown = await agency.client.post(f"{PUBLICATION}/open", headers=agency.leader,
                                       json={"nope": 1})
    assert unknown.status_code == 400
    body = agency.ok(await agency.client.get(PUBLICATION, headers=agency.leader))
    assert body["open"] is False


async def test_the_publication_routes_are_in_the_openapi_document(client):
    document = json.loads((await client.get("/schema/openapi.json")).content)
    paths = document["paths"]
    assert {"get"} <= set(paths["/api/v1/publication"])
    for path in ("/api/v1/publication/open", "/api/v1/publication/close",
                 "/api/v1/publication/measures/{measure_id}/publish",
                 "/api/v1/publication/measures/{measure_id}/withdraw",
                 "/api/v1/publication/initiatives/{initiative_id}/publish",
                 "/api/v1/publication/initiatives/{initiative_id}/withdraw"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "401", "403", "409", "412"} <= set(responses), path
        for code, response in responses.items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, code)
    fields = set(document["components"]["schemas"]["PublicationOut"]["properties"])
    assert fields == {"open", "measure_ids", "initiative_ids", "public_url", "version"}


async def test_the_demo_chooses_what_to_publish_but_keeps_the_public_pages_closed(
        client, services, accounts):
    summary = await services.call(load_demo, services.cqi, services.settings, force=False)
    assert "chosen for the public pages (closed until a leader opens them" in summary
    await services.runner.progress.wait(
        await services.call(services.cqi.recorder.max_notification_id))
    leader = await accounts.token("leader")
    body = (await client.get(PUBLICATION, headers=leader)).json()
    assert body["open"] is False
    assert len(body["measure_ids"]) == 1 and len(body["initiative_ids"]) == 1
    assert (await client.get("/public")).status_code == 404
    assert (await client.get(f"/public/measures/{body['measure_ids'][0]}")).status_code == 404
