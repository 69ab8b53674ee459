"""The chart as SVG: structure, accessibility, escaping, limits, signals, markers and parts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from domain.spc import Observation, control_chart, run_chart
from service.chart_svg import Marker, chart_description, chart_svg, chart_table, nice_ticks

NS = "{http://www.w3.org/2000/svg}"
MONTHS = [date(2025 + (m // 12), m % 12 + 1, 1) for m in range(24)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def observations(values: list[float | None]) -> list[Observation]:
    return [Observation(MONTHS[i], v) for i, v in enumerate(values)]


STEADY = [10, 12, 11, 13, 12, 11, 10, 12, 13, 11, 12]
OUTLIER = [10, 14] * 5 + [40]  # baseline: mean 12, MR-bar 4, limits 12 ± 10.64


def test_the_svg_is_an_accessible_image_with_a_title_and_a_description():
    result = run_chart(observations(STEADY))
    root = parse(chart_svg(result, title="Days to first visit", description="A run chart"))
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert (title.text, desc.text) == ("Days to first visit", "A run chart")
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    assert root.find(f".//{NS}script") is None
    assert all(float(t.get("font-size", root.get("font-size"))) >= 12
               for t in root.iter(f"{NS}text"))


def test_one_circle_per_point_and_none_for_a_missing_value():
    result = run_chart(observations([10, 12, None, 11, 13]))
    root = parse(chart_svg(result, title="t", description="d"))
    circles = list(root.iter(f"{NS}circle"))
    assert [c.get("data-index") for c in circles] == ["0", "1", "3", "4"]
    assert all(c.find(f"{NS}title") is not None for c in circles)  # a tooltip with the numbers
    assert len(by_class(root, "data-line")) == 2  # broken at the missing month


def test_a_run_chart_has_a_centre_line_and_no_limits():
    root = parse(chart_svg(run_chart(observations(STEADY)), title="t", description="d"))
    assert len(by_class(root, "centre")) == 1
    assert by_class(root, "upper-limit") == [] and by_class(root, "lower-limit") == []


def test_a_control_chart_draws_its_limits():
    root = parse(chart_svg(control_chart(observations(STEADY), "i"), title="t", description="d"))
    assert len(by_class(root, "upper-limit")) == 1 and len(by_class(root, "lower-limit")) == 1


def test_p_chart_limits_step_with_each_points_denominator():
    points = [Observation(MONTHS[i], numerator=n, denominator=d)
              for i, (n, d) in enumerate([(5, 20), (12, 40), (3, 10), (9, 30)])]
    root = parse(chart_svg(control_chart(points, "p"), title="t", description="d"))
    (upper,) = by_class(root, "upper-limit")
    heights = {segment.split(",")[1] for segment in upper.get("d")[1:].split("L")}
    assert len(heights) == 4  # one level per denominator


def test_signal_points_are_red_and_marked_with_a_diamond_not_colour_alone():
    result = control_chart(observations(OUTLIER), "i", freeze=10)
    root = parse(chart_svg(result, title="t", description="d"))
    signals = by_class(root, "signal")
    assert [c.get("data-index") for c in signals] == ["10"]
    assert "beyond limits" in signals[0].find(f"{NS}title").text
    marks = by_class(root, "signal-mark")
    assert len(marks) == 1 and marks[0].tag == f"{NS}polygon"
    plain = [c for c in root.iter(f"{NS}circle") if "signal" not in c.get("class").split()]
    assert signals[0].get("fill") not in {c.get("fill") for c in plain}


def test_an_excluded_point_is_hollow_and_says_why():
    points = observations(STEADY)
    points[3] = Observation(MONTHS[3], 30, excluded=True, reason="Survey lost")
    root = parse(chart_svg(run_chart(points), title="t", description="d"))
    (hollow,) = by_class(root, "excluded")
    assert hollow.get("fill") == "#ffffff"
    assert "excluded: Survey lost" in hollow.find(f"{NS}title").text


def test_user_text_is_escaped():
    points = observations(STEADY)
    points[2] = Observation(MONTHS[2], 11, excluded=True, reason="<script>alert(1)</script>")
    svg = chart_svg(
        run_chart(points), title="<script>alert('t')</script> & co",
        description='"quoted" <desc>', value_label="<b>days</b>",
        markers=[Marker(MONTHS[1], MONTHS[3], "Cycle <2>")],
    )
    assert "<script" not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.find(f"{NS}title").text == "<script>alert('t')</script> & co"
    assert root.find(f"{NS}desc").text == '"quoted" <desc>'
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "<b>days</b>" in texts and "Cycle <2>" in texts


def test_markers_are_spans_on_the_time_axis_with_their_labels():
    markers = [Marker(MONTHS[2], MONTHS[4], "Cycle 1"), Marker(MONTHS[3], MONTHS[6], "Cycle 2"),
               Marker(MONTHS[8], None, "Go-live")]
    root = parse(chart_svg(run_chart(observations(STEADY)), title="t", description="d",
                           markers=markers))
    groups = sorted(by_class(root, "marker"), key=lambda g: g.find(f"{NS}text").text)
    assert [g.find(f"{NS}text").text for g in groups] == ["Cycle 1", "Cycle 2", "Go-live"]
    rects = [g.find(f"{NS}rect") for g in groups]
    circles = {c.get("data-index"): float(c.get("cx")) for c in root.iter(f"{NS}circle")}
    assert float(rects[0].get("x")) == pytest.approx(circles["2"])
    end = float(rects[0].get("x")) + float(rects[0].get("width"))
    assert end == pytest.approx(circles["4"])
    # Overlapping spans put their labels on different rows.
    assert groups[0].find(f"{NS}text").get("y") != groups[1].find(f"{NS}text").get("y")
    assert "2025-03-01 to 2025-05-01" in groups[0].find(f"{NS}title").text


def test_parts_have_their_own_centre_lines_and_a_boundary():
    values = [10, 12, 11, 13, 12, 20, 21, 22, 20, 21]
    root = parse(chart_svg(control_chart(observations(values), "i", parts=(5,)), title="t",
                           description="d"))
    assert [p.get("data-part") for p in by_class(root, "centre")] == ["0", "1"]
    (boundary,) = by_class(root, "part-boundary")
    circles = {c.get("data-index"): float(c.get("cx")) for c in root.iter(f"{NS}circle")}
    assert circles["4"] < float(boundary.get("x1")) < circles["5"]


def test_an_empty_chart_still_renders():
    root = parse(chart_svg(run_chart([]), title="No data yet", description="Nothing"))
    assert list(root.iter(f"{NS}circle")) == []


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(3, 17) == [0, 5, 10, 15, 20]
    assert nice_ticks(0.12, 0.78) == [0, 0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(5, 5)[0] < 5 < nice_ticks(5, 5)[-1]


def y_ticks(root: ET.Element) -> list[str]:
    (axis,) = by_class(root, "y-axis")
    return [t.text for t in axis.iter(f"{NS}text") if t.get("class") != "value-label"]


def percent(tick: str) -> float:
    assert tick.endswith("%"), tick
    return float(tick[:-1])


def test_a_proportions_axis_reads_in_percentages_and_never_passes_100_or_0():
    # Nearly every family felt heard: the points and the upper limit press against 100 %.
    shares = [(19, 20), (20, 20), (18, 20), (20, 20), (19, 20), (17, 20), (20, 20), (19, 20)]
    points = [Observation(MONTHS[i], numerator=n, denominator=d) for i, (n, d) in enumerate(shares)]
    result = control_chart(points, "p")
    root = parse(chart_svg(result, title="t", description="d", value_label="proportion"))
    ticks = [percent(t) for t in y_ticks(root)]
    assert ticks[-1] == 100 and all(0 <= t <= 100 for t in ticks)
    # The same numbers without the label get an axis above 1: the bound comes from the label.
    plain = parse(chart_svg(result, title="t", description="d"))
    assert float(y_ticks(plain)[-1]) > 1
    circle = next(iter(root.iter(f"{NS}circle")))
    assert circle.find(f"{NS}title").text == "2025-01-01: 95%"


def test_a_rare_proportion_starts_its_axis_at_0_percent():
    shares = [(0, 40), (1, 40), (0, 40), (2, 40), (1, 40), (0, 40)]
    points = [Observation(MONTHS[i], numerator=n, denominator=d) for i, (n, d) in enumerate(shares)]
    root = parse(chart_svg(control_chart(points, "p"), title="t", description="d",
                           value_label="proportion"))
    assert y_ticks(root)[0] == "0%"
    assert [percent(t) for t in y_ticks(root)] == sorted({percent(t) for t in y_ticks(root)})


def test_limits_of_proportions_beyond_100_percent_are_cut_off_at_the_edge_of_the_plot():
    # An I chart of proportions has unclamped limits: here the upper one is above 1.
    values = [0.7, 0.95, 0.6, 1.0, 0.65, 0.98, 0.62]
    result = control_chart(observations(values), "i")
    assert result.points[0].upper > 1
    root = parse(chart_svg(result, title="t", description="d", value_label="proportion"))
    assert percent(y_ticks(root)[-1]) == 100
    (upper,) = by_class(root, "upper-limit")
    clip_id = upper.get("clip-path").removeprefix("url(#").removesuffix(")")
    assert root.find(f".//{NS}clipPath[@id='{clip_id}']") is not None


def test_the_table_and_the_description_give_the_numbers_and_signals_in_words():
    result = control_chart(observations(OUTLIER), "i", freeze=10)
    rows = chart_table(result)
    assert rows[10]["period"] == "2025-11-01" and rows[10]["value"] == "40"
    assert rows[10]["signal"] == "beyond limits" and rows[0]["signal"] == ""
    assert (rows[0]["centre"], rows[0]["upper"], rows[0]["lower"]) == ("12", "22.64", "1.362")
    description = chart_description(result, "days to first visit")
    assert description.startswith("I chart (individual values) of days to first visit, 11 points")
    assert result.sentences[0] in description


def test_the_table_partial_shows_the_numbers_and_the_signals_escaped():
    from pathlib import Path

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    templates = Path(__file__).resolve().parents[2] / "templates"
    env = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape())
    points = observations(OUTLIER)
    points[1] = Observation(MONTHS[1], 14, excluded=True, reason="<script>x</script>")
    result = control_chart(points, "i", freeze=10)
    html = env.get_template("_chart_table.html").render(
        chart_rows=chart_table(result), sentences=result.sentences, caption="Days <1>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Point above the upper limit on 2025-11-01" in html
    assert html.count("<tr>") == 1 + len(OUTLIER)


def test_periods_are_named_as_people_say_them_on_the_axis_in_tooltips_and_in_the_table() -> None:
    from domain.measure import period_name, period_short_name
    from domain.spc import Observation, run_chart
    from service.chart_svg import chart_description, chart_svg, chart_table

    result = run_chart([Observation(date(2025, m, 1), float(m % 3)) for m in range(1, 13)])
    svg = chart_svg(result, title="t", description="d",
                    period_names=lambda x: period_name(x, "monthly"),
                    axis_names=lambda x: period_short_name(x, "monthly"))
    assert ">Jan 2025</text>" in svg and "2025-01-01" not in svg
    assert "<title>March 2025: 0</title>" in svg
    rows = chart_table(result, lambda x: period_name(x, "monthly"))
    assert [r["period"] for r in rows][:2] == ["January 2025", "February 2025"]
    assert "from January 2025 to December 2025" in chart_description(
        result, "Visits", lambda x: period_name(x, "monthly"))


def test_a_label_near_the_right_edge_moves_left_and_a_long_one_is_shortened():
    long = "A very long note about the new intake form and who trained whom " * 3
    markers = [Marker(MONTHS[9], None, "Cycle 2 · Families at the table"),
               Marker(MONTHS[10], None, long)]
    root = parse(chart_svg(run_chart(observations(STEADY)), title="t", description="d",
                           markers=markers, width=400))
    texts = {g.find(f"{NS}title").text.split(":")[0]: g.find(f"{NS}text")
             for g in by_class(root, "marker")}
    near = texts["Cycle 2 · Families at the table"]
    assert float(near.get("x")) + len(near.text) * 0.6 * 13 <= 400
    shortened = [t for t in texts.values() if t.text.endswith("…")]
    assert len(shortened) == 1 and float(shortened[0].get("x")) >= 0
    assert len(shortened[0].text) * 0.6 * 13 <= 400
    assert any(g.find(f"{NS}title").text.startswith(long) for g in by_class(root, "marker"))


def test_a_marker_wholly_outside_the_data_is_not_pinned_to_an_edge():
    markers = [Marker(date(2020, 1, 1), date(2020, 3, 1), "Long before"),
               Marker(MONTHS[3], None, "Inside"), Marker(MONTHS[20], None, "After the data")]
    root = parse(chart_svg(run_chart(observations(STEADY)), title="t", description="d",
                           markers=markers))
    assert [g.find(f"{NS}text").text for g in by_class(root, "marker")] == ["Inside"]
