"""The alignment matrix and the portfolio dashboard, through the API and the pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

from tests.integration.conftest import assert_field_error
from tests.integration.measures_support import define_measure, import_csv
from tests.integration.pages_support import field_error, people

__all__ = ["people"]  # the fixture

SHIFT_AT_THE_END = [5, 6, 5, 6, 5, 6, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9]
SHIFT_IN_THE_MIDDLE = [5, 6, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9, 5, 6, 5, 6, 4, 7]


def monthly_csv(values: list[float]) -> str:
    lines = ["period,value"]
    for i, value in enumerate(values):
        lines.append(f"{date(2024 + i // 12, i % 12 + 1, 1).isoformat()},{value}")
    return "\n".join(lines) + "\n"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def row_of(body: dict, name: str) -> dict:
    return next(v for v in body["values"] if v["name"] == name)


async def alignment(agency) -> dict:
    return await agency.listing("/api/v1/alignment")


async def dashboard(agency, query: str = "") -> dict:
    return await agency.listing(f"/api/v1/dashboard{query}")


def noon(day: date, days_later: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=days_later), time(12), tzinfo=UTC)


# --- alignment -----------------------------------------------------------------------------


async def test_each_value_shows_its_standards_training_measures_and_cycles(agency, services):
    c, leader = agency.client, agency.leader
    safety = await agency.value("Child safety")
    engagement = await agency.value("Family engagement")
    agency.ok(await c.post(f"/api/v1/values/{safety}/standards", headers=leader,
                           json={"text": "The worker sees the child alone at every visit"}), 201)
    visits = await define_measure(agency, name="Children seen alone", value_ids=[safety])
    initiative = await agency.initiative(title="Safe visits", value_ids=[safety])
    await agency.plan(initiative, value_id=safety,
                      training_step="Coach workers on seeing the child alone")
    await agency.do(initiative, 1)
    await agency.study(initiative, 1)
    await agency.act(initiative, 1, "adopt")
    await agency.plan(initiative, value_id=safety, training_step="Refresher for new workers")

    body = await alignment(agency)

    assert [v["name"] for v in body["values"]] == ["Child safety", "Family engagement"]
    row = row_of(body, "Child safety")
    assert [s["text"] for s in row["standards"]] == [
        "The worker sees the child alone at every visit"]
    assert row["measures"] == [{"id": visits, "name": "Children seen alone"}]
    assert [t["training_step"] for t in row["training_steps"]] == [
        "Refresher for new workers", "Coach workers on seeing the child alone"]
    assert {(t["initiative_title"], t["cycle"]) for t in row["training_steps"]} == {
        ("Safe visits", 1), ("Safe visits", 2)}
    assert [(x["number"], x["phase"]) for x in row["active_cycles"]] == [(2, "plan")]
    [finished] = row["finished_cycles"]
    assert (finished["number"], finished["decision"], finished["result"]) == (
        1, "adopt", "8 of 12 felt heard")
    assert row["gaps"] == []
    assert row_of(body, "Family engagement")["gaps"] == [
        "Family engagement: no practice standard",
        "Family engagement: no measure",
        "Family engagement: no training step in the last 12 months",
        "Family engagement: no cycle has tested this value",
    ]
    assert body["gaps"] == row_of(body, "Family engagement")["gaps"]
    assert engagement != safety


async def test_a_retired_standard_no_longer_counts_for_its_value(agency, services):
    safety = await agency.value("Child safety")
    standard = agency.ok(await agency.client.post(
        f"/api/v1/values/{safety}/standards", headers=agency.leader,
        json={"text": "Visits are monthly"}), 201)
    assert "Child safety: no practice standard" not in (await alignment(agency))["gaps"]

    await services.command(services.cqi.retire_standard, actor=agency.ids["leader"],
                           value_id=safety, standard_id=standard["standards"][0]["id"])

    row = row_of(await alignment(agency), "Child safety")
    assert row["standards"] == []
    assert "Child safety: no practice standard" in row["gaps"]


async def test_a_training_step_counts_for_365_days_and_not_366(agency, clock):
    safety = await agency.value("Child safety")
    initiative = await agency.initiative(value_ids=[safety])
    await agency.plan(initiative, value_id=safety)
    planned_on = date.fromisoformat(
        row_of(await alignment(agency), "Child safety")["training_steps"][0]["on"])
    gap = "Child safety: no training step in the last 12 months"

    clock.set(noon(planned_on, 365))
    assert gap not in row_of(await alignment(agency), "Child safety")["gaps"]

    clock.set(noon(planned_on, 366))
    assert gap in row_of(await alignment(agency), "Child safety")["gaps"]


async def test_a_cycle_only_planned_has_not_yet_tested_its_value(agency):
    safety = await agency.value("Child safety")
    initiative = await agency.initiative(value_ids=[safety])
    await agency.plan(initiative, value_id=safety)
    gap = "Child safety: no cycle has tested this value"
    assert gap in row_of(await alignment(agency), "Child safety")["gaps"]

    await agency.do(initiative, 1)

    assert gap not in row_of(await alignment(agency), "Child safety")["gaps"]


async def test_the_alignment_page_shows_the_matrix_and_its_gaps_in_words(agency, people):
    safety = await agency.value("Child safety")
    await agency.value("Family engagement")
    agency.ok(await agency.client.post(
        f"/api/v1/values/{safety}/standards", headers=agency.leader,
        json={"text": "The worker sees the child alone at every visit"}), 201)
    viewer = await people.browser("vic", "viewer")

    html = await viewer.get("/alignment")

    assert '<a href="/alignment" aria-current="page">Alignment</a>' in html
    words = text_of(html)
    assert "Gaps 7" in words
    assert "Family engagement: no practice standard" in words
    assert "Family engagement: no measure" in words
    assert "Child safety: no measure" in words
    assert "The worker sees the child alone at every visit" in words
    assert "Child safety: no practice standard" not in words
    row = re.search(r'<tr id="v-' + safety + r'".*?</tr>', html, re.S).group(0)
    assert "Gap: no measure" in text_of(row)
    assert 'data-label="Gaps"' in row  # the phone layout labels each cell


async def test_the_pages_ask_a_visitor_to_sign_in(client):
    for path in ("/alignment", "/dashboard"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/sign-in?next={path}")
    for path in ("/api/v1/alignment", "/api/v1/dashboard"):
        assert (await client.get(path)).status_code == 401


# --- dashboard -----------------------------------------------------------------------------


async def test_initiatives_are_counted_by_status_and_active_ones_by_phase(agency):
    await agency.initiative(title="Still a proposal")
    planned = await agency.initiative(title="Planned")
    await agency.plan(planned)
    studied = await agency.initiative(title="Studied")
    await agency.plan(studied)
    await agency.do(studied, 1)
    await agency.study(studied, 1)
    closed = await agency.initiative(title="Closed")
    await agency.run_cycle(closed)
    agency.ok(await agency.client.post(
        f"/api/v1/initiatives/{closed}/conclude", headers=agency.member,
        json={"outcome": "closed", "note": "Done"}))

    counts = (await dashboard(agency))["initiatives"]

    assert counts["total"] == 4
    assert counts["by_status"] == {"proposed": 1, "active": 2, "sustained": 0, "closed": 1,
                                   "abandoned": 0}
    assert counts["active_by_phase"] == {"none": 0, "plan": 1, "do": 0, "study": 1, "act": 0}


async def test_an_open_cycle_idle_for_the_stale_days_is_listed_with_its_days_idle(
        agency, clock):
    idle = await agency.initiative(title="Gone quiet")
    await agency.plan(idle)
    decided = await agency.initiative(title="Decided")
    await agency.run_cycle(decided)
    abandoned = await agency.initiative(title="Abandoned")
    await agency.plan(abandoned)
    agency.ok(await agency.client.post(
        f"/api/v1/initiatives/{abandoned}/conclude", headers=agency.member,
        json={"outcome": "abandoned", "note": "No capacity"}))
    today = (await dashboard(agency))["today"]
    assert (await dashboard(agency))["stale_cycles"] == []

    clock.set(noon(date.fromisoformat(today), 29))
    assert (await dashboard(agency))["stale_cycles"] == []

    clock.set(noon(date.fromisoformat(today), 30))
    body = await dashboard(agency)
    assert body["stale_days"] == 30
    assert [(c["title"], c["number"], c["phase"], c["days_idle"], c["value_name"])
            for c in body["stale_cycles"]] == [("Gone quiet", 1, "plan", 30,
                                                "Family engagement")]
    assert (await dashboard(agency, "?stale_days=31"))["stale_cycles"] == []
    assert len((await dashboard(agency, "?stale_days=7"))["stale_cycles"]) == 1


async def test_a_measure_whose_latest_point_is_a_signal_is_listed_and_one_without_is_not(
        agency):
    shifted = await define_measure(agency, name="Visits on time", unit="count",
                                   definition={"denominator": ""}, goal=None)
    await import_csv(agency, shifted, monthly_csv(SHIFT_AT_THE_END))
    settled = await define_measure(agency, name="Placement moves", unit="count",
                                   definition={"denominator": ""}, goal=None)
    await import_csv(agency, settled, monthly_csv(SHIFT_IN_THE_MIDDLE))
    await define_measure(agency, name="No data yet", unit="count",
                         definition={"denominator": ""}, goal=None)

    [listed] = (await dashboard(agency))["measures_with_signals"]

    assert (listed["measure_id"], listed["name"]) == (shifted, "Visits on time")
    assert listed["last_period"] == "2025-04-01" and listed["last_value"] == 9
    assert listed["signals"] == [
        "unusually long run: 8 points above the median from September 2024 to April 2025 "
        "(more than 7 is unusual for 16 useful points)"]


async def test_overdue_revisits_are_on_the_dashboard(agency, clock):
    await agency.revisit(subject="mission", due_on="2026-03-01")
    await agency.revisit(subject="vision", due_on="2026-09-01")
    clock.set(noon(date(2026, 4, 1)))

    overdue = (await dashboard(agency))["overdue_revisits"]

    assert [(r["subject"], r["days_overdue"]) for r in overdue] == [("mission", 31)]


async def test_a_bad_stale_days_is_refused_with_the_field_named(agency):
    for bad in ("0", "-3", "abc", "2.5", "3651", "²", "٣"):  # digits, but not 0-9
        response = await agency.client.get(f"/api/v1/dashboard?stale_days={bad}",
                                           headers=agency.viewer)
        assert_field_error(response, "stale_days")
    assert (await dashboard(agency, "?stale_days=3650"))["stale_days"] == 3650


async def test_the_dashboard_page_shows_every_section_and_refuses_a_bad_stale_days(
        agency, people, clock):
    initiative = await agency.initiative(title="Gone quiet")
    await agency.plan(initiative)
    shifted = await define_measure(agency, name="Visits on time", unit="count",
                                   definition={"denominator": ""}, goal=None)
    await import_csv(agency, shifted, monthly_csv(SHIFT_AT_THE_END))
    today = date.fromisoformat((await dashboard(agency))["today"])
    await agency.revisit(subject="mission", due_on=(today + timedelta(days=5)).isoformat())
    clock.set(noon(today, 40))
    viewer = await people.browser("vic", "viewer")

    html = await viewer.get("/dashboard")

    assert '<a href="/dashboard" aria-current="page">Dashboard</a>' in html
    nav = html[html.index('<nav aria-label="Main">'):html.index("</nav>")]
    assert nav.index('href="/dashboard"') < nav.index('href="/board"')  # first in the nav
    words = text_of(html)
    assert "Gone quiet, cycle 1" in words and "40 days idle" in words
    assert f'href="/initiatives/{initiative}#cycle-1"' in html
    assert "Visits on time" in words and "unusually long run: 8 points above" in words
    assert f'href="/measures/{shifted}"' in html
    assert "Mission was due" in words and "35 days overdue" in words
    assert 'href="/initiatives?status=active"' in html and 'href="/board#col-plan"' in html

    await viewer.get("/dashboard?stale_days=41")
    assert "None: every open cycle has moved within the last 41 days." in text_of(viewer.html)

    html = await viewer.get("/dashboard?stale_days=soon", status=400)
    assert field_error(html, "stale-stale-days") == (
        "Error: must be a whole number of days from 1 to 3650")
    assert 'value="soon"' in html  # what was typed stays in the field
    assert "Gone quiet, cycle 1" in text_of(html)  # the rest of the page still shows


async def test_the_portfolio_routes_are_in_the_openapi_document(client):
    document = (await client.get("/schema/openapi.json")).json()
    board = document["paths"]["/api/v1/dashboard"]["get"]
    assert {"200", "400", "401", "403"} <= set(board["responses"])
    assert [p["name"] for p in board["parameters"]] == ["stale_days", "items", "charts"]
    alignment = document["paths"]["/api/v1/alignment"]["get"]
    assert {"200", "400", "401", "403"} <= set(alignment["responses"])
    assert [p["name"] for p in alignment["parameters"]] == ["items"]


async def test_a_signal_is_read_from_the_chart_as_the_measure_page_draws_it(agency):
    shifted = await define_measure(agency, name="Visits on time", unit="count",
                                   definition={"denominator": ""}, goal=None)
    await import_csv(agency, shifted, monthly_csv(SHIFT_AT_THE_END))
    assert [m["name"] for m in (await dashboard(agency))["measures_with_signals"]] == [
        "Visits on time"]

    agency.ok(await agency.client.post(
        f"/api/v1/measures/{shifted}/phases", headers=agency.member,
        json={"period": "2024-09-01", "label": "New visit schedule adopted"}), 201)

    # the shift is the new phase's level: its own median, and no signal within it
    assert (await dashboard(agency))["measures_with_signals"] == []
