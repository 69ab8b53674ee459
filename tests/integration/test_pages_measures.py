"""The measures pages: everyone reads measures, their charts and data; leaders define measures;
CQI team members record, correct, import and export data points."""

from __future__ import annotations

import re
import uuid
from datetime import date
from html.parser import HTMLParser

from tests.integration.pages_support import (
    agency_values,
    field_error,
    form_posting_to,
    people,
    posting_forms,
)

__all__ = ["people"]  # the fixture

DEFINITION = {
    "name": "Families who felt heard", "type": "outcome", "unit": "proportion",
    "frequency": "monthly", "numerator": "Families answering 'I was heard'",
    "denominator": "Families who answered the exit survey",
    "data_source": "Exit survey", "owner": "CQI analyst", "direction": "up", "goal": "0.8",
}


async def a_measure(services, unit="count", name="Placement moves") -> str:
    value_id = (await agency_values(services, "Family engagement"))[0]
    receipt = await services.command(
        services.cqi.define_measure, actor="test", name=name, type="balancing",
        definition={"numerator": "Moves of children in care", "denominator":
                    "Children in care" if unit in ("proportion", "rate") else "",
                    "data_source": "Placement records", "owner": "Placement unit",
                    "frequency": "monthly"},
        unit=unit, direction="down", goal=None, value_ids=[value_id])
    return str(receipt.id)


class SvgFinder(HTMLParser):
    """The inline charts: each `<svg role="img">` and the text of its own (first) `<title>`."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self._in_svg = False
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "svg" and dict(attrs).get("role") == "img":
            self._in_svg = True
            self.charts.append("")
        elif tag == "title" and self._in_svg and not self.charts[-1]:
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "svg":
            self._in_svg = False
            self._in_title = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.charts[-1] += data


def chart_titles(html: str) -> list[str]:
    finder = SvgFinder()
    finder.feed(html)
    return finder.charts


async def test_a_leader_defines_a_measure_and_a_bad_one_is_sent_back(people, services):
    value_id = (await agency_values(services, "Family engagement"))[0]
    leader = await people.browser("lee", "leader")
    html = await leader.get("/measures")
    assert "No measures yet" in html and '<a href="/measures" aria-current="page">' in html
    await leader.submit("/measures", {**DEFINITION, "name": " ", "goal": "1.5",
                                      "denominator": ""}, status=400)
    assert field_error(leader.html, "define-name") == "Error: is required"
    assert field_error(leader.html, "define-denominator") == "Error: is required"
    assert "between 0 and 1" in field_error(leader.html, "define-goal")
    assert "Values served" in leader.html and 'value="1.5"' in leader.html
    assert "No measures yet" in await leader.get("/measures")
    response = await leader.submit("/measures", {**DEFINITION, "goal": "80%",
                                                 "value_ids": value_id})
    html = await leader.follow(response)
    assert "<h1>Families who felt heard</h1>" in html
    assert "The measure is defined" in html and "Family engagement" in html
    assert "<dt>Goal</dt><dd>80%</dd>" in html
    html = await leader.get("/measures")
    assert "Families who felt heard" in html and "Proportion" in html and "Monthly" in html


async def test_a_member_records_and_corrects_points_and_sees_the_chart(people, services):
    measure_id = await a_measure(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    html = await member.get(here)
    assert "No chart yet" in html and chart_titles(html) == []
    for month, moves in ((1, 4), (2, 6), (3, 5)):
        await member.submit(f"{here}/data", {"period": f"2025-0{month}-01", "value": moves,
                                              "note": "from the weekly list" if month == 1
                                              else ""})
        await member.get(here)
    html = member.html
    rows = re.findall(r'<tr id="p-(\d{4}-\d\d-\d\d)">', html)
    assert rows == ["2025-01-01", "2025-02-01", "2025-03-01"]
    assert "from the weekly list" in html
    assert chart_titles(html) == ["Placement moves: Run chart"]
    assert "The numbers as a table" in html
    await member.submit(f"{here}/data", {"period": "2025-02-15", "value": "x"}, status=400)
    assert "first day of the month" in field_error(member.html, "record-period")
    assert field_error(member.html, "record-value") == "Error: must be a number"
    await member.get(here)
    html = await member.follow(await member.submit(f"{here}/correct", {
        "period": "2025-02-01", "value": "7", "reason": "One move was counted twice"}))
    assert "The data point is corrected" in html
    row = re.search(r'<tr id="p-2025-02-01">(.*?)</tr>', html, re.S).group(1)
    assert ">7<" in row and "Yes" in row
    response = await member.client.get(f"{here}/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    assert response.text.splitlines()[0].startswith("period,value")
    assert "2025-02-01,7" in response.text


async def test_a_csv_preview_lists_bad_rows_and_stores_nothing(people, services):
    measure_id = await a_measure(services, unit="proportion", name="Families heard")
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    fields = [f for f in form_posting_to(member.html, f"{here}/import").fields
              if f[0] != "file"]
    bad = ("period,numerator,denominator,note\n2025-01-01,12,20,\n2025-02-15,5,10,\n"
           "2025-03-01,11,9,\n")
    response = await member.client.post(f"{here}/import", data=dict(fields),
                                        files={"file": ("data.csv", bad, "text/csv")})
    assert response.status_code == 400
    html = response.text
    assert "Nothing was imported" in html
    problems = re.findall(r"<li>Line (\d+)", html)
    assert problems == ["3", "4"]
    assert "Import these" not in html
    assert "No data points yet" in (await member.get(here))


async def test_a_valid_import_is_previewed_then_stores_every_row(people, services):
    measure_id = await a_measure(services, unit="proportion", name="Families heard")
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    fields = [f for f in form_posting_to(member.html, f"{here}/import").fields
              if f[0] != "file"]
    good = ("period,numerator,denominator,note\n2025-01-01,12,20,\n2025-02-01,15,21,\n"
            "2025-03-01,9,18,\"Snow, office closed\"\n")
    response = await member.client.post(f"{here}/import", data=dict(fields),
                                        files={"file": ("data.csv", good, "text/csv")})
    assert response.status_code == 200, response.text[:2000]
    member.html = response.text
    assert "Import these 3 points" in member.html and "Line 4" not in member.html
    assert "No data points yet" in member.html  # only a preview
    html = await member.follow(await member.submit(f"{here}/import"))
    assert "3 data points are imported" in html
    assert re.findall(r'<tr id="p-(\d{4}-\d\d-\d\d)">', html) == [
        "2025-01-01", "2025-02-01", "2025-03-01"]
    assert "Snow, office closed" in html and "12 / 20" in html


async def test_a_form_from_before_someone_elses_entry_is_stale(people, services):
    measure_id = await a_measure(services)
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    await member.get(here)
    fields = [f for f in form_posting_to(member.html, f"{here}/import").fields
              if f[0] != "file"]
    response = await member.client.post(f"{here}/import", data=dict(fields), files={
        "file": ("data.csv", "period,value\n2025-01-01,4\n", "text/csv")})
    member.html = response.text
    await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                           actor="test", period=date(2025, 2, 1), value=6)
    await member.submit(f"{here}/import", status=409)
    assert "Someone else changed this measure since you opened the page" in member.html
    html = await member.get(here)
    assert re.findall(r'<tr id="p-(\d{4}-\d\d-\d\d)">', html) == ["2025-02-01"]


async def test_a_viewer_reads_the_page_with_no_forms_and_may_not_post(people, services):
    measure_id = await a_measure(services)
    await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                           actor="test", period=date(2025, 1, 1), value=3)
    viewer = await people.browser("vic", "viewer")
    html = await viewer.get(f"/measures/{measure_id}")
    assert "Placement moves" in html and chart_titles(html)
    assert posting_forms(html) == []
    assert posting_forms(await viewer.get("/measures")) == []
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    for action, data in ((f"/measures/{measure_id}/data", {"period": "2025-02-01",
                                                           "value": "2"}),
                         ("/measures", {"name": "Mine"}),
                         (f"/measures/{measure_id}/import", {"content": "eA=="})):
        response = await viewer.client.post(action, data={"_csrf": token, **data})
        assert response.status_code == 403, action
    assert (await viewer.client.get(f"/measures/{measure_id}/export.csv")).status_code == 200


async def test_the_chart_kind_selector_refuses_a_kind_that_does_not_fit(people, services):
    measure_id = await a_measure(services)  # a count
    member = await people.browser("maria", "member")
    here = f"/measures/{measure_id}"
    html = await member.get(here)
    kinds = re.findall(r'<option value="(\w+)"', re.search(
        r'<select id="chart-kind".*?</select>', html, re.S).group(0))
    assert kinds == ["run", "i", "mr", "c"]
    for month, moves in ((1, 4), (2, 6), (3, 5), (4, 9)):
        await services.command(services.cqi.record_data_point, uuid.UUID(measure_id),
                               actor="test", period=date(2025, month, 1), value=moves)
    html = await member.get(f"{here}?kind=c&rules=ihi")
    assert chart_titles(html)[0].startswith("Placement moves: C chart")
    html = await member.get(f"{here}?kind=p", status=400)
    assert "That chart cannot be shown" in html and "a p chart needs a proportion" in html
    assert chart_titles(html) == ["Placement moves: Run chart"]
    html = await member.get(f"{here}?kind=nonsense&rules=odd", status=400)
    assert "must be one of" in html and chart_titles(html) == ["Placement moves: Run chart"]
