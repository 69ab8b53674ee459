"""The measure page: CQI team members set how a measure's chart is read (a frozen baseline,
phases, excluded and astronomical points, annotations) and see each setting in words, in the
data table and in the chart; viewers read the settings only; leaders revise the definition."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from html import unescape

from tests.integration.pages_support import (
    agency_values,
    field_error,
    form_posting_to,
    people,
    posting_forms,
)
from tests.integration.test_pages_measures import a_measure, chart_titles

__all__ = ["people"]  # the fixture

MOVES = [4, 6, 5, 7, 5, 6, 12, 11, 13, 12, 12, 11]  # monthly, January to December 2025


def month(n: int) -> str:
    return f"2025-{n:02d}-01"


async def a_measure_with_data(services, values=MOVES) -> str:
    measure_id = await a_measure(services)
    for n, moves in enumerate(values, start=1):
        await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                               actor="test", period=date(2025, n, 1), value=moves)
    return measure_id


def reading(html: str) -> list[str]:
    """The settings listed under 'How this chart is read', in words."""
    panel = re.search(r'<section class="panel reading".*?</section>', html, re.S).group(0)
    return [unescape(re.sub(r"<[^>]+>", "", words)).strip()
            for words in re.findall(r'<p class="reading-words">(.*?)</p>', panel, re.S)]


def chart_svg(html: str) -> str:
    return re.search(r'<div class="chart">(.*?)</svg>', html, re.S).group(1)


def centres(html: str) -> set[str]:
    """The centre line of each point, from the chart's numbers as a table."""
    table = re.search(r'<section class="chart-numbers" id="chart-numbers">.*?</section>',
                      html, re.S).group(0)
    return set(re.findall(r"</th><td>[^<]*</td><td>([^<]*)</td>", table))


def point_row(html: str, period: str) -> str:
    return re.search(rf'<tr id="p-{period}">(.*?)</tr>', html, re.S).group(1)


async def test_a_member_freezes_and_unfreezes_the_baseline(people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    html = await member.get(f"{here}?kind=i")
    assert "Every point counts toward the centre line and limits" in html
    assert "Change how this chart is read" in html
    response = await member.submit(f"{here}/baseline", {"through": month(6)})
    assert response.headers["location"] == f"{here}?done=frozen&kind=i#reading"
    html = await member.follow(response)
    assert "The baseline is frozen" in html
    assert reading(html) == [
        "Baseline frozen through June 2025 — centre line and limits from its first 6 points, "
        "extended forward"]
    assert chart_titles(html)[0].startswith("Placement moves: I chart")
    assert centres(html) == {"5.5"}  # the mean of January to June
    html = await member.follow(await member.submit(f"{here}/baseline/unfreeze"))
    assert "The baseline is unfrozen" in html and reading(html) == []
    assert centres(html) == {"8.667"}  # the mean of the year


async def test_a_member_starts_and_removes_a_phase_and_a_frozen_baseline_is_refused_then(
        people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    html = await member.follow(await member.submit(f"{here}/phases", {
        "period": month(7), "label": "Same-day <b>assignment</b>"}))
    assert "The phase is started" in html
    assert reading(html) == ["Phase from July 2025: Same-day <b>assignment</b>"]
    assert "Same-day &lt;b&gt;assignment&lt;/b&gt;" in html and "<b>assignment" not in html
    assert "<title>Phase: Same-day &lt;b&gt;assignment&lt;/b&gt;: 2025-07-01</title>" in \
        chart_svg(html)

    await member.submit(f"{here}/baseline", {"through": month(3)}, status=409)
    assert "Remove the phases first" in member.html
    assert "Baseline frozen" not in " ".join(reading(member.html))

    html = await member.get(here)
    html = await member.follow(await member.submit(f"{here}/phases/{month(7)}/remove"))
    assert "The phase is removed" in html and reading(html) == []
    assert "Phase:" not in chart_svg(html)


async def test_a_member_excludes_a_point_and_includes_it_again_with_a_reason(people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    html = await member.follow(await member.submit(f"{here}/exclusions", {
        "period": month(6), "reason": "Migration week"}))
    assert "The point is left out of the centre line and limits" in html
    assert reading(html) == ["June 2025 excluded: Migration week"]
    assert 'class="tag excluded">Excluded: Migration week<' in point_row(html, month(6))
    assert re.search(r'<circle[^>]*class="[^"]*excluded', chart_svg(html))
    assert "excluded: Migration week" in chart_svg(html)

    include = f"{here}/exclusions/{month(6)}/include"
    await member.submit(include, {"reason": " "}, status=400)
    assert field_error(member.html, f"include-{month(6)}-reason") == "Error: is required"
    assert reading(member.html) == ["June 2025 excluded: Migration week"]

    html = await member.get(here)
    html = await member.follow(await member.submit(include, {"reason": "Counts were checked"}))
    assert "counts toward the centre line and limits again" in html and reading(html) == []
    assert "Excluded:" not in point_row(html, month(6))
    assert not re.search(r'<circle[^>]*class="[^"]*excluded', chart_svg(html))


async def test_a_member_flags_an_astronomical_point_and_removes_the_flag(people, services):
    measure_id = await a_measure_with_data(services, [10, 11, 10, 90, 11, 10])
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(f"{here}?rules=ihi")
    response = await member.submit(f"{here}/astronomical", {"period": month(4),
                                                            "reason": "Flood week"})
    assert "rules=ihi" in response.headers["location"]
    html = await member.follow(response)
    assert reading(html) == ["April 2025 flagged astronomical: Flood week"]
    assert "Astronomical: Flood week" in point_row(html, month(4))
    assert "astronomical point in April 2025, flagged by a person" in html
    html = await member.follow(await member.submit(f"{here}/astronomical/{month(4)}/unflag"))
    assert "no longer flagged as astronomical" in html and reading(html) == []
    assert "flagged by a person" not in html
    assert "Astronomical:" not in point_row(html, month(4))


async def test_a_member_annotates_the_chart_and_removes_the_annotation(people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    html = await member.follow(await member.submit(f"{here}/annotations", {
        "on": "2025-03-10", "text": "Two workers left"}))
    assert "The annotation is on the chart" in html
    assert reading(html) == ["Annotation 10 Mar 2025: Two workers left"]
    assert "<title>Two workers left: 2025-03-10</title>" in chart_svg(html)
    html = await member.follow(await member.submit(f"{here}/annotations/2025-03-10/remove"))
    assert "The annotation is removed" in html and reading(html) == []
    assert "Two workers left" not in html


async def test_bad_settings_are_sent_back_next_to_their_fields_and_store_nothing(
        people, services):
    measure_id = await a_measure_with_data(services, [4, 6, 5])
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    await member.submit(f"{here}/exclusions", {"period": month(2), "reason": ""}, status=400)
    assert field_error(member.html, "exclude-reason") == "Error: is required"
    assert "<details class=\"reading-forms\" open>" in member.html
    await member.submit(f"{here}/exclusions", {"period": month(9), "reason": "x"}, status=400)
    assert "2025-09-01 has no data point" in field_error(member.html, "exclude-period")
    await member.submit(f"{here}/astronomical", {"period": month(2), "reason": ""},
                        status=400)
    assert field_error(member.html, "flag-reason") == "Error: is required"
    await member.submit(f"{here}/phases", {"period": month(1), "label": "From the start"},
                        status=400)
    assert "a phase starts at a later period" in field_error(member.html, "phase-period")
    await member.submit(f"{here}/annotations", {"on": "2999-01-01", "text": "Later"},
                        status=400)
    assert "is in the future" in field_error(member.html, "annotate-on")
    assert 'value="Later"' in member.html  # what was typed stays in the field
    await member.submit(f"{here}/baseline", {"through": month(1)}, status=400)
    assert "at least 2 points" in field_error(member.html, "freeze-through")
    html = await member.get(here)
    assert reading(html) == []
    assert "Excluded:" not in html and "Astronomical:" not in html


async def test_a_setting_from_a_page_someone_else_changed_is_stale(people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    await services.command(services.cqi.annotate_measure, uuid.UUID(measure_id), actor="test",
                           on=date(2025, 2, 3), text="New supervisor")
    await member.submit(f"{here}/exclusions", {"period": month(6), "reason": "Migration"},
                        status=409)
    assert "Someone else changed this measure since you opened the page" in member.html
    assert reading(member.html) == ["Annotation 3 Feb 2025: New supervisor"]


async def test_removing_a_setting_someone_else_already_removed_says_so(people, services):
    measure_id = await a_measure_with_data(services)
    await services.command(services.cqi.annotate_measure, uuid.UUID(measure_id), actor="test",
                           on=date(2025, 2, 3), text="New supervisor")
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    await services.command(services.cqi.remove_annotation, uuid.UUID(measure_id),
                           actor="test", on=date(2025, 2, 3))
    await member.submit(f"{here}/annotations/2025-02-03/remove", status=409)
    assert 'class="alert orphan"' in member.html
    assert "the form you sent no longer applies" in member.html
    assert reading(member.html) == []


async def test_an_htmx_setting_form_swaps_the_measure_fragment(people, services):
    measure_id = await a_measure_with_data(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    response = await member.submit(
        f"{here}/annotations", {"on": "2025-03-10", "text": "Two workers left"}, status=204,
        headers={"HX-Request": "true"})
    location = json.loads(response.headers["HX-Location"])
    assert location["target"] == "#measure" and "done=annotated" in location["path"]
    fragment = await member.get(location["path"], headers={"HX-Request": "true"})
    assert '<div id="measure">' in fragment[:300]
    assert "<html" not in fragment and reading(fragment) == [
        "Annotation 10 Mar 2025: Two workers left"]


async def test_a_viewer_reads_the_settings_but_sees_no_forms_and_may_not_post(
        people, services):
    measure_id = await a_measure_with_data(services)
    await services.command(services.cqi.exclude_point, uuid.UUID(measure_id), actor="test",
                           period=date(2025, 6, 1), reason="Migration week")
    viewer = await people.browser("vic", "viewer")
    here = f"/measures/{measure_id}"
    html = await viewer.get(here)
    assert reading(html) == ["June 2025 excluded: Migration week"]
    assert posting_forms(html) == [] and "Change how this chart is read" not in html
    assert "Revise the definition" not in html
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    for action, data in ((f"{here}/baseline", {"through": month(6)}),
                         (f"{here}/baseline/unfreeze", {}),
                         (f"{here}/phases", {"period": month(7), "label": "x"}),
                         (f"{here}/phases/{month(7)}/remove", {}),
                         (f"{here}/exclusions", {"period": month(3), "reason": "x"}),
                         (f"{here}/exclusions/{month(6)}/include", {"reason": "x"}),
                         (f"{here}/astronomical", {"period": month(3), "reason": "x"}),
                         (f"{here}/astronomical/{month(3)}/unflag", {}),
                         (f"{here}/annotations", {"on": "2025-03-10", "text": "x"}),
                         (f"{here}/annotations/2025-03-10/remove", {}),
                         (f"{here}/revise", {"name": "Mine"})):
        response = await viewer.client.post(action, data={"_csrf": token, **data})
        assert response.status_code == 403, action
    assert reading(await viewer.get(here)) == ["June 2025 excluded: Migration week"]


async def test_a_leader_revises_the_definition_from_the_filled_in_form(people, services):
    measure_id = await a_measure(services, unit="proportion", name="Families heard")
    await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                           actor="test", period=date(2025, 1, 1), numerator=12, denominator=20)
    leader = await people.browser("lee", "leader")
    here = f"/measures/{measure_id}"
    html = await leader.get(here)
    assert "Revise the definition" in html
    form = dict(form_posting_to(html, f"{here}/revise").fields)
    assert form["name"] == "Families heard" and form["unit"] == "proportion"
    assert form["frequency"] == "monthly" and form["direction"] == "down"
    assert form["data_source"] == "Placement records" and form["goal"] == ""
    assert form["value_ids"]  # the value it serves is ticked
    html = await leader.follow(await leader.submit(f"{here}/revise", {
        "name": "Families who felt heard", "goal": "80%", "direction": "up"}))
    assert "The definition is revised" in html
    assert "<h1>Families who felt heard</h1>" in html and "<dt>Goal</dt><dd>80%</dd>" in html
    assert "Up is better" in html
    assert dict(form_posting_to(html, f"{here}/revise").fields)["goal"] == "80%"

    await leader.submit(f"{here}/revise", {"name": "", "goal": "1.5"}, status=400)
    assert field_error(leader.html, "revise-name") == "Error: is required"
    assert "between 0 and 1" in field_error(leader.html, "revise-goal")
    assert '<details class="revise" open>' in leader.html

    await leader.get(here)
    await leader.submit(f"{here}/revise", {"frequency": "weekly"}, status=409)
    assert "its unit and frequency can no longer change" in leader.html
    html = await leader.get(here)
    assert "<dt>Frequency</dt><dd>Monthly</dd>" in html
    assert "<h1>Families who felt heard</h1>" in html


async def test_a_member_may_not_revise_and_a_stale_revision_is_refused(people, services):
    measure_id = await a_measure(services)
    other = (await agency_values(services, "Child safety"))[0]
    here = f"/measures/{measure_id}"
    member = await people.browser("maria", "member")
    html = await member.get(here)
    assert "Revise the definition" not in html
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    response = await member.client.post(f"{here}/revise", data={"_csrf": token, "name": "x"})
    assert response.status_code == 403

    leader = await people.browser("lee", "leader")
    await leader.get(here)
    await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                           actor="test", period=date(2025, 1, 1), value=3)
    await leader.submit(f"{here}/revise", {"name": "Moves of children",
                                           "value_ids": other}, status=409)
    assert "Someone else changed this measure since you opened the page" in leader.html
    assert "<h1>Placement moves</h1>" in await leader.get(here)
