"""An auditor compares two versions of an initiative on its history page."""

from __future__ import annotations

from tests.integration.pages_support import (
    PLAN,
    agency_values,
    an_initiative,
    field_error,
    people,
)

__all__ = ["people"]  # the fixture


async def test_an_auditor_sees_what_changed_between_two_versions(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    member = await people.browser("maria", "member")
    await member.get(here)
    await member.follow(await member.submit(f"{here}/cycles", {**PLAN, "value_id": family}))
    await member.follow(await member.submit(f"{here}/cycles/1/do", {
        "observations": "Twelve meetings were held"}))
    auditor = await people.browser("audrey", "auditor")
    history = await auditor.get(f"{here}/history")
    assert f'action="{here}/compare"' in history
    html = await auditor.get(f"{here}/compare?before=1&after=3")
    assert "What changed from version 1 to version 3" in html
    assert "Cycle 1 · Objective" in html and "Twelve meetings were held" in html
    assert '<tr class="changed">' in html  # the status: proposed → active
    assert "proposed" in html and "active" in html
    same = await auditor.get(f"{here}/compare?before=2&after=2")
    assert "Nothing differs between version 2 and version 2" in same


async def test_a_version_that_does_not_exist_is_refused_by_its_field(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    here = f"/initiatives/{initiative}"
    auditor = await people.browser("audrey", "auditor")
    html = await auditor.get(f"{here}/compare?before=0&after=9", status=400)
    assert field_error(html, "compare-before") == "Error: give a version from 1 to 1"
    assert field_error(html, "compare-after") == "Error: give a version from 1 to 1"
    html = await auditor.get(f"{here}/compare?before=x", status=400)
    assert field_error(html, "compare-before") == "Error: give a whole number from 1"


async def test_a_viewer_cannot_compare_versions(people, services):
    (family,) = await agency_values(services, "Family engagement")
    initiative = await an_initiative(services, family)
    viewer = await people.browser("val", "viewer")
    await viewer.get(f"/initiatives/{initiative}/compare?before=1&after=1", status=403)
