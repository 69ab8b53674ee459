"""How a measure's charts are read, set through the API and kept as events: a frozen baseline,
phases, excluded and astronomical points, annotations and linked PDSA cycles all reach the
chart's numbers (JSON) and its picture (SVG)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from tests.integration.conftest import assert_field_error, plan_body
from tests.integration.measures_support import define_measure
from tests.integration.test_api_charts import MONTHS, SVG, chart, continuous

VALUES = [10, 12, 11, 13, 12, 11, 20, 21, 19, 22, 20, 21]  # a shift from July


async def settings(agency, measure_id: str) -> dict:
    body = agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}",
                                             headers=agency.viewer))
    return body["chart"]


async def test_a_frozen_baseline_sets_the_limits_from_its_points_only(agency):
    measure_id = await continuous(agency, VALUES)
    base = f"/api/v1/measures/{measure_id}"
    saved = agency.ok(await agency.client.put(f"{base}/baseline", headers=agency.member,
                                              json={"through": MONTHS[5]}))
    assert saved["version"] >= 3
    body = await chart(agency, measure_id, kind="i")
    assert body["freeze"] == 6
    assert {p["centre"] for p in body["points"]} == {11.5}  # the mean of the first six
    assert [p["in_baseline"] for p in body["points"]] == [True] * 6 + [False] * 6
    assert any(s["kind"] == "beyond_limits" for s in body["signals"])
    assert (await settings(agency, measure_id))["freeze_through"] == MONTHS[5]

    agency.ok(await agency.client.delete(f"{base}/baseline", headers=agency.member))
    assert (await chart(agency, measure_id, kind="i"))["freeze"] is None


async def test_a_phase_recomputes_the_limits_and_both_cannot_be_combined(agency):
    measure_id = await continuous(agency, VALUES)
    base = f"/api/v1/measures/{measure_id}"
    agency.ok(await agency.client.post(f"{base}/phases", headers=agency.member, json={
        "period": MONTHS[6], "label": "New visit schedule adopted"}), 201)
    body = await chart(agency, measure_id, kind="i")
    assert body["parts"] == [6]
    assert [s["centre"] for s in body["summaries"]] == [11.5, 20.5]
    assert {"kind": "phase", "start": MONTHS[6], "end": None,
            "label": "New visit schedule adopted", "initiative_id": None,
            "number": None} in body["marks"]
    refused = await agency.client.put(f"{base}/baseline", headers=agency.member,
                                      json={"through": MONTHS[3]})
    assert refused.status_code == 409
    assert "Remove the phases first" in refused.json()["detail"]
    # A what-if reading in the query replaces the stored ones and stores nothing.
    assert (await chart(agency, measure_id, kind="i", freeze="4"))["parts"] == []
    assert (await chart(agency, measure_id, kind="i"))["parts"] == [6]
    agency.ok(await agency.client.delete(f"{base}/phases/{MONTHS[6]}", headers=agency.member))
    assert (await chart(agency, measure_id, kind="i"))["parts"] == []


async def test_an_excluded_point_is_plotted_but_left_out_of_the_centre_line(agency):
    measure_id = await continuous(agency, [10, 10, 10, 40, 10, 10])
    base = f"/api/v1/measures/{measure_id}"
    assert (await chart(agency, measure_id, kind="i"))["summaries"][0]["centre"] == 15
    agency.ok(await agency.client.post(f"{base}/data/{MONTHS[3]}/exclude", headers=agency.member,
                                       json={"reason": "Case system migration doubled counts"}))
    body = await chart(agency, measure_id, kind="i")
    assert body["summaries"][0]["centre"] == 10
    assert [p["excluded"] for p in body["points"]] == [False] * 3 + [True] + [False] * 2
    assert (await settings(agency, measure_id))["excluded"] == [
        {"period": MONTHS[3], "text": "Case system migration doubled counts"}]
    svg = (await agency.client.get(f"/measures/{measure_id}/chart.svg?kind=i",
                                   headers=agency.viewer)).text
    assert "excluded: Case system migration doubled counts" in svg

    again = await agency.client.post(f"{base}/data/{MONTHS[3]}/exclude", headers=agency.member,
                                     json={"reason": "twice"})
    assert again.status_code == 409
    agency.ok(await agency.client.post(f"{base}/data/{MONTHS[3]}/include", headers=agency.member,
                                       json={"reason": "Counts were checked and are right"}))
    assert (await chart(agency, measure_id, kind="i"))["summaries"][0]["centre"] == 15


async def test_a_person_flags_an_astronomical_point_for_the_ihi_rules(agency):
    measure_id = await continuous(agency, [10, 11, 10, 90, 11, 10])
    base = f"/api/v1/measures/{measure_id}"
    body = await chart(agency, measure_id, rules="ihi")
    assert not any(s["kind"] == "astronomical" for s in body["signals"])
    agency.ok(await agency.client.post(f"{base}/data/{MONTHS[3]}/astronomical",
                                       headers=agency.member, json={"reason": "Flood week"}))
    body = await chart(agency, measure_id, rules="ihi")
    (flagged,) = [s for s in body["signals"] if s["kind"] == "astronomical"]
    assert flagged["first"] == MONTHS[3]
    agency.ok(await agency.client.delete(f"{base}/data/{MONTHS[3]}/astronomical",
                                         headers=agency.member))
    body = await chart(agency, measure_id, rules="ihi")
    assert not any(s["kind"] == "astronomical" for s in body["signals"])


async def test_annotations_and_linked_cycles_are_marked_on_the_time_axis(agency):
    measure_id = await continuous(agency, VALUES)
    base = f"/api/v1/measures/{measure_id}"
    agency.ok(await agency.client.post(f"{base}/annotations", headers=agency.member,
                                       json={"on": "2025-03-17", "text": "New intake form"}), 201)
    iid = await agency.initiative()
    value_id = await agency.default_value()
    cycles = f"/api/v1/initiatives/{iid}/cycles"
    agency.ok(await agency.client.post(cycles, headers=agency.member,
                                       json=plan_body(value_id, measure_id=measure_id)), 201)
    agency.ok(await agency.client.post(f"{cycles}/1/do", headers=agency.member, json={
        "observations": "Tried", "started_on": "2025-06-20"}))
    agency.ok(await agency.client.post(f"{cycles}/1/study", headers=agency.member, json={
        "result": "Better", "learning": "Keep it", "studied_on": "2025-09-05"}))
    body = await chart(agency, measure_id)
    assert [(m["kind"], m["start"], m["end"]) for m in body["marks"]] == [
        ("annotation", "2025-03-17", None), ("cycle", "2025-06-20", "2025-09-05")]
    assert body["marks"][1]["initiative_id"] == iid and body["marks"][1]["number"] == 1
    svg = (await agency.client.get(f"/measures/{measure_id}/chart.svg",
                                   headers=agency.viewer)).text
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "New intake form: 2025-03-17" in titles
    assert any(t and t.startswith("Cycle 1 · ") and t.endswith("2025-06-20 to 2025-09-05")
               for t in titles)

    future = await agency.client.post(f"{base}/annotations", headers=agency.member,
                                      json={"on": "2999-01-01", "text": "Later"})
    assert_field_error(future, "on")


async def test_bad_settings_are_refused_with_the_field_and_change_nothing(agency):
    measure_id = await define_measure(agency)
    base = f"/api/v1/measures/{measure_id}"
    before = (await agency.client.get(base, headers=agency.viewer)).json()["version"]
    empty = await agency.client.put(f"{base}/baseline", headers=agency.member,
                                    json={"through": MONTHS[0]})
    assert_field_error(empty, "through")
    assert "no data is recorded yet" in empty.json()["errors"]["through"]
    assert_field_error(await agency.client.post(f"{base}/data/June/exclude",
                                                headers=agency.member, json={"reason": "x"}),
                       "period")
    assert_field_error(await agency.client.post(f"{base}/phases", headers=agency.member,
                                                json={"period": MONTHS[0]}), "label")
    viewer = await agency.client.post(f"{base}/annotations", headers=agency.viewer,
                                      json={"on": MONTHS[0], "text": "x"})
    assert viewer.status_code == 403
    after = (await agency.client.get(base, headers=agency.viewer)).json()
    assert after["version"] == before
    assert after["chart"] == {"freeze_through": None, "phases": [], "excluded": [],
                              "astronomical": [], "annotations": []}
    agency.ok(await agency.client.post(f"{base}/annotations", headers=agency.member,
                                       json={"on": MONTHS[0], "text": "x"}), 201)
    stale = await agency.client.post(f"{base}/annotations",
                                     headers={**agency.member, "If-Match": f'"{before}"'},
                                     json={"on": MONTHS[1], "text": "y"})
    assert stale.status_code == 412


async def test_a_what_if_reading_drops_the_stored_phases_marks_too(agency):
    measure_id = await continuous(agency, VALUES)
    agency.ok(await agency.client.post(f"/api/v1/measures/{measure_id}/phases",
                                       headers=agency.member,
                                       json={"period": MONTHS[6], "label": "Adopted"}), 201)
    assert [m["kind"] for m in (await chart(agency, measure_id))["marks"]] == ["phase"]
    tried = await chart(agency, measure_id, kind="i", parts="3")
    assert (tried["parts"], tried["marks"]) == ([3], [])


async def test_a_cycle_never_studied_is_marked_until_its_initiative_was_concluded(agency, clock):
    measure_id = await continuous(agency, VALUES)
    iid = await agency.initiative()
    value_id = await agency.default_value()
    cycles = f"/api/v1/initiatives/{iid}/cycles"
    agency.ok(await agency.client.post(cycles, headers=agency.member,
                                       json=plan_body(value_id, measure_id=measure_id)), 201)
    agency.ok(await agency.client.post(f"{cycles}/1/do", headers=agency.member, json={
        "observations": "Tried", "started_on": "2025-06-20"}))
    running = [m for m in (await chart(agency, measure_id))["marks"] if m["kind"] == "cycle"]
    agency.ok(await agency.client.post(f"/api/v1/initiatives/{iid}/conclude",
                                       headers=agency.member,
                                       json={"outcome": "abandoned", "note": "Stopped"}))
    clock.set(datetime.now(UTC) + timedelta(days=40))
    (ended,) = [m for m in (await chart(agency, measure_id))["marks"] if m["kind"] == "cycle"]
    assert ended["end"] == running[0]["end"]  # the day it was abandoned, not a later today
