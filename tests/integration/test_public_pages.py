"""Published views: a leader chooses on /publishing what the public pages show; anyone reads
them at /public without signing in, with the same charts, and never anyone's name."""

from __future__ import annotations

import re
import uuid
from datetime import date

import httpx
import pytest

from service.app import create_app
from tests.integration.pages_support import agency_values, an_initiative, people

__all__ = ["people"]  # the fixture

NOTHING = "This agency has not published anything."
NOT_PUBLISHED = "This page is not published."


@pytest.fixture
async def anonymous(services):
    """A browser nobody signed in to."""
    app = create_app(services.settings, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver.local") as client:
        yield client


async def a_measure_with_data(services, value_id: str, name: str = "Placement moves") -> str:
    receipt = await services.command(
        services.cqi.define_measure, actor="test", name=name, type="balancing",
        definition={"numerator": "Moves of children in care", "denominator": "",
                    "data_source": "Placement records", "owner": "Dana Whitfield",
                    "frequency": "monthly"},
        unit="count", direction="down", goal=None, value_ids=[value_id])
    for month, value in enumerate([4, 6, 5, 7, 3, 5, 6, 4, 5, 6, 2, 3], start=1):
        await services.command(services.cqi.record_data_point, receipt.id, actor="test",
                               period=date(2025, month, 1), value=value,
                               note="Counted by Dana Whitfield")
    return str(receipt.id)


async def an_initiative_with_a_cycle(services, value_id: str) -> str:
    initiative_id = await an_initiative(services, value_id)
    await services.command(services.cqi.plan_cycle, initiative_id, actor="test", plan={
        "value_id": value_id, "objective": "Learn whether a call ahead brings parents",
        "prediction": "Six in ten parents will come", "measure": "Parents at meetings",
        "intervention": "Call two days ahead", "training_step": "Coach the call script",
        "logistics": "Maria Santos calls the Okafor family on Mondays"})
    await services.command(services.cqi.record_do, initiative_id, 1, actor="test",
                           observations="Maria Santos reached 9 of 12 parents")
    await services.command(services.cqi.record_study, initiative_id, 1, actor="test",
                           result="7 of 12 came", learning="Evening meetings suit parents")
    await services.command(services.cqi.decide_act, initiative_id, 1, actor="test",
                           decision="adopt", rationale="Maria Santos agreed to keep calling")
    return str(initiative_id)


def chart_of(html: str) -> str:
    match = re.search(r'<div class="chart">(.*?)</div>', html, re.S)
    assert match, "no chart on the page"
    return match.group(1)


async def publish_through_the_page(leader, measure_id: str | None = None,
                                   initiative_id: str | None = None, open_pages: bool = True):
    await leader.get("/publishing")
    if open_pages:
        await leader.submit("/publishing/open", {"note": "The board agreed"})
        await leader.get("/publishing")
    if measure_id:
        await leader.submit(f"/publishing/measures/{measure_id}/publish")
        await leader.get("/publishing")
    if initiative_id:
        await leader.submit(f"/publishing/initiatives/{initiative_id}/publish")
        await leader.get("/publishing")


# --- off by default --------------------------------------------------------------------------


async def test_the_public_pages_are_off_by_default(services, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    for path in ("/public", f"/public/measures/{measure_id}",
                 f"/public/measures/{measure_id}/chart.svg"):
        response = await anonymous.get(path)
        assert response.status_code == 404, path
        assert NOTHING in response.text, path


async def test_published_items_stay_hidden_until_a_leader_opens_the_pages(services, people,
                                                                          anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id, open_pages=False)
    assert "published" in leader.html and "Nothing is public" in leader.html
    response = await anonymous.get(f"/public/measures/{measure_id}")
    assert response.status_code == 404 and NOTHING in response.text


async def test_open_pages_with_nothing_published_say_so(services, people, anonymous):
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader)
    html = (await anonymous.get("/public")).text
    assert "No measures are published." in html and "No initiatives are published." in html


# --- what the public reads -------------------------------------------------------------------


async def test_anyone_reads_a_published_measure_with_the_same_chart_as_staff(services, people,
                                                                             anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    await services.command(services.cqi.write_mission, actor="test",
                           mission="Children grow up safe with their families",
                           vision="Every child thrives", revisit_every_months=None)
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    assert "http" in leader.html and "/public</a>" in leader.html  # the public address

    index = await anonymous.get("/public")
    assert index.status_code == 200
    assert "Children grow up safe with their families" in index.text
    assert f'href="/public/measures/{measure_id}"' in index.text

    public = await anonymous.get(f"/public/measures/{measure_id}")
    assert public.status_code == 200
    assert "Placement moves" in public.text and "Placement records" in public.text
    assert '<svg' in public.text and 'role="img"' in public.text
    staff_page = await leader.get(f"/measures/{measure_id}")
    assert chart_of(public.text) == chart_of(staff_page)

    control = await anonymous.get(f"/public/measures/{measure_id}", params={"kind": "i"})
    assert control.status_code == 200
    assert chart_of(control.text) == chart_of(await leader.get(f"/measures/{measure_id}?kind=i"))

    image = await anonymous.get(f"/public/measures/{measure_id}/chart.svg")
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert image.text == chart_of(public.text).strip()


async def test_public_pages_show_no_names_and_no_signed_in_navigation(services, people,
                                                                      anonymous):
    value_id = (await agency_values(services, "Family voice"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    initiative_id = await an_initiative_with_a_cycle(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id, initiative_id)

    page = await anonymous.get(f"/public/initiatives/{initiative_id}")
    assert page.status_code == 200
    html = page.text
    assert "Families at the table" in html
    assert "Consumer feedback: families do not feel valued" in html
    assert "Learn whether a call ahead brings parents" in html
    assert "Six in ten parents will come" in html and "7 of 12 came" in html
    assert "Evening meetings suit parents" in html and "Adopt" in html
    assert "Family voice" in html
    measure_page = (await anonymous.get(f"/public/measures/{measure_id}")).text
    for shown in (html, measure_page, (await anonymous.get("/public")).text):
        assert "Ana Ruiz" not in shown  # a team member
        assert "Maria Santos" not in shown and "Okafor" not in shown
        assert "Dana Whitfield" not in shown  # the measure's owner, who recorded the notes
        assert "Lee" not in shown and "lee" not in shown  # the leader who published it
        assert 'aria-label="Main"' not in shown and "/sign-out" not in shown
        assert "history" not in shown.lower()


async def test_a_signed_in_reader_gets_the_same_public_page_without_staff_navigation(
        services, people):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    html = await leader.get(f"/public/measures/{measure_id}")
    assert 'aria-label="Main"' not in html and "Lee" not in html


# --- what the public does not read -----------------------------------------------------------


async def test_an_unpublished_or_withdrawn_item_is_not_found(services, people, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    shown = await a_measure_with_data(services, value_id)
    hidden = await a_measure_with_data(services, value_id, name="Re-entries")
    initiative_id = await an_initiative_with_a_cycle(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, shown, initiative_id)

    assert (await anonymous.get(f"/public/measures/{shown}")).status_code == 200
    response = await anonymous.get(f"/public/measures/{hidden}")
    assert response.status_code == 404 and NOT_PUBLISHED in response.text
    assert "Re-entries" not in (await anonymous.get("/public")).text

    await leader.submit(f"/publishing/measures/{shown}/withdraw")
    await leader.get("/publishing")
    await leader.submit(f"/publishing/initiatives/{initiative_id}/withdraw")
    for path in (f"/public/measures/{shown}", f"/public/measures/{shown}/chart.svg",
                 f"/public/initiatives/{initiative_id}"):
        response = await anonymous.get(path)
        assert response.status_code == 404, path
        assert NOT_PUBLISHED in response.text
    assert "Placement moves" not in (await anonymous.get("/public")).text


async def test_closing_the_pages_hides_everything_again(services, people, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    assert (await anonymous.get(f"/public/measures/{measure_id}")).status_code == 200
    await leader.submit("/publishing/close", {"note": "Data under review"})
    for path in ("/public", f"/public/measures/{measure_id}"):
        response = await anonymous.get(path)
        assert response.status_code == 404 and NOTHING in response.text


async def test_bad_or_mismatched_ids_are_not_found(services, people, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    for path in ("/public/measures/not-an-id", f"/public/measures/{uuid.uuid4()}",
                 f"/public/initiatives/{measure_id}", "/public/initiatives/%00",
                 "/public/measures/not-an-id/chart.svg"):
        response = await anonymous.get(path)
        assert response.status_code == 404, path
        assert NOT_PUBLISHED in response.text, path


async def test_an_unpublishable_chart_kind_falls_back_to_the_run_chart(services, people,
                                                                        anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    response = await anonymous.get(f"/public/measures/{measure_id}", params={"kind": "p"})
    assert response.status_code == 400
    assert "The run chart is shown instead" in response.text and "<svg" in response.text


# --- who may publish -------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', html).group(1)


@pytest.mark.parametrize("role", ["member", "auditor", "viewer"])
async def test_only_leaders_publish(services, people, anonymous, role):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    person = await people.browser("sam", role)
    html = await person.get("/measures")
    assert 'href="/publishing"' not in html
    await person.get("/publishing", status=403)
    token = {"X-CSRF-Token": csrf_of(html)}
    for path in ("/publishing/open", f"/publishing/measures/{measure_id}/publish"):
        response = await person.client.post(path, data={"version": "0"}, headers=token)
        assert response.status_code == 403, path
    assert await services.call(services.cqi.publication) is None
    assert (await anonymous.get("/public")).status_code == 404


async def test_a_leader_sees_the_publishing_link_and_page(people):
    leader = await people.browser("lee", "leader")
    html = await leader.get("/measures")
    assert 'href="/publishing"' in html
    html = await leader.get("/publishing")
    assert '<a href="/publishing" aria-current="page">' in html
    assert "Open the public pages" in html and "https://testserver.local/public" in html


async def test_someone_signed_out_is_sent_to_sign_in_from_publishing(anonymous):
    response = await anonymous.get("/publishing")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/publishing"


async def test_nothing_but_the_public_pages_became_readable_without_signing_in(
        services, people, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    initiative_id = await an_initiative_with_a_cycle(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id, initiative_id)
    app = create_app(services.settings, services=services)
    open_to_all = ("/public", "/sign-in", "/static", "/schema", "/api/v1/health")
    assert {route.path for route in app.routes if route.path.startswith("/public")} == {
        "/public", "/public/measures/{measure_id:str}",
        "/public/measures/{measure_id:str}/chart.svg", "/public/initiatives/{initiative_id:str}",
    }  # a new anonymous page is added here on purpose, never by accident
    checked = 0
    for route in app.routes:
        path = route.path
        if path == "/" or path.startswith(open_to_all):
            continue
        if "GET" not in getattr(route, "methods", {"GET"}):
            continue
        url = (path.replace("{measure_id:uuid}", measure_id)
               .replace("{initiative_id:uuid}", initiative_id)
               .replace("{revisit_id:uuid}", str(uuid.uuid4()))
               .replace("{account_id:uuid}", str(uuid.uuid4())))
        url = re.sub(r"\{number:int\}", "1", url)
        url = re.sub(r"\{[^}]+\}", "x", url)
        response = await anonymous.get(url)
        assert response.status_code in (303, 401), (url, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/sign-in"), url
        checked += 1
    assert checked > 20


async def test_a_stale_publishing_form_is_refused_with_409(services, people):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await leader.get("/publishing")
    await services.command(services.cqi.open_public_pages, actor="test")
    response = await leader.submit(f"/publishing/measures/{measure_id}/publish", status=409)
    assert "Someone else changed what is published" in response.text
    assert (await services.call(services.cqi.publication)).measure_ids == []


async def test_publishing_through_the_page_stores_events_naming_the_leader(services, people):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    leader = await people.browser("lee", "leader")
    await publish_through_the_page(leader, measure_id)
    lee = await services.call(services.cqi.find_account, "lee")
    publication = await services.call(services.cqi.publication)
    events = await services.call(lambda: list(services.cqi.history(publication.id)))
    assert [type(e).__name__ for e in events] == ["Started", "PublicPagesOpened",
                                                  "MeasurePublished"]
    assert {e.actor for e in events} == {str(lee.id)}
    assert events[1].note == "The board agreed" and events[2].measure_id == measure_id


async def test_a_cycle_marker_names_its_initiative_only_once_that_is_published(
        services, people, anonymous):
    value_id = (await agency_values(services, "Stability"))[0]
    measure_id = await a_measure_with_data(services, value_id)
    initiative_id = await an_initiative(services, value_id, title="Calls before meetings")
    await services.command(services.cqi.plan_cycle, initiative_id, actor="test", plan={
        "value_id": value_id, "objective": "Fewer moves", "prediction": "Two fewer a month",
        "measure": "Placement moves", "measure_id": measure_id,
        "intervention": "A stability meeting before a move", "training_step": "Coach it"})
    await services.command(services.cqi.record_do, initiative_id, 1, actor="test",
                           observations="Held", started_on=date(2025, 6, 1))
    await services.command(services.cqi.record_study, initiative_id, 1, actor="test",
                           result="One fewer", learning="It helps",
                           studied_on=date(2025, 9, 1))
    leader = await people.browser("lee", "leader")
    staff_chart = chart_of(await leader.get(f"/measures/{measure_id}"))
    assert "Calls before meetings" in staff_chart
    await publish_through_the_page(leader, measure_id)

    public_chart = chart_of((await anonymous.get(f"/public/measures/{measure_id}")).text)
    assert "Calls before meetings" not in public_chart
    assert "PDSA cycle 1" in public_chart

    await leader.submit(f"/publishing/initiatives/{initiative_id}/publish")
    public_chart = chart_of((await anonymous.get(f"/public/measures/{measure_id}")).text)
    assert public_chart == staff_chart
