"""The web UI's initiative pages, driven over HTTP as a person would through a browser."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

from tests.integration.pages_support import (
    PLAN,
    agency_values,
    an_initiative,
    field_error,
    form_posting_to,
    people,
    posting_forms,
)

__all__ = ["people"]  # the fixture


async def test_the_initiatives_list_says_what_to_do_when_there_are_none(people):
    member = await people.browser("maria", "member")
    html = await member.get("/initiatives")
    assert "No initiatives yet" in html
    assert 'href="/initiatives/new"' in html


async def test_opening_an_initiative_without_values_points_to_the_mission_page(people):
    member = await people.browser("maria", "member")
    html = await member.get("/initiatives/new")
    assert "no values written yet" in html
    assert 'href="/mission"' in html
    assert "/initiatives" not in posting_forms(html)


async def test_a_member_opens_an_initiative_with_its_values_and_team(people, services):
    family, safety = await agency_values(services, "Family engagement", "Child safety")
    member = await people.browser("maria", "member")
    html = await member.get("/initiatives/new")
    assert "Family engagement" in html and "Child safety" in html
    response = await member.submit("/initiatives", {
        "title": "Families at the table",
        "problem": "Consumer feedback: families do not feel valued",
        "aim": "80% of families report feeling included by June",
        "value_ids": [family, safety],
        "team[0].name": "Ana Ruiz", "team[0].kind": "consumer", "team[0].role": "parent partner",
        "team[2].name": "Lee Park", "team[2].kind": "staff", "team[2].role": "facilitator",
    })
    location = response.headers["location"]
    assert re.fullmatch(r"/initiatives/[0-9a-f-]{36}\?done=opened", location)
    html = await member.get(location)
    assert "<h1>Families at the table</h1>" in html
    assert "The initiative is open" in html
    assert "Family engagement" in html and "Child safety" in html
    assert "Ana Ruiz" in html and "parent partner" in html and "Lee Park" in html
    assert "Next step: plan cycle 1" in html
    listing = await member.get("/initiatives")
    assert "Families at the table" in listing and "No cycle yet" in listing
    assert "by maria" in listing


async def test_an_incomplete_initiative_is_sent_back_with_each_message_by_its_field(
        people, services):
    (family,) = await agency_values(services, "Family engagement")
    member = await people.browser("maria", "member")
    await member.get("/initiatives/new")
    await member.submit("/initiatives", {
        "title": "  ", "problem": "Families do not feel valued", "aim": "",
        "team[1].name": "", "team[1].role": "parent partner",
    }, status=400)
    html = member.html
    assert field_error(html, "open-title") == "Error: is required"
    assert field_error(html, "open-aim") == "Error: is required"
    assert "name at least one" in html  # values served
    assert "Families do not feel valued" in html  # what was typed is kept
    assert 'value="parent partner"' in html
    assert "Nothing was saved" in html
    # the charter put right, the team row missing its name is next (the domain checks the
    # charter first); the form's third row is the one named
    await member.submit("/initiatives", {
        "title": "Families at the table", "aim": "80% by June", "value_ids": family,
        "team[0].name": "", "team[0].role": "",
        "team[2].name": "", "team[2].role": "parent partner",
    }, status=400)
    assert field_error(member.html, "open-team-2-name") == "is required"
    assert "No initiatives yet" in await member.get("/initiatives")


async def test_a_member_runs_a_pdsa_cycle_one_phase_at_a_time_through_the_forms(
        people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    member = await people.browser("maria", "member")
    html = await member.get(here)
    assert posting_forms(html) == [f"{here}/team", f"{here}/cycles", f"{here}/conclude"]
    response = await member.submit(f"{here}/cycles", {**PLAN, "value_id": family,
                                                      "logistics": "East unit, April"})
    assert response.headers["location"] == f"{here}?done=planned#cycle-1"
    html = await member.follow(response)
    assert "Seven in ten families will say they were heard" in html
    assert "East unit, April" in html
    assert posting_forms(html) == [f"{here}/team", f"{here}/cycles/1/plan",
                                   f"{here}/cycles/1/do", f"{here}/conclude"]
    assert re.search(r'<li class="done">\s*<span class="step-name">Plan', html)
    assert re.search(r'<li class="current" aria-current="step">\s*<span class="step-name">Do',
                     html)

    html = await member.follow(await member.submit(f"{here}/cycles/1/do", {
        "observations": "Twelve meetings were held", "data_collected": "exit surveys"}))
    assert "Twelve meetings were held" in html
    assert "Next step: study cycle 1" in html
    html = await member.follow(await member.submit(f"{here}/cycles/1/study", {
        "result": "Eight of twelve felt heard", "learning": "Timing matters"}))
    assert "Eight of twelve felt heard" in html and "Next step: decide" in html
    assert "pre-filled" in html  # adapt says what it does
    response = await member.submit(f"{here}/cycles/1/act", {
        "decision": "adapt", "rationale": "Meetings work; hold them sooner"})
    assert response.headers["location"] == f"{here}?done=adapt#cycle-2"
    html = await member.follow(response)
    assert "the next cycle has started with the same plan" in html
    assert "adapted from cycle 1" in html
    assert "Next step: record what happened in cycle 2" in html
    # the pre-filled plan is edited with "revise the plan"
    revise = form_posting_to(html, f"{here}/cycles/2/plan")
    assert ("objective", PLAN["objective"]) in revise.fields
    html = await member.follow(await member.submit(f"{here}/cycles/2/plan", {
        "intervention": "Hold the meeting within 5 days of case opening"}))
    assert "Hold the meeting within 5 days of case opening" in html
    assert "The plan is revised" in html


async def test_a_phase_left_empty_is_sent_back_with_the_message_by_its_field(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    await services.command(services.cqi.plan_cycle, initiative, actor="test",
                           plan={**PLAN, "value_id": family})
    member = await people.browser("maria", "member")
    await member.get(f"/initiatives/{initiative}")
    await member.submit(f"/initiatives/{initiative}/cycles/1/do",
                        {"observations": "", "data_collected": "surveys"}, status=400)
    assert field_error(member.html, "do-observations") == "Error: is required"
    assert ">surveys</textarea>" in member.html
    html = await member.get(f"/initiatives/{initiative}")
    assert "Next step: record what happened in cycle 1" in html  # nothing was stored


async def test_a_refused_change_shows_the_domain_reason_with_409(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    member = await people.browser("maria", "member")
    await member.get(f"/initiatives/{initiative}")
    await member.submit(f"/initiatives/{initiative}/conclude",
                        {"outcome": "sustained", "note": "It worked"}, status=409)
    assert "An initiative is sustained only after a cycle has adopted its change." in member.html
    assert 'role="alert"' in member.html
    assert ">It worked</textarea>" in member.html
    assert "proposed" in await member.get(f"/initiatives/{initiative}")


async def test_a_form_from_a_page_someone_else_changed_since_is_stale(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    maria = await people.browser("maria", "member")
    sam = await people.browser("sam", "member")
    await maria.get(f"/initiatives/{initiative}")
    await sam.get(f"/initiatives/{initiative}")
    await sam.submit(f"/initiatives/{initiative}/cycles", {**PLAN, "value_id": family})
    await maria.submit(f"/initiatives/{initiative}/cycles",
                       {**PLAN, "value_id": family, "objective": "Maria's own objective"},
                       status=409)
    assert "Someone else changed this initiative since you opened the page" in maria.html
    assert f'<a href="/initiatives/{initiative}">Reload the page</a>' in maria.html
    assert "Maria&#39;s own objective" in maria.html  # kept, to copy
    assert "<dt>Mission value</dt><dd>Family engagement</dd>" in maria.html  # by its name
    html = await maria.get(f"/initiatives/{initiative}")
    assert "Maria&#39;s own objective" not in html  # sam's plan stands, nothing was lost
    assert len(re.findall(r'id="cycle-\d+"', html)) == 1


async def test_a_viewer_reads_an_initiative_without_forms_and_cannot_post(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    viewer = await people.browser("val", "viewer")
    html = await viewer.get(f"/initiatives/{initiative}")
    assert "Families at the table" in html
    assert posting_forms(html) == []
    assert "/history" not in html
    assert 'href="/initiatives/new"' not in await viewer.get("/initiatives")
    await viewer.get("/initiatives/new", status=403)
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    response = await viewer.client.post(f"/initiatives/{initiative}/cycles",
                                        data={"_csrf": token, **PLAN, "value_id": family})
    assert response.status_code == 403
    assert "This needs a CQI team member" in response.text


async def test_a_form_sent_again_after_a_stale_refusal_is_decided_on_the_new_version(
        people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    maria = await people.browser("maria", "member")
    await maria.get(here)
    await services.command(services.cqi.add_team_member, initiative, actor="test",
                           name="Lee Park", kind="staff", role="facilitator")
    await maria.submit(f"{here}/cycles", {**PLAN, "value_id": family}, status=409)
    assert "Someone else changed this initiative since you opened the page" in maria.html
    assert "Lee Park" in maria.html  # their change is on the page now
    assert PLAN["prediction"] in maria.html  # and her plan is still in the form
    await maria.submit(f"{here}/cycles")  # sent again, as it stands
    assert "Cycle 1" in await maria.get(here)


async def test_a_member_adds_a_team_member(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    member = await people.browser("maria", "member")
    await member.get(f"/initiatives/{initiative}")
    await member.submit(f"/initiatives/{initiative}/team", {"name": "Ana Ruiz",
                                                            "role": "co-chair"}, status=400)
    assert field_error(member.html, "team-name") == "Error: Ana Ruiz is already on the team"
    html = await member.follow(await member.submit(f"/initiatives/{initiative}/team", {
        "name": "Judge Carter", "kind": "stakeholder", "role": "family court liaison"}))
    assert "Judge Carter" in html and "External stakeholder" in html


async def test_the_list_filters_by_status(people, services):
    (family,) = await agency_values(services, "Family engagement")
    first = await an_initiative(services, family, "Families at the table")
    await an_initiative(services, family, "Seeing children alone")
    await services.command(services.cqi.plan_cycle, first, actor="test",
                           plan={**PLAN, "value_id": family})
    viewer = await people.browser("val", "viewer")
    html = await viewer.get("/initiatives?status=active")
    assert "Families at the table" in html and "Seeing children alone" not in html
    assert re.search(r"Cycle 1 · <span class=\"phase plan\">Plan</span>", html)
    html = await viewer.get("/initiatives?status=abandoned")
    assert "No initiative is abandoned" in html
    html = await viewer.get("/initiatives")
    assert "Families at the table" in html and "Seeing children alone" in html


async def test_htmx_requests_get_the_fragment_and_a_location_to_fetch(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    member = await people.browser("maria", "member")
    htmx = {"HX-Request": "true"}
    fragment = await member.get("/initiatives?status=proposed", headers=htmx)
    assert fragment.startswith('<section id="initiative-list"') and "<html" not in fragment
    html = await member.get(here)
    assert 'hx-post="' + here + '/cycles"' in html and 'hx-target="#initiative"' in html
    response = await member.submit(f"{here}/cycles", {**PLAN, "value_id": family},
                                   status=204, headers=htmx)
    assert response.headers["HX-Location"] == (
        '{"path": "' + here + '?done=planned#cycle-1", "target": "#initiative", '
        '"swap": "outerHTML"}')
    fragment = await member.get(f"{here}?done=planned", headers=htmx)
    assert fragment.lstrip().startswith('<div id="initiative"') and "<html" not in fragment
    assert "The cycle is planned" in fragment
    refused = await member.submit(f"{here}/cycles/1/do", {"observations": ""}, status=400,
                                  headers=htmx)
    assert "<html" not in refused.text and 'aria-invalid="true"' in refused.text
    restore = await member.get(here, headers={**htmx, "HX-History-Restore-Request": "true"})
    assert "<html" in restore  # a history restore needs the whole page


async def test_an_auditor_reads_the_history_and_the_initiative_as_it_was(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    member = await people.browser("maria", "member")
    await member.get(here)
    await member.submit(f"{here}/cycles", {**PLAN, "value_id": family})
    auditor = await people.browser("audrey", "auditor")
    html = await auditor.get(here)
    assert f'href="{here}/history"' in html and posting_forms(html) == []
    html = await auditor.get(f"{here}/history")
    assert "Initiative opened" in html and "Cycle planned" in html
    assert "by <strong>maria</strong>" in html  # the actor's login
    assert "<dt>Values served</dt><dd>Family engagement</dd>" in html  # names, not ids
    assert "<dt>Team</dt><dd>Ana Ruiz (consumer, parent partner)</dd>" in html
    assert "originator" not in html

    html = await auditor.get(f"{here}?version=1")
    assert "As it was at version 1" in html and "latest is version 2" in html
    assert "No cycle yet" in html and posting_forms(html) == []
    html = await auditor.get(f"{here}?as_of=2999-01-01T09:30")
    assert "As it was at version 2" in html
    await auditor.get(f"{here}?as_of=2000-01-01T09:30", status=400)
    assert field_error(auditor.html, "at-moment-as-of").endswith(
        "the initiative did not exist yet at that time")
    await auditor.get(f"{here}?version=9", status=400)
    assert field_error(auditor.html, "at-version-version").endswith("the latest version is 2")
    await auditor.get(f"{here}?as_of=yesterday", status=400)
    assert "give a date and time" in auditor.html


async def test_viewers_see_neither_history_nor_past_versions(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    viewer = await people.browser("val", "viewer")
    await viewer.get(f"/initiatives/{initiative}/history", status=403)
    await viewer.get(f"/initiatives/{initiative}?version=1", status=403)
    await viewer.get(f"/initiatives/{initiative}?as_of=2026-03-01T09:30", status=403)
    member = await people.browser("maria", "member")  # roles build on each other
    assert f"/initiatives/{initiative}/history" in await member.get(f"/initiatives/{initiative}")
    leader = await people.browser("lee", "leader")
    await leader.get(f"/initiatives/{initiative}/history")
    await leader.get(f"/initiatives/{uuid.uuid4()}", status=404)
    await leader.get("/initiatives/not-an-id", status=404)


async def test_as_of_a_wall_clock_moment_shows_the_version_recorded_by_then(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await services.command(services.cqi.plan_cycle, initiative, actor="test",
                           plan={**PLAN, "value_id": family})
    auditor = await people.browser("audrey", "auditor")
    wall_clock = between.astimezone(services.settings.zone).replace(tzinfo=None)  # agency time
    html = await auditor.get(f"/initiatives/{initiative}?as_of={wall_clock.isoformat()}")
    assert "As it was at version 1" in html and "latest is version 2" in html


async def test_every_page_answers_htmx_with_its_fragment_only(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    leader = await people.browser("lee", "leader")
    htmx = {"HX-Request": "true"}
    for url, root in [("/initiatives", '<section id="initiative-list"'),
                      ("/initiatives/new", '<div id="new-initiative"'),
                      (f"/initiatives/{initiative}", '<div id="initiative"'),
                      (f"/initiatives/{initiative}/history", '<div id="history"'),
                      ("/mission", '<div id="mission"'),
                      ("/revisits", '<div id="revisits"'),
                      ("/accounts", '<div id="accounts"')]:
        full = await leader.get(url)
        assert full.startswith("<!doctype html>") and root in full, url
        fragment = await leader.get(url, headers=htmx)
        assert fragment.lstrip().startswith(root) and "<html" not in fragment, url


async def test_add_another_team_member_brings_the_next_empty_row(people):
    member = await people.browser("maria", "member")
    html = await member.get("/initiatives/new/team-row?index=3",
                            headers={"HX-Request": "true"})
    assert 'name="team[3].name"' in html and "autofocus" in html
    assert 'hx-swap-oob="true"' in html and "team-row?index=4" in html


async def test_a_plan_revised_without_an_objective_is_sent_back_in_its_own_form(
        people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    await services.command(services.cqi.plan_cycle, initiative, actor="test",
                           plan={**PLAN, "value_id": family})
    member = await people.browser("maria", "member")
    await member.get(f"/initiatives/{initiative}")
    await member.submit(f"/initiatives/{initiative}/cycles/1/plan", {"objective": ""},
                        status=400)
    assert field_error(member.html, "revise-objective") == "Error: is required"
    assert '<details class="revise" open>' in member.html
    assert "do-observations-error" not in member.html  # the Do form is untouched


async def test_a_member_concludes_an_initiative_and_it_becomes_read_only(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    member = await people.browser("maria", "member")
    await member.get(f"/initiatives/{initiative}")
    html = await member.follow(await member.submit(f"/initiatives/{initiative}/conclude", {
        "outcome": "closed", "note": "The court changed the hearing schedule instead."}))
    assert "The initiative is concluded" in html
    assert "The court changed the hearing schedule instead." in html
    assert '<span class="tag closed">closed</span>' in html
    assert posting_forms(html) == []
    assert "No initiative is closed" not in await member.get("/initiatives?status=closed")


async def test_the_board_shows_initiatives_in_progress_and_leaves_finished_ones_out(agency,
                                                                                    people):
    proposed = await agency.initiative(title="Proposed: family voice in reviews")
    active = await agency.initiative(title="Active: visits on time")
    await agency.plan(active)
    finished = await agency.initiative(title="Finished: kinship first")
    await agency.plan(finished)
    agency.ok(await agency.client.post(f"/api/v1/initiatives/{finished}/conclude",
                                       headers=agency.member,
                                       json={"outcome": "abandoned", "note": "Funding ended"}))
    viewer = await people.browser("val", "viewer")
    html = await viewer.get("/board")
    assert f"/initiatives/{proposed}" in html and f"/initiatives/{active}" in html
    assert f"/initiatives/{finished}" not in html
