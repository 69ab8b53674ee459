"""Commands that never apply twice: a repeat with the same idempotency key gets the first answer
and stores nothing new, over the API (the `Idempotency-Key` header) and from pages (the hidden
field every form carries)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from service.idempotency import FORM_FIELD
from tests.integration.conftest import charter_body
from tests.integration.pages_support import agency_values, form_posting_to, people

__all__ = ["people"]  # the fixture

TOPIC_OPENED = "%Initiative.Opened"


async def stored_events(services: Any, topic: str = "%") -> int:
    async with services.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM cqi_events WHERE topic LIKE $1", topic)


async def open_initiative(agency: Any, key: str | None, **changes: Any) -> httpx.Response:
    headers = {**agency.member, **({"Idempotency-Key": key} if key else {})}
    return await agency.client.post("/api/v1/initiatives", headers=headers,
                                    json=charter_body([await agency.default_value()], **changes))


async def test_the_same_post_twice_with_one_key_answers_the_same_and_stores_one_initiative(
        agency, services):
    first = await open_initiative(agency, "open-families-1")
    again = await open_initiative(agency, "open-families-1")
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert await stored_events(services, TOPIC_OPENED) == 1


async def test_two_keys_are_two_commands(agency, services):
    first = await open_initiative(agency, "key-a")
    second = await open_initiative(agency, "key-b")
    assert first.json()["id"] != second.json()["id"]
    assert await stored_events(services, TOPIC_OPENED) == 2


async def test_a_request_without_a_key_is_never_taken_for_a_repeat(agency, services):
    await open_initiative(agency, None)
    await open_initiative(agency, None)
    assert await stored_events(services, TOPIC_OPENED) == 2


async def test_the_same_key_with_another_body_is_refused_with_422_and_stores_nothing(
        agency, services):
    await open_initiative(agency, "reused")
    before = await stored_events(services)
    other = await open_initiative(agency, "reused", title="Another initiative")
    assert other.status_code == 422, other.text
    assert "Idempotency-Key" in other.json()["detail"]
    assert await stored_events(services) == before


async def test_the_same_key_on_another_path_is_refused_with_422(agency, services):
    initiative_id = (await open_initiative(agency, "one-key")).json()["id"]
    before = await stored_events(services)
    response = await agency.client.post(
        f"/api/v1/initiatives/{initiative_id}/team", headers={**agency.member,
                                                              "Idempotency-Key": "one-key"},
        json={"name": "Ana Ruiz", "kind": "consumer", "role": "parent partner"})
    assert response.status_code == 422, response.text
    assert await stored_events(services) == before


async def test_keys_belong_to_whoever_sent_them(agency, services):
    await open_initiative(agency, "shared-words")
    response = await agency.client.post(
        "/api/v1/initiatives", headers={**agency.leader, "Idempotency-Key": "shared-words"},
        json=charter_body([await agency.default_value()]))
    assert response.status_code == 201, response.text
    assert await stored_events(services, TOPIC_OPENED) == 2


async def test_a_malformed_key_is_a_400_that_names_the_header_and_stores_nothing(
        agency, services):
    await agency.default_value()
    before = await stored_events(services)
    for bad in (b"x" * 201, "caf\u00e9".encode(), b""):
        response = await agency.client.post(
            "/api/v1/initiatives", headers={**agency.member, "Idempotency-Key": bad},
            json=charter_body([await agency.default_value()]))
        assert response.status_code == 400, response.text
        assert "Idempotency-Key" in response.json()["errors"], response.text
    assert await stored_events(services) == before


async def test_ten_concurrent_duplicates_store_exactly_once_and_all_get_the_first_answer(
        agency, services):
    value_id = await agency.default_value()
    body = charter_body([value_id])
    headers = {**agency.member, "Idempotency-Key": "rush"}
    responses = await asyncio.gather(*(
        agency.client.post("/api/v1/initiatives", headers=headers, json=body)
        for _ in range(10)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await stored_events(services, TOPIC_OPENED) == 1


async def test_concurrent_duplicates_of_a_change_store_it_once(agency, services):
    initiative_id = await agency.initiative()
    value_id = await agency.default_value()
    plan = {"value_id": value_id, "objective": "Test a welcome call",
            "prediction": "Families call back", "measure": "Calls returned",
            "intervention": "A welcome call within 2 days", "training_step": "A script"}
    headers = {**agency.member, "Idempotency-Key": "plan-once"}
    responses = await asyncio.gather(*(
        agency.client.post(f"/api/v1/initiatives/{initiative_id}/cycles", headers=headers,
                           json=plan) for _ in range(6)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert {r.json()["number"] for r in responses} == {1}
    assert await stored_events(services, "%CyclePlanned") == 1


async def test_a_command_that_committed_but_lost_its_answer_is_answered_from_its_key(
        agency, services, monkeypatch):
    """The first attempt stores the initiative, then fails before answering (as a dropped
    connection would); the client's retry with the same key gets the answer it missed."""
    await agency.default_value()
    waiting = services.runner.progress.wait
    failures = []

    async def lose_the_answer_once(*args: Any, **kwargs: Any) -> bool:
        if not failures:
            failures.append(True)
            raise ConnectionResetError("the answer was lost on its way back")
        return await waiting(*args, **kwargs)

    monkeypatch.setattr(services.runner.progress, "wait", lose_the_answer_once)
    lost = await open_initiative(agency, "lost-answer")
    assert lost.status_code == 503  # a broken connection: "may or may not have been saved"
    assert "same Idempotency-Key" in lost.json()["detail"]
    assert await stored_events(services, TOPIC_OPENED) == 1

    retry = await open_initiative(agency, "lost-answer")
    assert retry.status_code == 201, retry.text
    assert await stored_events(services, TOPIC_OPENED) == 1
    listed = await agency.listing("/api/v1/initiatives")
    assert [i["id"] for i in listed] == [retry.json()["id"]]


async def test_a_refused_command_stores_no_key_so_the_corrected_repeat_is_a_new_request(
        agency, services):
    refused = await open_initiative(agency, "fix-and-retry", title="  ")
    assert refused.status_code == 400
    assert await stored_events(services, TOPIC_OPENED) == 0
    fixed = await open_initiative(agency, "fix-and-retry-2")
    assert fixed.status_code == 201


async def test_a_form_posted_twice_stores_one_initiative_and_answers_the_same_redirect(
        people, services):
    (family,) = await agency_values(services, "Family engagement")
    member = await people.browser("maria", "member")
    html = await member.get("/initiatives/new")
    form = form_posting_to(html, "/initiatives")
    assert dict(form.fields).get(FORM_FIELD), "the form carries an idempotency key"
    typed = {"title": "Families at the table", "aim": "80% by June", "value_ids": [family],
             "problem": "Families do not feel valued"}
    first = await member.send(form, typed)
    again = await member.send(form, typed)
    assert first.status_code == again.status_code == 303, again.text[:2000]
    assert re.fullmatch(r"/initiatives/[0-9a-f-]{36}\?done=opened", first.headers["location"])
    assert again.headers["location"] == first.headers["location"]
    assert await stored_events(services, TOPIC_OPENED) == 1


async def test_each_rendering_of_a_form_gets_a_fresh_key(people, services):
    await agency_values(services, "Family engagement")
    member = await people.browser("maria", "member")
    keys = set()
    for _ in range(2):
        html = await member.get("/initiatives/new")
        keys.add(dict(form_posting_to(html, "/initiatives").fields)[FORM_FIELD])
    assert len(keys) == 2


async def test_concurrent_duplicates_of_a_move_the_domain_would_refuse_twice_answer_alike(
        agency, services):
    """The repeat finds the cycle already in Do; rather than that refusal, it gets the first
    answer, since its key was used."""
    initiative_id = await agency.initiative()
    number = (await agency.plan(initiative_id))["number"]
    headers = {**agency.member, "Idempotency-Key": "do-once"}
    responses = await asyncio.gather(*(
        agency.client.post(f"/api/v1/initiatives/{initiative_id}/cycles/{number}/do",
                           headers=headers, json={"observations": "Held 12 meetings"})
        for _ in range(5)))
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert await stored_events(services, "%DoRecorded") == 1


async def test_a_csv_import_confirmed_twice_imports_once(people, services):
    value_id = (await agency_values(services, "Family engagement"))[0]
    measure = await services.command(
        services.cqi.define_measure, actor="test", name="Placement moves", type="balancing",
        definition={"numerator": "Moves of children in care", "denominator": "",
                    "data_source": "Placement records", "owner": "Placement unit",
                    "frequency": "monthly"},
        unit="count", direction="down", goal=None, value_ids=[value_id])
    here = f"/measures/{measure.id}"
    member = await people.browser("maria", "member")
    await member.get(here)
    fields = [f for f in form_posting_to(member.html, f"{here}/import").fields
              if f[0] != "file"]
    preview = await member.client.post(
        f"{here}/import", data=dict(fields),
        files={"file": ("data.csv", "period,value\n2025-01-01,4\n2025-02-01,6\n", "text/csv")})
    assert preview.status_code == 200, preview.text[:2000]
    confirm = form_posting_to(preview.text, f"{here}/import")
    assert dict(confirm.fields).get(FORM_FIELD), "the confirmation carries an idempotency key"
    first = await member.send(confirm)
    again = await member.send(confirm)
    assert first.status_code == again.status_code == 303, again.text[:2000]
    assert again.headers["location"] == first.headers["location"]
    assert await stored_events(services, "%DataPointsImported") == 1


async def test_a_csv_import_sent_twice_over_the_api_imports_once(agency, services):
    value_id = await agency.default_value()
    measure_id = agency.ok(await agency.client.post(
        "/api/v1/measures", headers=agency.leader, json={
        "name": "Placement moves", "type": "balancing", "unit": "count", "direction": "down",
        "definition": {"numerator": "Moves of children in care", "denominator": "",
                       "data_source": "Placement records", "owner": "Placement unit",
                       "frequency": "monthly"},
        "value_ids": [value_id]}), 201)["id"]
    headers = {**agency.member, "Content-Type": "text/csv", "Idempotency-Key": "csv-1"}
    csv = "period,value\n2025-01-01,4\n2025-02-01,6\n"
    first = await agency.client.post(f"/api/v1/measures/{measure_id}/import", headers=headers,
                                     content=csv)
    again = await agency.client.post(f"/api/v1/measures/{measure_id}/import", headers=headers,
                                     content=csv)
    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()) == (200, first.json())
    assert await stored_events(services, "%DataPointsImported") == 1
