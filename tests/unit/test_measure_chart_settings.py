"""How a measure's charts are read — frozen baseline, phases, excluded points, astronomical
flags, annotations — decided by people, kept as events, each refused when it makes no sense."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from eventsourcing.persistence import Mapper

from domain.errors import ValidationError
from domain.measure import ChartSettingError, ChartSettings, Measure
from service.application import CQIApplication
from tests.unit.builders import LEE, event_names, replay
from tests.unit.test_measure import a_measure

TODAY = date(2025, 12, 18)
MONTHS = [date(2025, m, 1) for m in range(1, 9)]  # January to August 2025


def with_data() -> Measure:
    measure = a_measure()
    measure.import_points(actor=LEE, today=TODAY, points=[
        {"period": month, "numerator": 4 + k % 3, "denominator": 10, "note": ""}
        for k, month in enumerate(MONTHS)])
    return measure


def test_a_measure_starts_with_no_settings() -> None:
    assert a_measure().chart == ChartSettings()


def test_each_setting_is_an_event_and_replays() -> None:
    measure = with_data()
    measure.start_phase(actor=LEE, period=MONTHS[4], label="New call script adopted")
    measure.exclude_point(actor=LEE, period=MONTHS[2], reason="Survey system down for 2 weeks")
    measure.flag_astronomical(actor=LEE, period=MONTHS[6], reason="Office closed by a flood")
    measure.annotate(actor=LEE, on=date(2025, 3, 17), text="New intake form", today=TODAY)
    events = measure.collect_events()
    assert event_names(events)[-4:] == [
        "PhaseStarted", "PointExcluded", "AstronomicalPointFlagged", "Annotated"]
    assert all(e.actor == LEE for e in events)
    assert replay(events).chart == measure.chart == ChartSettings(
        phases={"2025-05-01": "New call script adopted"},
        excluded={"2025-03-01": "Survey system down for 2 weeks"},
        astronomical={"2025-07-01": "Office closed by a flood"},
        annotations={"2025-03-17": "New intake form"})


def test_settings_undo_by_new_events_and_the_history_keeps_both() -> None:
    measure = with_data()
    measure.freeze_baseline(actor=LEE, through=MONTHS[3])
    measure.unfreeze_baseline(actor=LEE)
    measure.exclude_point(actor=LEE, period=MONTHS[2], reason="Outage")
    measure.include_point(actor=LEE, period=MONTHS[2], reason="The outage did not matter")
    measure.start_phase(actor=LEE, period=MONTHS[4], label="Adopted")
    measure.remove_phase(actor=LEE, period=MONTHS[4])
    measure.flag_astronomical(actor=LEE, period=MONTHS[6], reason="Flood")
    measure.unflag_astronomical(actor=LEE, period=MONTHS[6])
    measure.annotate(actor=LEE, on=MONTHS[1], text="Note", today=TODAY)
    measure.remove_annotation(actor=LEE, on=MONTHS[1])
    assert measure.chart == ChartSettings()
    events = measure.collect_events()
    assert len(events) == 2 + 10
    assert replay(events).chart == ChartSettings()


def test_a_frozen_baseline_covers_recorded_periods_and_at_least_two_points() -> None:
    measure = with_data()
    measure.freeze_baseline(actor=LEE, through=MONTHS[3])
    assert measure.chart.freeze_through == MONTHS[3]
    with pytest.raises(ValidationError) as unknown:
        measure.freeze_baseline(actor=LEE, through=date(2025, 9, 1))
    assert unknown.value.errors == {
        "through": "2025-09-01 has no data point (recorded periods run from 2025-01-01 to "
                   "2025-08-01)"}
    with pytest.raises(ValidationError) as single:
        measure.freeze_baseline(actor=LEE, through=MONTHS[0])
    assert single.value.errors == {"through": "a baseline needs at least 2 points"}
    with pytest.raises(ChartSettingError, match="already frozen through 2025-04-01"):
        measure.freeze_baseline(actor=LEE, through=MONTHS[3])
    assert measure.chart.freeze_through == MONTHS[3]


def test_a_frozen_baseline_and_phases_are_never_combined() -> None:
    frozen = with_data()
    frozen.freeze_baseline(actor=LEE, through=MONTHS[3])
    with pytest.raises(ChartSettingError, match="Unfreeze the baseline first"):
        frozen.start_phase(actor=LEE, period=MONTHS[5], label="Adopted")
    phased = with_data()
    phased.start_phase(actor=LEE, period=MONTHS[5], label="Adopted")
    with pytest.raises(ChartSettingError, match="Remove the phases first"):
        phased.freeze_baseline(actor=LEE, through=MONTHS[3])
    assert (frozen.chart.phases, phased.chart.freeze_through) == ({}, None)


def test_a_phase_starts_after_the_first_period_once_and_needs_a_label() -> None:
    measure = with_data()
    with pytest.raises(ValidationError) as first:
        measure.start_phase(actor=LEE, period=MONTHS[0], label="Adopted")
    assert "a phase starts at a later period" in first.value.errors["period"]
    with pytest.raises(ValidationError) as blank:
        measure.start_phase(actor=LEE, period=MONTHS[3], label=" ")
    assert blank.value.errors == {"label": "is required"}
    measure.start_phase(actor=LEE, period=MONTHS[3], label="Adopted")
    with pytest.raises(ChartSettingError, match="already starts at 2025-04-01"):
        measure.start_phase(actor=LEE, period=MONTHS[3], label="Again")
    with pytest.raises(ChartSettingError, match="No phase starts at 2025-05-01"):
        measure.remove_phase(actor=LEE, period=MONTHS[4])


def test_an_exclusion_needs_a_recorded_period_and_a_reason() -> None:
    measure = with_data()
    with pytest.raises(ValidationError) as no_reason:
        measure.exclude_point(actor=LEE, period=MONTHS[2], reason="")
    assert no_reason.value.errors == {"reason": "is required"}
    with pytest.raises(ValidationError) as not_a_date:
        measure.exclude_point(actor=LEE, period="March", reason="Outage")
    assert not_a_date.value.errors == {"period": "must be a date (YYYY-MM-DD)"}
    measure.exclude_point(actor=LEE, period=MONTHS[2], reason="Outage")
    with pytest.raises(ChartSettingError, match="already excluded"):
        measure.exclude_point(actor=LEE, period=MONTHS[2], reason="Again")
    with pytest.raises(ChartSettingError, match="is not excluded"):
        measure.include_point(actor=LEE, period=MONTHS[3], reason="Never was")


def test_an_empty_measure_says_no_data_is_recorded_yet() -> None:
    with pytest.raises(ValidationError) as refused:
        a_measure().exclude_point(actor=LEE, period=MONTHS[0], reason="x")
    assert refused.value.errors == {"period": "2025-01-01 has no data point (no data is "
                                              "recorded yet)"}


def test_an_annotation_may_fall_on_any_day_up_to_today() -> None:
    measure = with_data()
    measure.annotate(actor=LEE, on=date(2025, 2, 14), text="Director changed", today=TODAY)
    with pytest.raises(ValidationError) as future:
        measure.annotate(actor=LEE, on=date(2025, 12, 19), text="Later", today=TODAY)
    assert future.value.errors == {"on": "2025-12-19 is in the future (today is 2025-12-18)"}
    with pytest.raises(ValidationError) as long:
        measure.annotate(actor=LEE, on=MONTHS[0], text="x" * 201, today=TODAY)
    assert set(long.value.errors) == {"text"}
    with pytest.raises(ChartSettingError, match=re.escape(
            "already has an annotation (Director changed); remove it first")):
        measure.annotate(actor=LEE, on=date(2025, 2, 14), text="Director left", today=TODAY)
    assert measure.chart.annotations == {"2025-02-14": "Director changed"}
    with pytest.raises(ChartSettingError, match="There is no annotation on 2025-01-01"):
        measure.remove_annotation(actor=LEE, on=MONTHS[0])


def test_a_snapshot_taken_before_chart_settings_existed_loads_with_none() -> None:
    """Version 1 of the Measure's state had no `chart`: the aggregate upcasts it."""
    app = CQIApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    measure = with_data()
    measure.collect_events()
    snapshot = Measure.Snapshot.take(measure)
    # Written as snapshots were then: the library's mapper (the app's now writes typed ones).
    stored = Mapper(transcoder=app.mapper.transcoder).to_stored_event(snapshot)
    state = json.loads(stored.state)
    assert state["state"].pop("class_version") == 2
    del state["state"]["chart"]
    old = type(stored)(originator_id=stored.originator_id,
                       originator_version=stored.originator_version, topic=stored.topic,
                       state=json.dumps(state).encode())
    loaded = app.mapper.to_domain_event(old).mutate(None)
    assert loaded.chart == ChartSettings()
    assert len(loaded.points) == len(MONTHS)
