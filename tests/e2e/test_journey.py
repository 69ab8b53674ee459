"""The main journey in a real browser: a leader writes the values; a CQI team member opens an
initiative and takes a cycle through Plan, Do, Study and Act; the board shows where it stands."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.e2e


def sign_in(page, base_url: str, login: str) -> None:
    page.goto(f"{base_url}/board")
    assert "/sign-in" in page.url  # not signed in: sent to sign in first
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/board")


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in$"))


def write(page, field: str, text: str) -> None:
    """Type into the text field whose accessible name is `field`."""
    page.get_by_role("textbox", name=field, exact=True).fill(text)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_cycle_goes_from_plan_to_act_and_the_board_follows(page, live_server, people):
    base = live_server

    # The leader writes the mission and a value.
    sign_in(page, base, people["leader"])
    page.get_by_role("link", name="Values", exact=True).click()
    page.get_by_label("Mission", exact=True).fill(
        "We keep children safe by working alongside their families.")
    page.get_by_label("Vision", exact=True).fill("Every child safe, every family heard.")
    page.get_by_role("button", name=re.compile(r"Save as revision 1")).click()
    page.get_by_text("Every child safe, every family heard.").first.wait_for()
    page.get_by_label("Name", exact=True).fill("Family engagement")
    page.get_by_label("Description").fill("Families are partners in every decision.")
    page.get_by_role("button", name="Add the value").click()
    page.get_by_role("heading", name="Family engagement").wait_for()
    shot(page, "journey-mission")
    sign_out(page)

    # A member opens an initiative; a missing title is refused next to the field.
    sign_in(page, base, people["member"])
    page.get_by_role("link", name="Open an initiative").click()
    page.get_by_label("Problem statement").fill(
        "Parents tell the consumer council that they do not feel valued or included.")
    page.get_by_label("Aim").fill("80% of parents say they were heard, by June 2027.")
    page.get_by_label("Family engagement").check()
    page.get_by_role("button", name="Open the initiative").click()
    page.locator(".field-error").filter(has_text="required").first.wait_for()
    title = page.get_by_label("Title")
    assert title.get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Aim").input_value().startswith("80% of parents")  # input kept
    shot(page, "journey-refused")
    title.fill("Families at the table")
    page.get_by_role("button", name="Open the initiative").click()
    page.get_by_role("heading", name="Families at the table").wait_for()

    # Plan.
    write(page, "Objective", "Try family team meetings within 10 days of removal.")
    write(page, "Prediction", "Most parents will say they were heard.")
    write(page, "Measure, in words", "% of parents who say they were heard (exit survey)")
    write(page, "Change idea (intervention)", "Family team meeting in 10 days")
    write(page, "Training step", "Coach two supervisors in meeting facilitation")
    page.get_by_role("button", name="Plan cycle 1").click()

    # Do, then Study: the page offers only the next legal step.
    write(page, "What happened", "Nine meetings were held; two parents could not come.")
    page.get_by_role("button", name="Record Do").click()
    write(page, "Result against the prediction", "7 of 9 parents said they were heard.")
    write(page, "What was learned", "Evening times matter for working parents.")
    page.get_by_role("button", name="Record Study").click()

    # Act: adapt, which opens cycle 2 pre-filled.
    page.get_by_label("Adapt").check()
    write(page, "Rationale", "Keep the meetings, move them to evenings.")
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_role("heading", name=re.compile(r"cycle 2 \(Do\)")).wait_for()
    assert page.get_by_text("started with the plan of cycle 1").is_visible()
    shot(page, "journey-initiative")

    # The board shows cycle 2, planned, under its value.
    page.get_by_role("link", name="Board", exact=True).click()
    plan_ready = page.get_by_role("heading", name=re.compile("Plan ready"))
    column = page.locator("section.column").filter(has=plan_ready)
    card = column.locator("article.card").filter(has_text="Families at the table")
    card.wait_for()
    assert "Cycle 2" in card.inner_text()
    assert "Family engagement" in card.inner_text()
    shot(page, "journey-board")


def add_value(page, base: str, name: str) -> None:
    page.goto(f"{base}/mission")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Families are partners in every decision.")
    page.get_by_role("button", name="Add the value").click()
    page.get_by_role("heading", name=name).wait_for()


# Ten months at about 4 days, then ten at about 9: a long run above the median from month 11.
DAYS = [4, 5, 4, 3, 5, 4, 4, 5, 3, 4, 9, 8, 9, 10, 9, 8, 9, 9, 10, 8]
MONTHS = [f"{2024 + (k // 12)}-{k % 12 + 1:02d}-01" for k in range(len(DAYS))]


def upload(page, name: str, text: str) -> None:
    page.get_by_label("CSV file", exact=True).set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": text.encode()})
    page.get_by_role("button", name="Preview the import").click()


def test_a_measure_is_defined_its_data_imported_and_its_chart_explains_a_signal(
        page, live_server, people):
    base = live_server

    # The leader defines a measure that serves a value.
    sign_in(page, base, people["leader"])
    add_value(page, base, "Family engagement")
    page.get_by_role("link", name="Measures").click()
    page.get_by_label("Name", exact=True).fill("Days from removal to the first family meeting")
    page.get_by_label("Process").check()
    page.get_by_label("Unit").select_option("continuous")
    page.get_by_label("Collection frequency").select_option("monthly")
    page.get_by_label("Numerator").fill("Average days from removal to the first meeting")
    page.get_by_label("Data source").fill("Case management system")
    page.get_by_label("Owner").fill("Unit 3 supervisor")
    page.get_by_label("Down is better").check()
    page.get_by_label("Family engagement").check()
    page.get_by_role("button", name="Define the measure").click()
    page.wait_for_url(re.compile(r"/measures/[0-9a-f-]{36}\?done=defined"))
    page.get_by_role("heading", name="Import a CSV file").wait_for()
    measure_url = page.url.split("?")[0].split("#")[0]
    sign_out(page)

    # A member previews a CSV with a bad row: the line and the reason, nothing imported.
    sign_in(page, base, people["member"])
    page.goto(measure_url)
    bad = "period,value\n2024-01-01,4\n2024-02-15,5\n2024-03-01,many\n"
    upload(page, "days.csv", bad)
    problems = page.locator(".import-problems")
    problems.wait_for()
    assert "Line 3" in problems.inner_text() and "Line 4" in problems.inner_text()
    page.get_by_text("Nothing was imported.").wait_for()
    assert page.get_by_role("button", name=re.compile(r"^Import")).count() == 0

    # The good file: a preview, then the import; the chart and its signal in words.
    good = "period,value\n" + "".join(f"{m},{d}\n" for m, d in zip(MONTHS, DAYS, strict=True))
    upload(page, "days.csv", good)
    page.get_by_role("button", name="Import these 20 points").click()
    chart = page.locator("svg[role=img]").first
    chart.wait_for()
    assert "Run chart" in (page.locator("svg[role=img] > title").first.text_content() or "")
    signal = page.locator("li").filter(has_text=re.compile(
        r"unusually long run: 10 points above the median from November 2024", re.I))
    signal.first.wait_for()
    shot(page, "journey-measure-chart")

    # The same data as an I chart: limits, and the numbers as a table.
    page.get_by_label("Kind").select_option("i")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url(re.compile(r"kind=i"))
    assert "I chart" in (page.locator("svg[role=img] > title").first.text_content() or "")
    page.get_by_text("The numbers as a table").click()
    table = page.get_by_role("table").filter(has_text="Upper limit").first
    table.wait_for()
    assert "August 2025\t8\t6.5\t3.693\t9.307" in table.inner_text()
    shot(page, "journey-measure-i-chart")
