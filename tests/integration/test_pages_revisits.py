"""Revisits of the mission, vision and values: scheduled, overdue, held, rescheduled."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from tests.integration.pages_support import field_error, people, posting_forms

__all__ = ["people"]  # the fixture

TODAY = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


async def a_revisit(services, due_on=date(2026, 3, 1), subject="mission", every_months=12):
    receipt = await services.command(services.cqi.schedule_revisit, actor="test",
                                     subject=subject, due_on=due_on,
                                     participants=["Director", "Parent council"],
                                     every_months=every_months)
    return receipt.id


async def test_a_leader_schedules_a_revisit_of_one_value(people, services, clock):
    clock.set(TODAY)
    value = (await services.command(services.cqi.add_value, actor="test",
                                    name="Family engagement", description="")).detail
    await services.command(services.cqi.write_mission, actor="test", mission="m", vision="v",
                           revisit_every_months=12)
    leader = await people.browser("lee", "leader")
    html = await leader.get("/revisits")
    assert "Nothing is scheduled" in html
    assert "The value: Family engagement" in html
    assert 'name="every_months" type="number" value="12"' in html  # the mission's cadence
    response = await leader.submit("/revisits", {
        "subject": value, "due_on": "2026-04-01",
        "participants": "Lee Okafor\n\n Parent Advisory Council \n"})
    assert re.fullmatch(r"/revisits\?done=scheduled#r-[0-9a-f-]{36}",
                        response.headers["location"])
    html = await leader.follow(response)
    assert "<h3" in html and "Family engagement</h3>" in html
    assert "in 22 days" in html
    assert "Lee Okafor, Parent Advisory Council" in html
    assert "every 12 months" in html


async def test_a_revisit_without_participants_or_date_is_sent_back(people, services, clock):
    clock.set(TODAY)
    leader = await people.browser("lee", "leader")
    await leader.get("/revisits")
    await leader.submit("/revisits", {"due_on": "1 April", "participants": "\n  \n",
                                      "every_months": "0"}, status=400)
    assert field_error(leader.html, "schedule-due-on") == "Error: must be a date"
    assert field_error(leader.html, "schedule-participants") == (
        "Error: name at least one participant")
    assert field_error(leader.html, "schedule-every-months").startswith(
        "Error: must be a whole number")
    assert "Nothing is scheduled" in await leader.get("/revisits")


async def test_overdue_revisits_are_counted_against_the_agencys_today(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services)
    viewer = await people.browser("val", "viewer")
    html = await viewer.get("/revisits")
    assert re.search(rf'id="r-{revisit}"', html)
    assert '<span class="late">9 days overdue</span>' in html
    assert posting_forms(html) == []


async def test_holding_a_revisit_with_a_cadence_schedules_the_next(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services)
    leader = await people.browser("lee", "leader")
    html = await leader.get("/revisits")
    form = f"/revisits/{revisit}/complete"
    assert 'name="held_on" type="date" value="2026-03-10"' in html  # today, by default
    response = await leader.submit(form, {"outcome": "reaffirmed", "notes": "Still true"})
    next_id = re.search(r"#r-([0-9a-f-]{36})$", response.headers["location"]).group(1)
    assert next_id != str(revisit)
    html = await leader.follow(response)
    assert "The next one is scheduled automatically for 10 Mar 2027 (every 12 months)" in html
    assert re.search(rf'<article[^>]*id="r-{next_id}"', html)
    assert re.search(rf'<tr id="r-{revisit}">', html)
    assert "reaffirmed" in html and "Still true" in html


async def test_a_revised_outcome_needs_notes(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services)
    leader = await people.browser("lee", "leader")
    await leader.get("/revisits")
    await leader.submit(f"/revisits/{revisit}/complete", {"outcome": "revised"}, status=400)
    assert field_error(leader.html, f"complete-{revisit}-notes") == "Error: say what was revised"
    assert re.search(r'value="revised" checked', leader.html)


async def test_a_revisit_cannot_be_recorded_as_held_in_the_future(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services)
    leader = await people.browser("lee", "leader")
    await leader.get("/revisits")
    for held_on in ("2030-01-01", "9999-06-01"):
        await leader.submit(f"/revisits/{revisit}/complete",
                            {"outcome": "reaffirmed", "held_on": held_on}, status=400)
        assert field_error(leader.html, f"complete-{revisit}-held-on").startswith(
            "Error: cannot be after today")
    assert "reaffirmed" not in (await leader.get("/revisits")).split("Held")[-1]


async def test_a_leader_reschedules_a_revisit(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services)
    leader = await people.browser("lee", "leader")
    await leader.get("/revisits")
    await leader.submit(f"/revisits/{revisit}/reschedule", {"due_on": "2026-04-15",
                                                            "reason": ""}, status=400)
    assert field_error(leader.html, f"reschedule-{revisit}-reason") == "Error: is required"
    html = await leader.follow(await leader.submit(f"/revisits/{revisit}/reschedule", {
        "due_on": "2026-04-15", "reason": "The board meets in April"}))
    assert "The revisit is rescheduled" in html and "in 36 days" in html


async def test_a_revisit_held_meanwhile_refuses_the_form_with_why(people, services, clock):
    clock.set(TODAY)
    revisit = await a_revisit(services, every_months=None)
    leader = await people.browser("lee", "leader")
    await leader.get("/revisits")
    await services.command(services.cqi.complete_revisit, revisit, actor="test",
                           held_on=date(2026, 3, 9), outcome="reaffirmed", notes="",
                           today=services.today())
    await leader.submit(f"/revisits/{revisit}/reschedule", {"due_on": "2026-04-15",
                                                            "reason": "Board in April"},
                        status=409)
    assert "Someone else changed this revisit since you opened the page" in leader.html
    assert "Board in April" in leader.html  # what was typed, to copy
    token = re.search(r'name="_csrf" value="([^"]+)"', leader.html).group(1)
    response = await leader.client.post(f"/revisits/{revisit}/reschedule", data={
        "_csrf": token, "due_on": "2026-04-15", "reason": "Board in April"})
    assert response.status_code == 409
    assert "This revisit was already held on 2026-03-09." in response.text
