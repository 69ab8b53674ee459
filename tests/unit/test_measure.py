"""Measures: their definition, and data points recorded, imported and corrected by period."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.errors import NotFoundError, ValidationError
from domain.measure import (
    MAX_IMPORT,
    Measure,
    MeasureHasDataError,
    PeriodRecordedError,
    check_points,
    period_name,
    period_start,
)
from tests.unit.builders import (
    CHILD_SAFETY,
    FAMILY_VOICE,
    KNOWN_VALUES,
    LEE,
    SAM,
    assert_versions_count_up_by_one,
    event_names,
    replay,
)

TODAY = date(2025, 6, 18)
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


def a_definition(**changes: object) -> dict[str, object]:
    definition: dict[str, object] = {
        "name": "Families who felt heard",
        "type": "outcome",
        "definition": {
            "numerator": "Families answering 'I was heard' on the exit survey",
            "denominator": "Families who answered the exit survey",
            "data_source": "Exit survey, case management system",
            "owner": "CQI analyst",
            "frequency": "monthly",
        },
        "unit": "proportion",
        "direction": "up",
        "goal": 0.8,
        "value_ids": [FAMILY_VOICE],
    }
    definition.update(changes)
    return definition


def a_measure(**changes: object) -> Measure:
    return Measure.define(actor=LEE, known_value_ids=KNOWN_VALUES, **a_definition(**changes))  # type: ignore[arg-type]


def with_frequency(frequency: str, **definition: object) -> dict[str, object]:
    base = dict(a_definition()["definition"])  # type: ignore[call-overload]
    base.update(frequency=frequency, **definition)
    return base


def a_count(frequency: str = "monthly") -> Measure:
    return a_measure(unit="count", goal=None, name="Placements moved",
                     definition=with_frequency(frequency, denominator=""))


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return excinfo.value.errors


# --- the definition ----------------------------------------------------------------------------


def test_a_defined_measure_keeps_its_definition() -> None:
    measure = a_measure(name="  Families who felt heard ")
    assert measure.name == "Families who felt heard"
    assert (measure.type, measure.unit, measure.direction, measure.goal) == (
        "outcome", "proportion", "up", 0.8)
    assert measure.definition.frequency == measure.frequency == "monthly"
    assert measure.definition.owner == "CQI analyst"
    assert measure.value_ids == [FAMILY_VOICE]
    assert measure.data() == []
    assert event_names(measure.collect_events()) == ["Defined"]


def test_every_definition_error_is_reported_at_once_under_its_field_name() -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure(name="", type="input", unit="percent", direction="sideways",
                  definition={"numerator": "", "frequency": "daily"}, value_ids=[])
    assert set(errors_of(excinfo)) == {
        "name", "type", "unit", "direction", "definition.numerator", "definition.data_source",
        "definition.owner", "definition.frequency", "value_ids"}


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure(definition="monthly")
    assert "definition" in errors_of(excinfo)


@pytest.mark.parametrize("unit", ["proportion", "rate"])
def test_proportions_and_rates_define_their_denominator(unit: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure(unit=unit, goal=None, definition=with_frequency("monthly", denominator=" "))
    assert "definition.denominator" in errors_of(excinfo)


def test_counts_and_continuous_measures_need_no_denominator() -> None:
    assert a_count().definition.denominator == ""
    continuous = a_measure(unit="continuous", goal=-2.5,
                           definition=with_frequency("weekly", denominator=""))
    assert continuous.goal == -2.5


@pytest.mark.parametrize(
    ("unit", "goal"),
    [("proportion", 80), ("proportion", -0.1), ("count", -1), ("rate", -0.5),
     ("count", "high"), ("continuous", float("nan")), ("continuous", True)],
)
def test_a_goal_must_make_sense_for_the_unit(unit: str, goal: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure(unit=unit, goal=goal)
    assert "goal" in errors_of(excinfo)


def test_a_measure_has_no_goal_unless_one_is_given() -> None:
    assert a_measure(goal=None).goal is None


def test_a_measure_must_serve_the_agencys_values() -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure(value_ids=["value-unknown"])
    assert "value_ids" in errors_of(excinfo)
    assert a_measure(value_ids=[CHILD_SAFETY, FAMILY_VOICE, CHILD_SAFETY]).value_ids == [
        CHILD_SAFETY, FAMILY_VOICE]


def test_a_revision_replaces_the_whole_definition() -> None:
    measure = a_measure()
    measure.revise(actor=SAM, known_value_ids=KNOWN_VALUES, **a_definition(
        name="Families heard", type="process", direction="down", goal=None,
        value_ids=[CHILD_SAFETY], unit="rate", definition=with_frequency("quarterly")))
    assert (measure.name, measure.type, measure.unit, measure.direction, measure.goal) == (
        "Families heard", "process", "rate", "down", None)
    assert (measure.frequency, measure.value_ids) == ("quarterly", [CHILD_SAFETY])
    assert event_names(measure.collect_events()) == ["Defined", "DefinitionRevised"]


def test_a_revision_is_validated_like_the_definition() -> None:
    measure = a_measure()
    with pytest.raises(ValidationError) as excinfo:
        measure.revise(actor=SAM, known_value_ids=KNOWN_VALUES, **a_definition(name=""))
    assert set(errors_of(excinfo)) == {"name"}


@pytest.mark.parametrize(
    "change",
    [{"unit": "rate"}, {"definition": with_frequency("quarterly")}],
)
def test_once_data_are_recorded_the_unit_and_frequency_are_fixed(change: dict) -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=3, denominator=4)
    with pytest.raises(MeasureHasDataError, match="Define a new measure"):
        measure.revise(actor=SAM, known_value_ids=KNOWN_VALUES, **a_definition(**change))
    measure.revise(actor=SAM, known_value_ids=KNOWN_VALUES, **a_definition(name="Heard"))
    assert measure.name == "Heard"


# --- periods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "frequency", "start"),
    [
        (date(2025, 3, 12), "weekly", date(2025, 3, 10)),  # a Wednesday
        (date(2025, 3, 10), "weekly", date(2025, 3, 10)),
        (date(2025, 1, 1), "weekly", date(2024, 12, 30)),  # the week crosses the year
        (date(2025, 3, 16), "weekly", date(2025, 3, 10)),  # a Sunday ends the week
        (date(2024, 2, 29), "monthly", date(2024, 2, 1)),
        (date(2025, 12, 31), "monthly", date(2025, 12, 1)),
        (date(2025, 3, 31), "quarterly", date(2025, 1, 1)),
        (date(2025, 4, 1), "quarterly", date(2025, 4, 1)),
        (date(2025, 9, 30), "quarterly", date(2025, 7, 1)),
        (date(2025, 11, 5), "quarterly", date(2025, 10, 1)),
    ],
)
def test_a_period_starts_on_a_monday_the_first_of_a_month_or_of_a_quarter(
    day: date, frequency: str, start: date
) -> None:
    assert period_start(day, frequency) == start


@pytest.mark.parametrize(
    ("frequency", "period", "hint"),
    [
        ("monthly", date(2025, 3, 15), "first day of the month: 2025-03-01, not 2025-03-15"),
        ("quarterly", date(2025, 2, 1), "first day of the quarter"),
        ("weekly", date(2025, 3, 12), "Monday that starts the week: 2025-03-10"),
    ],
)
def test_a_period_must_be_dated_by_the_first_day_of_its_period(
    frequency: str, period: date, hint: str
) -> None:
    measure = a_measure(definition=with_frequency(frequency))
    with pytest.raises(ValidationError) as excinfo:
        measure.record_point(actor=LEE, period=period, numerator=1, denominator=2)
    assert hint in errors_of(excinfo)["period"]


@pytest.mark.parametrize("period", ["2025-03-01", datetime(2025, 3, 1), None, date(1899, 12, 1)])
def test_a_period_must_be_a_calendar_date_from_1900(period: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure().record_point(actor=LEE, period=period, numerator=1, denominator=2)
    assert set(errors_of(excinfo)) == {"period"}


def test_a_period_that_has_not_started_yet_is_refused() -> None:
    measure = a_measure()
    with pytest.raises(ValidationError) as excinfo:
        measure.record_point(actor=LEE, period=date(2025, 7, 1), numerator=1, denominator=2,
                             today=TODAY)
    assert "has not started yet" in errors_of(excinfo)["period"]
    measure.record_point(actor=LEE, period=date(2025, 6, 1), numerator=1, denominator=2,
                         today=TODAY)  # the current month has started


# --- recording ---------------------------------------------------------------------------------


def test_a_recorded_proportion_keeps_its_numerator_denominator_note_and_who_entered_it() -> None:
    measure = a_measure()
    assert measure.record_point(actor=SAM, period=JAN, numerator=12, denominator=20.0,
                                note=" New survey form ") == JAN
    (point,) = measure.data()
    assert (point.period, point.numerator, point.denominator, point.value) == (JAN, 12, 20, 0.6)
    assert isinstance(point.denominator, int)  # 20.0 is the whole number 20
    assert (point.note, point.recorded_by, point.corrections) == ("New survey form", SAM, 0)


def test_a_rate_may_have_a_fractional_numerator_and_denominator() -> None:
    measure = a_measure(unit="rate", goal=None)
    measure.record_point(actor=LEE, period=JAN, numerator=3, denominator=1.5)
    assert measure.data()[0].value == 2


def test_a_count_and_a_continuous_value_are_entered_as_the_value() -> None:
    count = a_count()
    count.record_point(actor=LEE, period=JAN, value=7)
    assert (count.data()[0].value, count.data()[0].numerator) == (7, None)
    continuous = a_measure(unit="continuous", goal=None)
    continuous.record_point(actor=LEE, period=JAN, value=-3.25)
    assert continuous.data()[0].value == -3.25


@pytest.mark.parametrize(
    ("unit", "numbers", "field", "message"),
    [
        ("proportion", {"numerator": 5, "denominator": 4}, "numerator", "more than the denom"),
        ("proportion", {"numerator": 0, "denominator": 0}, "denominator", "more than 0"),
        ("proportion", {"numerator": -1, "denominator": 4}, "numerator", "0 or more"),
        ("proportion", {"numerator": 1.5, "denominator": 4}, "numerator", "whole number"),
        ("proportion", {"numerator": 1}, "denominator", "is required for a proportion"),
        ("proportion", {"value": 0.5, "numerator": 1, "denominator": 2}, "value", "leave it out"),
        ("rate", {"numerator": 3, "denominator": 0}, "denominator", "more than 0"),
        ("rate", {"numerator": 3, "denominator": -2.5}, "denominator", "more than 0"),
        ("rate", {"denominator": 100}, "numerator", "is required for a rate"),
        ("count", {"value": -1}, "value", "whole number, 0 or more"),
        ("count", {"value": 2.5}, "value", "whole number, 0 or more"),
        ("count", {}, "value", "is required for a count"),
        ("count", {"value": 3, "denominator": 10}, "denominator", "leave it out for a count"),
        ("continuous", {"value": "12"}, "value", "must be a number"),
        ("continuous", {"value": True}, "value", "must be a number"),
        ("continuous", {"value": float("inf")}, "value", "finite"),
        ("continuous", {"value": 1e13}, "value", "too large"),
    ],
)
def test_numbers_that_do_not_fit_the_unit_are_refused_in_plain_words(
    unit: str, numbers: dict[str, object], field: str, message: str
) -> None:
    measure = a_measure(unit=unit, goal=None)
    with pytest.raises(ValidationError) as excinfo:
        measure.record_point(actor=LEE, period=JAN, **numbers)  # type: ignore[arg-type]
    assert message in errors_of(excinfo)[field]
    assert measure.data() == []


def test_a_proportion_of_all_or_nothing_is_fine() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=0, denominator=9)
    measure.record_point(actor=LEE, period=FEB, numerator=9, denominator=9)
    assert [p.value for p in measure.data()] == [0, 1]


def test_a_note_is_optional_and_at_most_1000_characters() -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_measure().record_point(actor=LEE, period=JAN, numerator=1, denominator=2,
                                 note="n" * 1001)
    assert "note" in errors_of(excinfo)


def test_a_period_is_recorded_once_then_corrected_instead() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=3, denominator=4)
    with pytest.raises(PeriodRecordedError, match=r"2025-01-01 already .*3 of 4.*correct it"):
        measure.record_point(actor=LEE, period=JAN, numerator=1, denominator=4)
    assert measure.data()[0].numerator == 3


def test_the_data_come_oldest_period_first() -> None:
    measure = a_count()
    for period in (MAR, JAN, FEB):
        measure.record_point(actor=LEE, period=period, value=1)
    assert [p.period for p in measure.data()] == [JAN, FEB, MAR]
    assert measure.recorded_periods() == {JAN, FEB, MAR}


# --- corrections -------------------------------------------------------------------------------


def test_a_correction_is_a_new_event_with_a_reason_and_the_point_holds_its_numbers() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=3, denominator=4, note="first")
    measure.correct_point(actor=SAM, period=JAN, numerator=2, denominator=4,
                          reason="One survey was from February")
    measure.correct_point(actor=SAM, period=JAN, numerator=2, denominator=5, reason="Late form")
    (point,) = measure.data()
    assert (point.numerator, point.denominator, point.value) == (2, 5, 0.4)
    assert (point.corrections, point.note, point.recorded_by) == (2, "first", LEE)
    events = measure.collect_events()
    assert event_names(events) == [
        "Defined", "DataPointRecorded", "DataPointCorrected", "DataPointCorrected"]
    assert (events[1].numerator, events[2].numerator) == (3, 2)  # the history keeps both
    assert events[2].reason == "One survey was from February"
    assert events[2].actor == SAM


def test_a_correction_needs_a_reason_and_numbers_that_fit_the_unit() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=3, denominator=4)
    with pytest.raises(ValidationError) as excinfo:
        measure.correct_point(actor=SAM, period=JAN, numerator=5, denominator=4, reason=" ")
    assert set(errors_of(excinfo)) == {"numerator", "reason"}


def test_a_correction_that_changes_nothing_is_refused() -> None:
    measure = a_count()
    measure.record_point(actor=LEE, period=JAN, value=4)
    with pytest.raises(ValidationError, match="nothing to correct"):
        measure.correct_point(actor=SAM, period=JAN, value=4.0, reason="Checked again")


def test_only_a_recorded_period_can_be_corrected() -> None:
    measure = a_count()
    with pytest.raises(NotFoundError, match="no data point for 2025-01-01; record it instead"):
        measure.correct_point(actor=SAM, period=JAN, value=4, reason="x")
    with pytest.raises(ValidationError) as excinfo:
        measure.correct_point(actor=SAM, period="2025-01-01", value=4, reason="x")
    assert set(errors_of(excinfo)) == {"period"}


# --- imports -----------------------------------------------------------------------------------


def test_an_import_records_many_points_in_one_event() -> None:
    measure = a_measure()
    assert measure.import_points(actor=SAM, today=TODAY, points=[
        {"period": JAN, "numerator": 1, "denominator": 2, "note": "pilot"},
        {"period": FEB, "numerator": 3.0, "denominator": 4},
    ]) == 2
    assert [(p.period, p.value, p.note, p.recorded_by) for p in measure.data()] == [
        (JAN, 0.5, "pilot", SAM), (FEB, 0.75, "", SAM)]
    assert event_names(measure.collect_events()) == ["Defined", "DataPointsImported"]


def test_an_import_with_any_bad_point_records_none_and_names_every_bad_point() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=1, denominator=2)
    with pytest.raises(ValidationError) as excinfo:
        measure.import_points(actor=SAM, today=TODAY, points=[
            {"period": JAN, "numerator": 1, "denominator": 2},  # already recorded
            {"period": FEB, "numerator": 1, "denominator": 2},
            {"period": FEB, "numerator": 2, "denominator": 2},  # twice in the import
            {"period": date(2025, 3, 2), "numerator": 3, "denominator": 2},
        ])
    assert errors_of(excinfo) == {
        "points[0].period": "2025-01-01 already has a data point; correct it instead",
        "points[2].period": "2025-02-01 is also on points[1]",
        "points[3].period": "monthly data are dated by the first day of the month: "
                            "2025-03-01, not 2025-03-02",
        "points[3].numerator": "cannot be more than the denominator (3 > 2)",
    }
    assert [p.period for p in measure.data()] == [JAN]


def test_an_import_needs_points_and_at_most_ten_thousand() -> None:
    measure = a_count("weekly")
    with pytest.raises(ValidationError, match="no data points"):
        measure.import_points(actor=SAM, points=[])
    too_many = [{"period": date(1990, 1, 1), "value": 1}] * (MAX_IMPORT + 1)
    with pytest.raises(ValidationError, match="at most 10,000"):
        measure.import_points(actor=SAM, points=too_many)


def test_checking_a_batch_keeps_errors_found_earlier_and_names_points_the_callers_way() -> None:
    points = [{"period": JAN, "value": None}, {"period": JAN, "value": 2}]
    clean, problems = check_points(
        "count", "monthly", points, set(), TODAY,
        found={0: {"value": "is not a number"}}, label=lambda index: f"line {index + 2}")
    assert problems == {0: {"value": "is not a number"},
                        1: {"period": "2025-01-01 is also on line 2"}}
    assert [row["period"] for row in clean] == [JAN, JAN]


# --- replay ------------------------------------------------------------------------------------


def test_a_measure_replays_from_its_events_to_the_same_state() -> None:
    measure = a_measure()
    measure.record_point(actor=LEE, period=JAN, numerator=1, denominator=4, note="n")
    measure.import_points(actor=SAM, points=[{"period": FEB, "numerator": 2, "denominator": 4},
                                             {"period": MAR, "numerator": 3, "denominator": 4}])
    measure.correct_point(actor=SAM, period=FEB, numerator=1, denominator=4, reason="typo")
    measure.revise(actor=LEE, known_value_ids=KNOWN_VALUES, **a_definition(name="Heard"))
    events = measure.collect_events()
    assert_versions_count_up_by_one(events)
    replayed = replay(events)
    assert isinstance(replayed, Measure)
    assert replayed.data() == measure.data()
    assert (replayed.name, replayed.definition, replayed.version) == (
        "Heard", measure.definition, measure.version)
    assert all(event.actor in (LEE, SAM) for event in events)


# --- periods in words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "frequency", "name"),
    [
        (date(2024, 3, 4), "weekly", "week of 4 March 2024"),
        (date(2024, 3, 1), "monthly", "March 2024"),
        (date(2024, 1, 1), "quarterly", "Q1 2024"),
        (date(2024, 10, 1), "quarterly", "Q4 2024"),
        (date(2025, 12, 29), "weekly", "week of 29 December 2025"),
    ],
)
def test_a_period_is_named_as_people_say_it(period: date, frequency: str, name: str) -> None:
    assert period_name(period, frequency) == name


def test_a_day_inside_a_period_names_the_period_that_holds_it() -> None:
    assert period_name(date(2024, 3, 6), "weekly") == "week of 4 March 2024"  # a Wednesday
    assert period_name(date(2024, 3, 31), "monthly") == "March 2024"
    assert period_name(date(2024, 8, 15), "quarterly") == "Q3 2024"


def test_a_period_of_an_unknown_frequency_keeps_its_date() -> None:
    assert period_name(date(2024, 3, 4), "daily") == "2024-03-04"


@pytest.mark.parametrize(
    ("day", "frequency", "name"),
    [
        (date(2024, 3, 6), "weekly", "4 Mar 2024"),
        (date(2024, 3, 31), "monthly", "Mar 2024"),
        (date(2024, 11, 30), "quarterly", "Q4 2024"),
        (date(2024, 3, 6), "fortnightly", "2024-03-06"),
    ],
)
def test_a_period_has_a_short_name_for_a_chart_axis(day: date, frequency: str, name: str) -> None:
    from domain.measure import period_short_name

    assert period_short_name(day, frequency) == name
