"""A cycle's Plan links a measure from the page; Do and Study take their days; Study shows the
measure's data for the days of the test beside the prediction."""

from __future__ import annotations

from datetime import date

from tests.integration.pages_support import (
    PLAN,
    agency_values,
    an_initiative,
    field_error,
    people,
)

__all__ = ["people"]  # the fixture


def month_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


async def a_monthly_proportion(services, value_id: str, today: date) -> str:
    receipt = await services.command(
        services.cqi.define_measure, actor="test", name="Families who felt heard",
        type="outcome", unit="proportion", direction="up", goal=0.8, value_ids=[value_id],
        definition={"numerator": "heard", "denominator": "answered", "data_source": "survey",
                    "owner": "analyst", "frequency": "monthly"})
    # Eight months of 4 in 10, then two months of 8 in 10 (the months of the test).
    points = [{"period": month_before(today, k), "numerator": 4 if k > 1 else 8,
               "denominator": 10, "note": ""} for k in range(9, -1, -1)]
    await services.command(services.cqi.import_data_points, receipt.id, actor="test",
                           points=points, today=today)
    return str(receipt.id)


async def test_study_shows_the_linked_measure_for_the_days_of_the_test(people, services):
    (family,) = await agency_values(services, "Family engagement")
    today = services.today()
    measure_id = await a_monthly_proportion(services, family, today)
    here = f"/initiatives/{await an_initiative(services, family)}"
    member = await people.browser("maria", "member")
    await member.get(here)
    html = await member.follow(await member.submit(f"{here}/cycles", {
        **PLAN, "value_id": family, "measure": "", "measure_id": measure_id}))
    assert f'<a href="/measures/{measure_id}">Families who felt heard</a>' in html

    began = month_before(today, 1)
    html = await member.follow(await member.submit(f"{here}/cycles/1/do", {
        "observations": "Meetings held", "started_on": began.isoformat()}))
    assert "Next step: study cycle 1" in html
    assert "the median of the last 6 points was <strong>40%</strong>" in html
    assert "the median of 2 points is <strong>80%</strong>" in html
    assert "(so far)" in html

    html = await member.follow(await member.submit(f"{here}/cycles/1/study", {
        "result": "Eight in ten felt heard", "learning": "It works",
        "studied_on": today.isoformat()}))
    assert "Eight in ten felt heard" in html
    assert "the median of 2 points is <strong>80%</strong>" in html
    assert "(so far)" not in html


async def test_a_study_dated_before_the_test_is_sent_back_by_its_field(people, services):
    (family,) = await agency_values(services, "Family engagement")
    here = f"/initiatives/{await an_initiative(services, family)}"
    member = await people.browser("maria", "member")
    await member.get(here)
    await member.follow(await member.submit(f"{here}/cycles", {**PLAN, "value_id": family}))
    today = services.today()
    await member.follow(await member.submit(f"{here}/cycles/1/do", {"observations": "Held",
                                                 "started_on": today.isoformat()}))
    response = await member.submit(f"{here}/cycles/1/study", {
        "result": "r", "learning": "l", "studied_on": month_before(today, 2).isoformat()},
        status=400)
    message = field_error(response.text, "study-studied-on")
    assert "cannot be before the day the test began" in message
    assert "Next step: study cycle 1" in response.text


async def test_a_plan_without_a_measure_in_words_or_a_link_is_refused(people, services):
    (family,) = await agency_values(services, "Family engagement")
    here = f"/initiatives/{await an_initiative(services, family)}"
    member = await people.browser("maria", "member")
    await member.get(here)
    response = await member.submit(f"{here}/cycles", {**PLAN, "value_id": family, "measure": ""},
                                   status=400)
    assert field_error(response.text, "plan-measure") == "Error: is required"


async def test_the_history_names_the_linked_measure_and_the_days(people, services):
    (family,) = await agency_values(services, "Family engagement")
    today = services.today()
    measure_id = await a_monthly_proportion(services, family, today)
    here = f"/initiatives/{await an_initiative(services, family)}"
    member = await people.browser("maria", "member")
    await member.get(here)
    await member.follow(await member.submit(f"{here}/cycles", {
        **PLAN, "value_id": family, "measure": "", "measure_id": measure_id}))
    began = month_before(today, 1)
    await member.follow(await member.submit(f"{here}/cycles/1/do", {
        "observations": "Meetings held", "started_on": began.isoformat()}))
    html = await member.get(f"{here}/history")
    assert "Linked measure" in html and "Families who felt heard" in html
    assert measure_id not in html.split("<main", 1)[1].split("Linked measure", 1)[1][:200]
    assert "Test began" in html and began.isoformat() in html
