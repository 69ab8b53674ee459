"""A measure: what the agency counts and how (its operational definition), which way is better,
which values it serves; and its data, one point per period, corrected but never overwritten.

Rules decided here:
- A period is dated by its first day: weekly data by the Monday that starts the week, monthly by
  the 1st of the month, quarterly by 1 January, April, July or October. Not before 1900, and not
  a period that has not started yet (when the caller says what today is).
- Counts are whole numbers, 0 or more. Continuous values are any finite number. Proportions and
  rates are entered as numerator and denominator (the value is numerator / denominator, never
  entered): a proportion's are whole numbers with 0 <= numerator <= denominator and
  denominator > 0; a rate's numerator is 0 or more and its denominator more than 0.
- One point per period: recording a period again is refused; correct it instead. A correction is
  its own event with a reason; the point's value is its latest correction.
- Once data are recorded, the unit and the collection frequency are fixed (they give the points
  their meaning): define a new measure instead.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, FieldErrors, NotFoundError, ValidationError
from domain.revisit import is_day

OUTCOME, PROCESS, BALANCING = "outcome", "process", "balancing"
TYPES = (OUTCOME, PROCESS, BALANCING)
WEEKLY, MONTHLY, QUARTERLY = "weekly", "monthly", "quarterly"
FREQUENCIES = (WEEKLY, MONTHLY, QUARTERLY)
COUNT, PROPORTION, RATE, CONTINUOUS = "count", "proportion", "rate", "continuous"
UNITS = (COUNT, PROPORTION, RATE, CONTINUOUS)
RATIOS = (PROPORTION, RATE)
"""Units entered as numerator and denominator; their value is numerator / denominator."""
UP, DOWN = "up", "down"
DIRECTIONS = (UP, DOWN)

UNIT_NAMES = {COUNT: "a count", PROPORTION: "a proportion", RATE: "a rate",
              CONTINUOUS: "a continuous measure"}
FIRST_YEAR = 1900
MAX_MAGNITUDE = 1e12
MAX_IMPORT = 10_000
NOTE_LENGTH = 1000
LABEL_LENGTH = 200

_ALIGNMENT = {
    WEEKLY: "weekly data are dated by the Monday that starts the week: {start}, not {period}",
    MONTHLY: "monthly data are dated by the first day of the month: {start}, not {period}",
    QUARTERLY: "quarterly data are dated by the first day of the quarter (1 January, April, "
               "July or October): {start}, not {period}",
}


class PeriodRecordedError(DomainError):
    """The period already has a data point: it is corrected, not recorded again."""


class MeasureHasDataError(DomainError):
    """The change would alter what the recorded data points mean."""


@dataclass
class OperationalDefinition:
    numerator: str  # what is counted or measured
    denominator: str  # out of what (proportions and rates)
    data_source: str
    owner: str
    frequency: str  # weekly | monthly | quarterly


@dataclass
class DataPoint:
    period: date
    value: float | int  # for proportions and rates: numerator / denominator
    numerator: float | int | None
    denominator: float | int | None
    note: str
    recorded_by: str
    corrections: int = 0

    def numbers(self) -> tuple[float | int | None, ...]:
        """What was entered: the value, or numerator and denominator."""
        if self.numerator is None:
            return (self.value,)
        return (self.numerator, self.denominator)


@dataclass
class ChartSettings:
    """How the measure's charts are to be read, decided by people and kept as events: a frozen
    baseline (centre and limits from the points up to `freeze_through`, extended forward), phases
    (limits computed afresh from each phase's first period, e.g. when a change was adopted),
    excluded points (plotted, left out of the limits, with a reason), points a person flagged as
    astronomical (IHI), and annotations on the time axis. Periods and days are ISO dates."""

    freeze_through: date | None = None
    phases: dict[str, str] = dataclasses.field(default_factory=dict)  # first period → label
    excluded: dict[str, str] = dataclasses.field(default_factory=dict)  # period → reason
    astronomical: dict[str, str] = dataclasses.field(default_factory=dict)  # period → why
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)  # day → text


class ChartSettingError(DomainError):
    """The chart setting contradicts another one or changes nothing."""


# --- rules ----------------------------------------------------------------------------------


def period_start(day: date, frequency: str) -> date:
    """The first day of the week (Monday), month or quarter that holds `day`."""
    if frequency == WEEKLY:
        return day - timedelta(days=day.weekday())
    if frequency == MONTHLY:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def check_period(
    errors: FieldErrors, period: object, frequency: str, today: date | None
) -> date | None:
    if not is_day(period):
        errors.add("period", "must be a date (YYYY-MM-DD)")
        return None
    assert isinstance(period, date)
    if period.year < FIRST_YEAR:
        errors.add("period", f"must be in {FIRST_YEAR} or later")
    elif today is not None and period > today:
        errors.add("period", f"{period} has not started yet (today is {today})")
    elif frequency in FREQUENCIES and (start := period_start(period, frequency)) != period:
        errors.add("period", _ALIGNMENT[frequency].format(start=start, period=period))
    return period


def check_number(errors: FieldErrors, field: str, raw: object) -> float | int | None:
    """A finite number; whole numbers come back as int (12.0 is 12)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        errors.add(field, "must be a number")
        return None
    if not math.isfinite(raw):
        errors.add(field, "must be a finite number")
        return None
    if abs(raw) > MAX_MAGNITUDE:
        errors.add(field, "is too large (at most a million million)")
        return None
    return int(raw) if float(raw).is_integer() else float(raw)


def check_numbers(
    errors: FieldErrors, unit: str, value: object, numerator: object, denominator: object
) -> tuple[float | int | None, float | int | None, float | int | None]:
    """The value (counts, continuous) or numerator and denominator (proportions, rates)."""
    name = UNIT_NAMES.get(unit, "this unit")
    if unit not in RATIOS:
        for field, raw in (("numerator", numerator), ("denominator", denominator)):
            if raw is not None:
                errors.add(field, f"leave it out for {name}; give the value")
        if value is None:
            errors.add("value", f"is required for {name}")
        number = check_number(errors, "value", value)
        if unit == COUNT and number is not None and (not isinstance(number, int) or number < 0):
            errors.add("value", "must be a whole number, 0 or more")
        return number, None, None
    if value is not None:
        errors.add("value", f"leave it out: {name} is entered as numerator and denominator")
    for field, raw in (("numerator", numerator), ("denominator", denominator)):
        if raw is None:
            errors.add(field, f"is required for {name}")
    top = check_number(errors, "numerator", numerator)
    bottom = check_number(errors, "denominator", denominator)
    if top is not None and top < 0:
        errors.add("numerator", "must be 0 or more")
    if bottom is not None and bottom <= 0:
        errors.add("denominator", "must be more than 0")
    if unit == PROPORTION:
        for field, number in (("numerator", top), ("denominator", bottom)):
            if number is not None and not isinstance(number, int):
                errors.add(field, "must be a whole number (a proportion counts cases)")
        if top is not None and bottom is not None and 0 < bottom < top:
            errors.add("numerator", f"cannot be more than the denominator ({top} > {bottom})")
    return None, top, bottom


def point_value(
    value: float | int | None, numerator: float | int | None, denominator: float | int | None
) -> float | int:
    """A point's value: as entered, or numerator / denominator."""
    if value is not None:
        return value
    assert numerator is not None and denominator
    return numerator / denominator


def check_point(
    errors: FieldErrors, unit: str, frequency: str, point: Mapping[str, Any],
    today: date | None,
) -> dict[str, Any]:
    """One data point's fields, validated; errors under the names period, value, numerator,
    denominator and note."""
    period = check_period(errors, point.get("period"), frequency, today)
    value, numerator, denominator = check_numbers(
        errors, unit, point.get("value"), point.get("numerator"), point.get("denominator"))
    note = errors.text("note", point.get("note"), required=False, max_length=NOTE_LENGTH)
    return {"period": period, "value": value, "numerator": numerator,
            "denominator": denominator, "note": note}


def check_points(
    unit: str, frequency: str, points: Sequence[Mapping[str, Any]], recorded: Collection[date],
    today: date | None, *,
    found: Mapping[int, Mapping[str, str]] | None = None,
    label: Callable[[int], str] = lambda index: f"points[{index}]",
) -> tuple[list[dict[str, Any]], dict[int, dict[str, str]]]:
    """Many points at once (an import): each as `check_point`, and one per period, both within
    the batch and against the periods already `recorded`. `found` holds errors the caller
    already has for a point (e.g. a cell that is not a number); `label` names a point in
    messages. Returns the points, clean, and the errors of each bad point by index."""
    clean: list[dict[str, Any]] = []
    problems: dict[int, dict[str, str]] = {}
    first: dict[date, int] = {}
    for index, point in enumerate(points):
        errors = FieldErrors()
        for field, message in (found or {}).get(index, {}).items():
            errors.add(field, message)
        row = check_point(errors, unit, frequency, point, today)
        period = row["period"]
        if period is not None and "period" not in errors.errors:
            if period in recorded:
                errors.add("period", f"{period} already has a data point; correct it instead")
            elif period in first:
                errors.add("period", f"{period} is also on {label(first[period])}")
            first.setdefault(period, index)
        if errors.errors:
            problems[index] = dict(errors.errors)
        clean.append(row)
    return clean, problems


def check_goal(errors: FieldErrors, unit: str, goal: object) -> float | int | None:
    number = check_number(errors, "goal", goal)
    if number is None:
        return None
    if unit == PROPORTION and not 0 <= number <= 1:
        errors.add("goal", "a proportion's goal is between 0 and 1 (0.8 for 80%)")
    elif unit in (COUNT, RATE) and number < 0:
        errors.add("goal", "must be 0 or more")
    return number


def check_definition(
    *, name: object, type: object, definition: object, unit: object, direction: object,
    goal: object, value_ids: object, known_value_ids: set[str],
) -> dict[str, Any]:
    """A measure's name, type, operational definition, unit, direction, goal and values."""
    errors = FieldErrors()
    clean_name = errors.text("name", name, max_length=200)
    clean_type = errors.choice("type", type, TYPES)
    clean_unit = errors.choice("unit", unit, UNITS)
    clean_direction = errors.choice("direction", direction, DIRECTIONS)
    if not isinstance(definition, Mapping):
        errors.add("definition", "give numerator, denominator, data_source, owner and frequency")
        definition = {}
    assert isinstance(definition, Mapping)
    clean_definition = {
        "numerator": errors.text("definition.numerator", definition.get("numerator")),
        "denominator": errors.text("definition.denominator", definition.get("denominator"),
                                   required=clean_unit in RATIOS),
        "data_source": errors.text("definition.data_source", definition.get("data_source")),
        "owner": errors.text("definition.owner", definition.get("owner"), max_length=200),
        "frequency": errors.choice("definition.frequency", definition.get("frequency"),
                                   FREQUENCIES),
    }
    clean_goal = check_goal(errors, clean_unit, goal)
    ids: list[str] = []
    if not isinstance(value_ids, list) or not value_ids:
        errors.add("value_ids", "name at least one of the agency's values this measure serves")
    else:
        for value_id in value_ids:
            if value_id not in known_value_ids:
                errors.add("value_ids", f"{value_id!s} is not one of the agency's values")
            elif value_id not in ids:
                ids.append(str(value_id))
    errors.raise_if_any()
    return {"name": clean_name, "type": clean_type, "definition": clean_definition,
            "unit": clean_unit, "direction": clean_direction, "goal": clean_goal,
            "value_ids": ids}


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def period_name(period: date, frequency: str) -> str:
    """The period that holds `period`, named as people say it: "week of 4 March 2024",
    "March 2024", "Q1 2024" (English, whatever the server's locale); the ISO date for a
    frequency this module does not know."""
    if frequency not in FREQUENCIES:
        return period.isoformat()
    start = period_start(period, frequency)
    if frequency == WEEKLY:
        return f"week of {start.day} {MONTH_NAMES[start.month - 1]} {start.year}"
    if frequency == MONTHLY:
        return f"{MONTH_NAMES[start.month - 1]} {start.year}"
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


def period_short_name(period: date, frequency: str) -> str:
    """The period's name short enough for a chart's axis: "4 Mar 2024", "Mar 2024", "Q1 2024"."""
    if frequency not in FREQUENCIES:
        return period.isoformat()
    start = period_start(period, frequency)
    month = MONTH_NAMES[start.month - 1][:3]
    if frequency == WEEKLY:
        return f"{start.day} {month} {start.year}"
    if frequency == MONTHLY:
        return f"{month} {start.year}"
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


# --- the aggregate --------------------------------------------------------------------------


class Measure(Aggregate):
    """Agency-wide: many initiatives' cycles may use one measure."""

    class_version = 2  # version 2 added the chart settings

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken before chart settings existed has none."""
        state["chart"] = ChartSettings()

    @classmethod
    def define(
        cls, *, actor: str, name: object, type: object, definition: object, unit: object,
        direction: object, goal: object, value_ids: object, known_value_ids: set[str],
    ) -> Measure:
        return cls(actor=actor, **check_definition(
            name=name, type=type, definition=definition, unit=unit, direction=direction,
            goal=goal, value_ids=value_ids, known_value_ids=known_value_ids))

    @event("Defined")
    def __init__(
        self, *, actor: str, name: str, type: str, definition: dict[str, str], unit: str,
        direction: str, goal: float | int | None, value_ids: list[str],
    ) -> None:
        self._define(name, type, definition, unit, direction, goal, value_ids)
        self.points: dict[str, DataPoint] = {}  # by period, ISO date
        self.chart = ChartSettings()

    def _define(
        self, name: str, type: str, definition: dict[str, str], unit: str, direction: str,
        goal: float | int | None, value_ids: list[str],
    ) -> None:
        self.name, self.type, self.unit, self.direction = name, type, unit, direction
        self.definition = OperationalDefinition(**definition)
        self.goal = goal
        self.value_ids = list(value_ids)

    # --- queries -------------------------------------------------------------------------

    @property
    def frequency(self) -> str:
        return self.definition.frequency

    def recorded_periods(self) -> set[date]:
        return {point.period for point in self.points.values()}

    def data(self) -> list[DataPoint]:
        """The current data points, oldest period first."""
        return [self.points[key] for key in sorted(self.points)]

    def point(self, period: date) -> DataPoint:
        try:
            return self.points[period.isoformat()]
        except KeyError:
            raise NotFoundError(
                f"This measure has no data point for {period}; record it instead.") from None

    # --- commands ------------------------------------------------------------------------

    def revise(
        self, *, actor: str, name: object, type: object, definition: object, unit: object,
        direction: object, goal: object, value_ids: object, known_value_ids: set[str],
    ) -> None:
        clean = check_definition(
            name=name, type=type, definition=definition, unit=unit, direction=direction,
            goal=goal, value_ids=value_ids, known_value_ids=known_value_ids)
        frequency = clean["definition"]["frequency"]
        if self.points and (clean["unit"], frequency) != (self.unit, self.frequency):
            raise MeasureHasDataError(
                f"This measure has {len(self.points)} data points recorded as {self.frequency} "
                f"{self.unit} data; its unit and frequency can no longer change. "
                "Define a new measure instead."
            )
        self._definition_revised(actor=actor, **clean)

    @event("DefinitionRevised")
    def _definition_revised(
        self, *, actor: str, name: str, type: str, definition: dict[str, str], unit: str,
        direction: str, goal: float | int | None, value_ids: list[str],
    ) -> None:
        self._define(name, type, definition, unit, direction, goal, value_ids)

    def record_point(
        self, *, actor: str, period: object, value: object = None, numerator: object = None,
        denominator: object = None, note: object = "", today: date | None = None,
    ) -> date:
        """Record the data point of one period; returns the period."""
        errors = FieldErrors()
        clean = check_point(errors, self.unit, self.frequency, {
            "period": period, "value": value, "numerator": numerator,
            "denominator": denominator, "note": note}, today)
        errors.raise_if_any()
        existing = self.points.get(clean["period"].isoformat())
        if existing is not None:
            raise PeriodRecordedError(
                f"{existing.period} already has a data point "
                f"({_numbers_text(existing.numbers())}); correct it instead."
            )
        self._point_recorded(actor=actor, **clean)
        return clean["period"]

    @event("DataPointRecorded")
    def _point_recorded(
        self, *, actor: str, period: date, value: float | int | None,
        numerator: float | int | None, denominator: float | int | None, note: str,
    ) -> None:
        self._add_point(actor, period, value, numerator, denominator, note)

    def _add_point(
        self, actor: str, period: date, value: float | int | None,
        numerator: float | int | None, denominator: float | int | None, note: str,
    ) -> None:
        self.points[period.isoformat()] = DataPoint(
            period=period, value=point_value(value, numerator, denominator),
            numerator=numerator, denominator=denominator, note=note, recorded_by=actor)

    def import_points(
        self, *, actor: str, points: Sequence[Mapping[str, Any]], today: date | None = None
    ) -> int:
        """Record many points in one event: all of them, or none. Returns how many."""
        if not points:
            raise ValidationError({"points": "there are no data points to import"})
        if len(points) > MAX_IMPORT:
            raise ValidationError({"points": f"at most {MAX_IMPORT:,} points at once"})
        clean, problems = check_points(
            self.unit, self.frequency, points, self.recorded_periods(), today)
        if problems:
            raise ValidationError({
                f"points[{index}].{field}": message
                for index, errors in problems.items() for field, message in errors.items()
            })
        self._points_imported(actor=actor, points=clean)
        return len(clean)

    @event("DataPointsImported")
    def _points_imported(self, *, actor: str, points: list[dict[str, Any]]) -> None:
        for point in points:
            self._add_point(actor, point["period"], point["value"], point["numerator"],
                            point["denominator"], point["note"])

    def correct_point(
        self, *, actor: str, period: object, value: object = None, numerator: object = None,
        denominator: object = None, reason: object,
    ) -> None:
        """Replace a period's numbers; the reason and the numbers before stay in the history."""
        errors = FieldErrors()
        if not is_day(period):
            errors.add("period", "must be a date (YYYY-MM-DD)")
            errors.raise_if_any()
        assert isinstance(period, date)
        existing = self.point(period)
        value, numerator, denominator = check_numbers(
            errors, self.unit, value, numerator, denominator)
        reason = errors.text("reason", reason, max_length=NOTE_LENGTH)
        if not errors.errors:
            entered = (value,) if self.unit not in RATIOS else (numerator, denominator)
            if entered == existing.numbers():
                field = "value" if self.unit not in RATIOS else "numerator"
                errors.add(field, "is what the point already holds; there is nothing to correct")
        errors.raise_if_any()
        self._point_corrected(actor=actor, period=period, value=value, numerator=numerator,
                              denominator=denominator, reason=reason)

    @event("DataPointCorrected")
    def _point_corrected(
        self, *, actor: str, period: date, value: float | int | None,
        numerator: float | int | None, denominator: float | int | None, reason: str,
    ) -> None:
        point = self.points[period.isoformat()]
        point.value = point_value(value, numerator, denominator)
        point.numerator, point.denominator = numerator, denominator
        point.corrections += 1


    # --- how its charts are read --------------------------------------------------------

    def _recorded(self, field_name: str, period: object) -> str:
        """The ISO key of a recorded period, or a field error."""
        errors = FieldErrors()
        if not is_day(period):
            errors.add(field_name, "must be a date (YYYY-MM-DD)")
            errors.raise_if_any()
        assert isinstance(period, date)
        if period.isoformat() not in self.points:
            recorded = sorted(self.points)
            hint = (f"recorded periods run from {recorded[0]} to {recorded[-1]}" if recorded
                    else "no data is recorded yet")
            errors.add(field_name, f"{period} has no data point ({hint})")
            errors.raise_if_any()
        return period.isoformat()

    def freeze_baseline(self, *, actor: str, through: object) -> None:
        """Centre line and limits from the points up to and including `through`, extended over
        every later point: later data are judged against the baseline."""
        key = self._recorded("through", through)
        if self.chart.phases:
            raise ChartSettingError(
                "This chart is split into phases; a frozen baseline and phases cannot be "
                "combined. Remove the phases first, or keep them instead of a frozen baseline.")
        if self.chart.freeze_through is not None and \
                self.chart.freeze_through.isoformat() == key:
            raise ChartSettingError(f"The baseline is already frozen through {key}.")
        if sorted(self.points).index(key) < 1:
            raise ValidationError({"through": "a baseline needs at least 2 points"})
        self._baseline_frozen(actor=actor, through=date.fromisoformat(key))

    @event("BaselineFrozen")
    def _baseline_frozen(self, *, actor: str, through: date) -> None:
        self.chart.freeze_through = through

    def unfreeze_baseline(self, *, actor: str) -> None:
        if self.chart.freeze_through is None:
            raise ChartSettingError("The baseline is not frozen.")
        self._baseline_unfrozen(actor=actor)

    @event("BaselineUnfrozen")
    def _baseline_unfrozen(self, *, actor: str) -> None:
        self.chart.freeze_through = None

    def start_phase(self, *, actor: str, period: object, label: object) -> None:
        """From `period` on, centre and limits are computed afresh (e.g. a change was adopted)."""
        key = self._recorded("period", period)
        errors = FieldErrors()
        text = errors.text("label", label, max_length=LABEL_LENGTH)
        errors.raise_if_any()
        if key == min(self.points):
            raise ValidationError({"period": "the first period already starts the chart; "
                                             "a phase starts at a later period"})
        if key in self.chart.phases:
            raise ChartSettingError(f"A phase already starts at {key} "
                                    f"({self.chart.phases[key]}).")
        if self.chart.freeze_through is not None:
            raise ChartSettingError(
                "The baseline is frozen; a frozen baseline and phases cannot be combined. "
                "Unfreeze the baseline first.")
        self._phase_started(actor=actor, period=date.fromisoformat(key), label=text)

    @event("PhaseStarted")
    def _phase_started(self, *, actor: str, period: date, label: str) -> None:
        self.chart.phases[period.isoformat()] = label

    def remove_phase(self, *, actor: str, period: object) -> None:
        errors = FieldErrors()
        if not is_day(period):
            errors.add("period", "must be a date (YYYY-MM-DD)")
        errors.raise_if_any()
        assert isinstance(period, date)
        if period.isoformat() not in self.chart.phases:
            raise ChartSettingError(f"No phase starts at {period}.")
        self._phase_removed(actor=actor, period=period)

    @event("PhaseRemoved")
    def _phase_removed(self, *, actor: str, period: date) -> None:
        del self.chart.phases[period.isoformat()]

    def exclude_point(self, *, actor: str, period: object, reason: object) -> None:
        """Keep the point on the chart but out of the centre line, limits and run rules."""
        key = self._recorded("period", period)
        errors = FieldErrors()
        text = errors.text("reason", reason, max_length=NOTE_LENGTH)
        errors.raise_if_any()
        if key in self.chart.excluded:
            raise ChartSettingError(f"{key} is already excluded ({self.chart.excluded[key]}).")
        self._point_excluded(actor=actor, period=date.fromisoformat(key), reason=text)

    @event("PointExcluded")
    def _point_excluded(self, *, actor: str, period: date, reason: str) -> None:
        self.chart.excluded[period.isoformat()] = reason

    def include_point(self, *, actor: str, period: object, reason: object) -> None:
        """Take an excluded point back into the limits; the reason stays in the history."""
        key = self._recorded("period", period)
        errors = FieldErrors()
        text = errors.text("reason", reason, max_length=NOTE_LENGTH)
        errors.raise_if_any()
        if key not in self.chart.excluded:
            raise ChartSettingError(f"{key} is not excluded.")
        self._point_included(actor=actor, period=date.fromisoformat(key), reason=text)

    @event("PointIncluded")
    def _point_included(self, *, actor: str, period: date, reason: str) -> None:
        del self.chart.excluded[period.isoformat()]

    def flag_astronomical(self, *, actor: str, period: object, reason: object) -> None:
        """A person's judgement (IHI run chart rules): the point is obviously different from
        the rest. It is never computed."""
        key = self._recorded("period", period)
        errors = FieldErrors()
        text = errors.text("reason", reason, max_length=NOTE_LENGTH)
        errors.raise_if_any()
        if key in self.chart.astronomical:
            raise ChartSettingError(f"{key} is already flagged as astronomical.")
        self._astronomical_flagged(actor=actor, period=date.fromisoformat(key), reason=text)

    @event("AstronomicalPointFlagged")
    def _astronomical_flagged(self, *, actor: str, period: date, reason: str) -> None:
        self.chart.astronomical[period.isoformat()] = reason

    def unflag_astronomical(self, *, actor: str, period: object) -> None:
        key = self._recorded("period", period)
        if key not in self.chart.astronomical:
            raise ChartSettingError(f"{key} is not flagged as astronomical.")
        self._astronomical_unflagged(actor=actor, period=date.fromisoformat(key))

    @event("AstronomicalFlagRemoved")
    def _astronomical_unflagged(self, *, actor: str, period: date) -> None:
        del self.chart.astronomical[period.isoformat()]

    def annotate(self, *, actor: str, on: object, text: object,
                 today: date | None = None) -> None:
        """A note on the chart's time axis ("new intake form"), on any day up to today."""
        errors = FieldErrors()
        if not is_day(on):
            errors.add("on", "must be a date (YYYY-MM-DD)")
        else:
            assert isinstance(on, date)
            if on.year < FIRST_YEAR:
                errors.add("on", f"must be in {FIRST_YEAR} or later")
            elif today is not None and on > today:
                errors.add("on", f"{on} is in the future (today is {today})")
        clean = errors.text("text", text, max_length=LABEL_LENGTH)
        errors.raise_if_any()
        assert isinstance(on, date)
        existing = self.chart.annotations.get(on.isoformat())
        if existing is not None:
            raise ChartSettingError(
                f"{on} already has an annotation ({existing}); remove it first to write "
                "another.")
        self._annotated(actor=actor, on=on, text=clean)

    @event("Annotated")
    def _annotated(self, *, actor: str, on: date, text: str) -> None:
        self.chart.annotations[on.isoformat()] = text

    def remove_annotation(self, *, actor: str, on: object) -> None:
        if not is_day(on):
            raise ValidationError({"on": "must be a date (YYYY-MM-DD)"})
        assert isinstance(on, date)
        if on.isoformat() not in self.chart.annotations:
            raise ChartSettingError(f"There is no annotation on {on}.")
        self._annotation_removed(actor=actor, on=on)

    @event("AnnotationRemoved")
    def _annotation_removed(self, *, actor: str, on: date) -> None:
        del self.chart.annotations[on.isoformat()]


def _numbers_text(numbers: tuple[float | int | None, ...]) -> str:
    if len(numbers) == 1:
        return f"value {numbers[0]}"
    return f"{numbers[0]} of {numbers[1]}"
