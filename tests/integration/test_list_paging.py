"""Long lists over HTTP: the initiatives a page at a time (filters kept in the links, bad page
numbers refused in words) and the alignment matrix's bounded cells ("and N more")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

import pytest

from service import pages_initiatives, pages_measures, pages_portfolio
from tests.integration.measures_support import define_measure, import_csv
from tests.integration.pages_support import PLAN, agency_values, an_initiative, people

__all__ = ["people"]  # the fixture


def text_of(html: str) -> str:
    """The page's words; the en dash of "1\u20132 of 5" read as a hyphen."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u2013", "-").split())


def monthly_csv(values: list[float], year: int) -> str:
    return "period,value\n" + "".join(
        f"{date(year + i // 12, i % 12 + 1, 1).isoformat()},{v}\n" for i, v in enumerate(values))


SHIFT_AT_THE_END = [5, 6, 5, 6, 5, 6, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9]


def titles(html: str) -> list[str]:
    return re.findall(r'<a href="/initiatives/[0-9a-f-]{36}"><strong>(.*?)</strong>', html)


@pytest.fixture
def two_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_initiatives, "PAGE_SIZE", 2)


async def test_initiatives_are_listed_a_page_at_a_time_with_filters_kept(
        people, services, two_per_page):
    family, safety = await agency_values(services, "Family engagement", "Child safety")
    for n in range(1, 6):
        await an_initiative(services, family if n <= 3 else safety, f"Initiative {n}")
    viewer = await people.browser("val", "viewer")

    first = await viewer.get("/initiatives")
    assert titles(first) == ["Initiative 5", "Initiative 4"]  # most recently active first
    assert "1-2 of 5 initiatives · page 1 of 3" in text_of(first)
    assert 'rel="next" href="/initiatives?page=2"' in first and 'rel="prev"' not in first

    middle = await viewer.get("/initiatives?page=2")
    assert titles(middle) == ["Initiative 3", "Initiative 2"]
    assert "3-4 of 5 initiatives" in text_of(middle)
    assert 'rel="prev" href="/initiatives"' in middle
    assert 'rel="next" href="/initiatives?page=3"' in middle

    last = await viewer.get("/initiatives?page=3")
    assert titles(last) == ["Initiative 1"]
    assert "5-5 of 5 initiatives" in text_of(last) and 'rel="next"' not in last

    serving = await viewer.get(f"/initiatives?value={family}")
    assert titles(serving) == ["Initiative 3", "Initiative 2"]
    assert "1-2 of 3 initiatives" in text_of(serving)
    assert f'rel="next" href="/initiatives?value={family}&amp;page=2"' in serving
    rest = await viewer.get(f"/initiatives?value={family}&page=2")
    assert titles(rest) == ["Initiative 1"]

    both = await viewer.get(f"/initiatives?status=proposed&value={safety}")
    assert titles(both) == ["Initiative 5", "Initiative 4"]
    assert "page 1" not in text_of(both)  # one page: no page links


async def test_a_bad_page_number_is_refused_in_words_and_a_page_past_the_end_shows_the_last(
        people, services, two_per_page):
    [family] = await agency_values(services, "Family engagement")
    for n in range(1, 4):
        await an_initiative(services, family, f"Initiative {n}")
    viewer = await people.browser("val", "viewer")

    for bad in ("abc", "0", "-1", "1.5", "99999999999999999999"):
        html = await viewer.get(f"/initiatives?page={bad}", status=400)
        assert "must be a whole page number, 1 or more; the first page is shown" in html
        assert titles(html) == ["Initiative 3", "Initiative 2"]

    past = await viewer.get("/initiatives?page=40")
    assert titles(past) == ["Initiative 1"] and "3-3 of 3" in text_of(past)
    unknown = await viewer.get("/initiatives?status=nonsense&value=nothing")
    assert len(titles(unknown)) == 2  # unknown filters are ignored: all of them


async def test_an_alignment_cell_shows_its_latest_items_and_how_many_more(
        people, services, monkeypatch):
    monkeypatch.setattr(pages_portfolio, "PAGE_ITEMS", 2)
    family, _ = await agency_values(services, "Family engagement", "Child safety")
    for n in range(1, 5):
        initiative = await an_initiative(services, family, f"Initiative {n}")
        await services.command(services.cqi.plan_cycle, initiative, actor="test",
                               plan={**PLAN, "value_id": family})
    viewer = await people.browser("val", "viewer")

    html = text_of(await viewer.get("/alignment"))
    assert "Each cell lists at most 2" in html
    assert "and 2 more training steps" in html and "and 2 more active cycles" in html
    assert html.count("Coach the east unit") == 2
    assert f'href="/initiatives?value={family}"' in await viewer.get("/alignment")
    # the gap rules hold for what is not shown: the family value has training (4 steps),
    # no measure; the safety value has nothing
    assert "Family engagement: no training step" not in html
    assert "Family engagement: no measure" in html
    assert "Child safety: no training step in the last 12 months" in html


async def test_the_alignment_api_bounds_each_list_and_counts_it(agency, services):
    family, = await agency_values(services, "Family engagement")
    for n in range(1, 4):
        initiative = await an_initiative(services, family, f"Initiative {n}")
        await services.command(services.cqi.plan_cycle, initiative, actor="test",
                               plan={**PLAN, "value_id": family})
    body = await agency.listing("/api/v1/alignment?items=1")
    [value] = body["values"]
    assert len(value["training_steps"]) == 1 and len(value["active_cycles"]) == 1
    assert value["counts"] == {"standards": 0, "training_steps": 3, "measures": 0,
                               "active_cycles": 3, "finished_cycles": 0}
    whole = (await agency.listing("/api/v1/alignment"))["values"][0]
    assert len(whole["training_steps"]) == 3
    refused = await agency.client.get("/api/v1/alignment?items=0", headers=agency.viewer)
    assert refused.status_code == 400


async def test_the_dashboard_lists_the_longest_idle_cycles_and_counts_the_rest(agency, clock):
    for n in range(1, 4):
        await agency.plan(await agency.initiative(title=f"Quiet {n}"))
    today = date.fromisoformat((await agency.listing("/api/v1/dashboard"))["today"])
    clock.set(datetime.combine(today + timedelta(days=40), time(12), tzinfo=UTC))

    body = await agency.listing("/api/v1/dashboard?items=2")
    assert len(body["stale_cycles"]) == 2 and body["stale_cycles_total"] == 3
    whole = await agency.listing("/api/v1/dashboard")
    assert len(whole["stale_cycles"]) == 3 and whole["stale_cycles_total"] == 3


async def test_the_dashboard_checks_the_charts_of_the_measures_with_the_latest_data_and_says_so(
        agency, people, monkeypatch):
    older = await define_measure(agency, name="Older data", unit="count",
                                 definition={"denominator": ""}, goal=None)
    await import_csv(agency, older, monthly_csv(SHIFT_AT_THE_END, 2023))
    newer = await define_measure(agency, name="Newer data", unit="count",
                                 definition={"denominator": ""}, goal=None)
    await import_csv(agency, newer, monthly_csv(SHIFT_AT_THE_END, 2024))

    body = await agency.listing("/api/v1/dashboard?charts=1")
    assert [m["name"] for m in body["measures_with_signals"]] == ["Newer data"]
    assert (body["measures_checked"], body["measures_with_data"]) == (1, 2)
    both = await agency.listing("/api/v1/dashboard")
    assert {m["name"] for m in both["measures_with_signals"]} == {"Newer data", "Older data"}

    monkeypatch.setattr(pages_portfolio, "SIGNAL_CHARTS", 1)
    viewer = await people.browser("val", "viewer")
    html = text_of(await viewer.get("/dashboard"))
    assert ("Checked here: the 1 measures with the latest data, of 2 with data; the other 1 "
            "are not checked here") in html
    assert "Newer data" in html and "Older data" not in html


async def test_measures_are_listed_a_page_at_a_time_and_by_the_value_they_serve(
        agency, people, services, monkeypatch):
    monkeypatch.setattr(pages_measures, "PAGE_SIZE", 2)
    family, safety = await agency_values(services, "Family engagement", "Child safety")
    for name, value in (("A one", family), ("B two", safety), ("C three", family)):
        await define_measure(agency, name=name, value_ids=[value])
    viewer = await people.browser("val", "viewer")

    first = text_of(await viewer.get("/measures"))
    assert "1-2 of 3 measures" in first and "A one" in first and "C three" not in first
    last = await viewer.get("/measures?page=2")
    assert "C three" in last and 'rel="prev" href="/measures"' in last
    serving = text_of(await viewer.get(f"/measures?value={family}"))
    assert "Measures serving Family engagement 2" in serving
    assert "A one" in serving and "C three" in serving and "B two" not in serving
    for page in ("x", "\u00b2", "9" * 5000):
        bad = await viewer.get(f"/measures?page={page}", status=400)
        assert "must be a whole page number, 1 or more; the first page is shown" in bad


async def test_the_measures_api_gives_a_page_with_the_total_and_the_next_link(agency):
    for name in ("A one", "B two", "C three"):
        await define_measure(agency, name=name)
    first = await agency.client.get("/api/v1/measures?limit=2", headers=agency.viewer)
    assert [x["name"] for x in first.json()] == ["A one", "B two"]
    assert first.headers["x-total-count"] == "3"
    assert first.headers["link"] == '</api/v1/measures?limit=2&offset=2>; rel="next"'
    rest = await agency.client.get("/api/v1/measures?limit=2&offset=2", headers=agency.viewer)
    assert [x["name"] for x in rest.json()] == ["C three"] and "link" not in rest.headers
    assert len(await agency.listing("/api/v1/measures")) == 3  # without limit: every one
    for bad in ("limit=0", "limit=x", "limit=2&offset=-1", "limit=2&offset=99999999999999999999"):
        refused = await agency.client.get(f"/api/v1/measures?{bad}", headers=agency.viewer)
        assert refused.status_code == 400, bad


async def test_the_initiatives_api_gives_a_page_with_the_total_and_the_next_link(
        agency, services):
    [family] = await agency_values(services, "Family engagement")
    for n in range(1, 4):
        await an_initiative(services, family, f"Initiative {n}")
    first = await agency.client.get("/api/v1/initiatives?limit=2", headers=agency.viewer)
    assert [x["title"] for x in first.json()] == ["Initiative 3", "Initiative 2"]
    assert first.headers["x-total-count"] == "3"
    assert first.headers["link"] == '</api/v1/initiatives?limit=2&offset=2>; rel="next"'
    rest = await agency.client.get("/api/v1/initiatives?limit=2&offset=2",
                                   headers=agency.viewer)
    assert [x["title"] for x in rest.json()] == ["Initiative 1"] and "link" not in rest.headers
    proposed = await agency.client.get("/api/v1/initiatives?status=proposed&limit=1",
                                       headers=agency.viewer)
    assert proposed.headers["link"] == (
        '</api/v1/initiatives?status=proposed&limit=1&offset=1>; rel="next"')
    assert len(await agency.listing("/api/v1/initiatives")) == 3  # without limit: every one
    for bad in ("limit=0", "limit=1001", "limit=x", "limit=2&offset=-1",
                "limit=2&offset=99999999999999999999", "limit=2&offset=1000000001"):
        refused = await agency.client.get(f"/api/v1/initiatives?{bad}", headers=agency.viewer)
        assert refused.status_code == 400, bad
