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
    page.get_by_role("link", name="Mission & values").click()
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
    write(page, "Measure", "% of parents who say they were heard (exit survey)")
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
    page.get_by_role("link", name="Board").click()
    plan_ready = page.get_by_role("heading", name=re.compile("Plan ready"))
    column = page.locator("section.column").filter(has=plan_ready)
    card = column.locator("article.card").filter(has_text="Families at the table")
    card.wait_for()
    assert "Cycle 2" in card.inner_text()
    assert "Family engagement" in card.inner_text()
    shot(page, "journey-board")
