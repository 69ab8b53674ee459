"""A measure's chart through the API: the numbers as JSON, the picture as SVG."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.integration.conftest import assert_field_error
from tests.integration.measures_support import define_measure, import_csv

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = [f"2025-{m:02d}-01" for m in range(1, 13)]


async def continuous(agency, values: list[float], name: str = "Days to first visit") -> str:
    measure_id = await define_measure(agency, name=name, unit="continuous", direction="down",
                                      goal=None, definition={"denominator": ""})
    rows = "".join(f"{period},{value}\n" for period, value in zip(MONTHS, values, strict=False))
    await import_csv(agency, measure_id, "period,value\n" + rows)
    return measure_id


async def proportion(agency, numerators: list[int], denominator: int = 20) -> str:
    measure_id = await define_measure(agency)
    rows = "".join(f"{period},{n},{denominator}\n"
                   for period, n in zip(MONTHS, numerators, strict=False))
    await import_csv(agency, measure_id, "period,numerator,denominator\n" + rows)
    return measure_id


async def chart(agency, measure_id: str, **params: str) -> dict:
    return agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}/chart",
                                             params=params, headers=agency.viewer))


async def test_a_run_chart_is_the_default_and_its_numbers_can_be_checked_by_hand(agency):
    measure_id = await continuous(agency, [3, 5, 4, 6, 8, 7])
    body = await chart(agency, measure_id)
    assert (body["kind"], body["rules"], body["freeze"], body["parts"]) == ("run", "anhoej",
                                                                            None, [])
    assert [p["period"] for p in body["points"]] == MONTHS[:6]
    assert [p["value"] for p in body["points"]] == [3, 5, 4, 6, 8, 7]
    assert {p["centre"] for p in body["points"]} == {5.5}  # the median of 3 4 5 | 6 7 8
    assert {(p["lower"], p["upper"]) for p in body["points"]} == {(None, None)}
    (part,) = body["summaries"]
    # Sides - - - + + +: one crossing, a longest run of 3 (limit round(log2 6) + 3 = 6).
    assert (part["useful_points"], part["longest_run"], part["crossings"]) == (6, 3, 1)
    assert part["longest_run_limit"] == 6
    assert body["signals"] == [] and body["sentences"] == []


async def test_an_i_chart_has_the_mean_and_limits_from_the_average_moving_range(agency):
    measure_id = await continuous(agency, [3, 5, 4, 6, 8, 7])
    body = await chart(agency, measure_id, kind="i")
    (part,) = body["summaries"]
    # Mean 33 / 6 = 5.5; moving ranges 2 1 2 2 1, MR-bar 1.6; limits 5.5 ± 3 * 1.6 / 1.128.
    assert part["centre"] == pytest.approx(5.5)
    assert part["average_moving_range"] == pytest.approx(1.6)
    assert part["lower"] == pytest.approx(1.244681, abs=1e-6)
    assert part["upper"] == pytest.approx(9.755319, abs=1e-6)
    assert all(p["upper"] == pytest.approx(9.755319, abs=1e-6) for p in body["points"])


async def test_a_shift_is_found_by_the_ihi_rules_and_explained_in_words(agency):
    measure_id = await continuous(agency, [10, 11, 12, 10, 11, 12, 5, 6, 7, 5, 6, 7])
    body = await chart(agency, measure_id, rules="ihi")
    assert body["points"][0]["centre"] == 8.5
    shifts = [s for s in body["signals"] if s["kind"] == "shift"]
    assert [(s["first"], s["last"], s["direction"], s["observed"]) for s in shifts] == [
        ("2025-01-01", "2025-06-01", "above", 6), ("2025-07-01", "2025-12-01", "below", 6)]
    assert "shift: 6 points below the median from July 2025 to December 2025" in body["sentences"]
    assert all(s["sentence"] in body["sentences"] for s in body["signals"])
    assert body["points"][8]["signals"] == ["shift"]


async def test_a_p_chart_flags_the_month_beyond_its_upper_limit(agency):
    measure_id = await proportion(agency, [5, 6, 5, 4, 6, 5, 6, 5, 4, 18])
    body = await chart(agency, measure_id, kind="p")
    # p-bar = 64 / 200 = 0.32; each month's limits 0.32 ± 3 * sqrt(0.32 * 0.68 / 20)
    # = 0.32 ± 0.312922.
    assert body["points"][0]["centre"] == pytest.approx(0.32)
    assert body["points"][0]["upper"] == pytest.approx(0.632922, abs=1e-6)
    assert body["points"][0]["lower"] == pytest.approx(0.007078, abs=1e-6)
    assert body["summaries"][0]["upper"] is None  # they vary with the denominator
    (beyond,) = [s for s in body["signals"] if s["kind"] == "beyond_limits"]
    assert (beyond["first"], beyond["direction"], beyond["observed"]) == ("2025-10-01", "above",
                                                                          0.9)
    assert beyond["sentence"].startswith("point above the upper limit in October 2025")
    assert body["points"][9]["signals"] == ["beyond_limits"]


async def test_parts_and_a_frozen_baseline_are_passed_on(agency):
    measure_id = await continuous(agency, [3, 5, 4, 6, 8, 7, 20, 21, 22, 20])
    parted = await chart(agency, measure_id, kind="i", parts="6")
    assert [(p["first"], p["last"]) for p in parted["summaries"]] == [(0, 5), (6, 9)]
    assert parted["summaries"][1]["centre"] == pytest.approx(20.75)
    frozen = await chart(agency, measure_id, kind="i", freeze="6")
    assert frozen["freeze"] == 6
    assert frozen["points"][9]["centre"] == pytest.approx(5.5)
    assert {s["first_index"] for s in frozen["signals"] if s["kind"] == "beyond_limits"} == {
        6, 7, 8, 9}


@pytest.mark.parametrize(("params", "field"), [
    ({"kind": "xbar"}, "kind"),
    ({"kind": "p"}, "kind"),  # a continuous measure
    ({"kind": "c"}, "kind"),
    ({"rules": "westgard"}, "rules"),
    ({"freeze": "three"}, "freeze"),
    ({"freeze": "0"}, "freeze"),
    ({"freeze": "99"}, "freeze"),  # more points than there are
    ({"parts": "2,x"}, "parts"),
    ({"parts": "4,2"}, "parts"),
    ({"parts": "3", "freeze": "2"}, "freeze"),
])
async def test_bad_parameters_are_400_naming_the_field(agency, params, field):
    measure_id = await continuous(agency, [3, 5, 4, 6, 8, 7])
    response = await agency.client.get(f"/api/v1/measures/{measure_id}/chart", params=params,
                                       headers=agency.viewer)
    assert_field_error(response, field)


async def test_a_proportion_takes_p_run_i_and_mr_but_not_u_or_c(agency):
    measure_id = await proportion(agency, [5, 6, 5, 4, 6])
    for kind in ("p", "run", "i", "mr"):
        assert (await chart(agency, measure_id, kind=kind))["kind"] == kind
    for kind in ("u", "c"):
        response = await agency.client.get(f"/api/v1/measures/{measure_id}/chart",
                                           params={"kind": kind}, headers=agency.viewer)
        assert_field_error(response, "kind")
        assert "proportion" in response.json()["errors"]["kind"]


async def test_unknown_measure_is_404_and_roles_are_checked(agency):
    unknown = await agency.client.get(f"/api/v1/measures/{uuid.uuid4()}/chart",
                                      headers=agency.viewer)
    assert unknown.status_code == 404, unknown.text
    measure_id = await continuous(agency, [3, 5, 4])
    for role in (agency.viewer, agency.auditor, agency.member, agency.leader):
        response = await agency.client.get(f"/api/v1/measures/{measure_id}/chart",
                                           headers=role)
        assert response.status_code == 200, response.text
    anonymous = await agency.client.get(f"/api/v1/measures/{measure_id}/chart")
    assert anonymous.status_code == 401
    image = await agency.client.get(f"/measures/{measure_id}/chart.svg")
    assert image.status_code == 303  # a browser is sent to sign in
    assert image.headers["location"].startswith("/sign-in")


async def test_the_svg_draws_the_chart_with_its_title_description_and_signals(agency):
    measure_id = await proportion(agency, [5, 6, 5, 4, 6, 5, 6, 5, 4, 18])
    response = await agency.client.get(f"/measures/{measure_id}/chart.svg",
                                       params={"kind": "p"}, headers=agency.viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Families who felt heard: P chart (proportions)"
    assert "point above the upper limit in October 2025" in root.find(f"{SVG}desc").text
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 10
    # Nine months below the centre line are an unusually long run; October is beyond the limit.
    marked = {c.get("data-index"): c.find(f"{SVG}title").text for c in circles
              if "signal" in c.get("class").split()}
    assert set(marked) == {str(i) for i in range(10)}
    assert "beyond limits" in marked["9"] and "long run" in marked["0"]
    marks = [p for p in root.iter(f"{SVG}polygon") if p.get("class") == "signal-mark"]
    assert len(marks) == 10


async def test_the_svg_refuses_bad_parameters_and_unknown_measures(agency):
    measure_id = await continuous(agency, [3, 5, 4])
    bad = await agency.client.get(f"/measures/{measure_id}/chart.svg", params={"kind": "u"},
                                  headers=agency.viewer)
    assert bad.status_code == 400
    unknown = await agency.client.get(f"/measures/{uuid.uuid4()}/chart.svg",
                                      headers=agency.viewer)
    assert unknown.status_code == 404


async def test_a_measure_without_data_has_an_empty_chart(agency):
    measure_id = await define_measure(agency)
    body = await chart(agency, measure_id, kind="p")
    assert (body["points"], body["signals"], body["summaries"]) == ([], [], [])
    image = await agency.client.get(f"/measures/{measure_id}/chart.svg", headers=agency.viewer)
    assert image.status_code == 200
    assert list(ET.fromstring(image.text).iter(f"{SVG}circle")) == []
