"""The mission, vision and values page: everyone reads it, leaders write it."""

from __future__ import annotations

import re

from tests.integration.pages_support import field_error, people, posting_forms

__all__ = ["people"]  # the fixture


async def test_leaders_write_the_mission_and_vision_as_revisions(people):
    leader = await people.browser("lee", "leader")
    html = await leader.get("/mission")
    assert "The mission and vision are not written yet" in html
    await leader.submit("/mission", {"mission": "Children are safe with their families",
                                     "vision": "Every family is a partner",
                                     "revisit_every_months": "12"})
    html = await leader.get("/mission")
    assert "Children are safe with their families" in html
    assert "Revision 1 · revisited every 12 months" in html
    await leader.submit("/mission", {"mission": "Children are safe, families strong",
                                     "revisit_every_months": ""})
    html = await leader.get("/mission")
    assert "Revision 2 · no revisit cadence set" in html
    assert "Children are safe, families strong" in html


async def test_a_mission_without_text_or_with_a_bad_cadence_is_sent_back(people):
    leader = await people.browser("lee", "leader")
    await leader.get("/mission")
    await leader.submit("/mission", {"mission": " ", "vision": "Every family is a partner",
                                     "revisit_every_months": "soon"}, status=400)
    assert field_error(leader.html, "statements-mission") == "Error: is required"
    assert field_error(leader.html, "statements-revisit-every-months") == (
        "Error: must be a whole number from 1 to 120")
    assert ">Every family is a partner</textarea>" in leader.html
    assert 'value="soon"' in leader.html
    assert "not written yet" in await leader.get("/mission")


async def test_leaders_add_and_revise_values_and_their_practice_standards(people):
    leader = await people.browser("lee", "leader")
    await leader.get("/mission")
    html = await leader.follow(await leader.submit("/mission/values", {
        "name": "Child safety", "description": "Every child is seen and heard"}))
    assert "<h3 id=\"value-" in html and "Child safety" in html
    assert "The value is added" in html
    value_id = re.search(r'id="value-([0-9a-f-]{36})"', html).group(1)
    html = await leader.follow(await leader.submit(f"/mission/values/{value_id}/standards", {
        "text": "The worker sees the child alone at every visit."}))
    assert "The worker sees the child alone at every visit." in html
    standard_id = re.search(r'id="standard-([0-9a-f-]{36})"', html).group(1)
    html = await leader.follow(await leader.submit(f"/mission/values/{value_id}", {
        "name": "Child safety and well-being"}))
    assert "Child safety and well-being" in html
    html = await leader.follow(await leader.submit(
        f"/mission/values/{value_id}/standards/{standard_id}/retire"))
    assert "Retired standards (1)" in html and "No practice standard yet" in html


async def test_a_duplicate_value_or_standard_is_sent_back_by_its_field(people, services):
    await services.command(services.cqi.add_value, actor="test", name="Child safety",
                           description="")
    leader = await people.browser("lee", "leader")
    await leader.get("/mission")
    await leader.submit("/mission/values", {"name": "child safety"}, status=400)
    assert field_error(leader.html, "add-value-name") == (
        "Error: a value named 'Child safety' already exists")
    value_id = re.search(r'id="value-([0-9a-f-]{36})"', leader.html).group(1)
    await leader.submit(f"/mission/values/{value_id}/standards", {"text": ""}, status=400)
    assert field_error(leader.html, f"standard-{value_id}-text") == "Error: is required"
    assert re.search(r"<details open>\s*<summary>Add a practice standard", leader.html)


async def test_a_mission_form_from_before_someone_elses_change_is_stale(people, services):
    leader = await people.browser("lee", "leader")
    await leader.get("/mission")
    await services.command(services.cqi.add_value, actor="test", name="Child safety",
                           description="")
    await leader.submit("/mission/values", {"name": "Family engagement"}, status=409)
    assert "Someone else changed the mission, vision or values since you opened the page" in \
        leader.html
    assert 'value="Family engagement"' in leader.html
    assert "Child safety" in leader.html  # their change, on the page now
    html = await leader.get("/mission")
    assert "<h3 id=\"value-" in html and ">Family engagement</h3>" not in html


async def test_everyone_signed_in_reads_the_mission_but_only_leaders_change_it(
        people, services, client):
    await services.command(services.cqi.write_mission, actor="test", mission="Safe children",
                           vision="Strong families", revisit_every_months=12)
    member = await people.browser("maria", "member")
    html = await member.get("/mission")
    assert "Safe children" in html and "Strong families" in html
    assert posting_forms(html) == []
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    response = await member.client.post("/mission", data={"_csrf": token, "mission": "Mine",
                                                           "vision": "Mine", "version": "1"})
    assert response.status_code == 403
    signed_out = await client.get("/mission")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/sign-in?next=/mission"
