"""Run charts and control charts: centre lines, limits and signals, the way qicharts2 computes them.

Pure statistics for the measures of an initiative: no I/O, no clock, standard library only. The SVG
renderer and the JSON API both read a `ChartResult`; the sentences in its signals are written for
the people at the agency, the numbers beside them are for tools.

    run_chart(points, rules="anhoej" | "ihi", freeze=None, parts=(), period_names=None)
    control_chart(points, "i" | "mr" | "p" | "u" | "c", freeze=None, parts=(), rules="anhoej",
                  period_names=None)

`period_names` (x -> str) names a point's period in the sentences ("from March 2024 to August
2024", "in Q1 2024"); without it a dated point is named by its ISO date ("on 2024-03-01"). The
caller knows what a period is (a week, a month, a quarter); this module does not.

Conventions of the R package qicharts2 (Anhøj, version 0.8.1; R/qic.R and R/helper.functions.R,
read on GitHub, anhoej/qicharts2) that this module follows, so that centre lines and limits agree
with it to at least 6 decimal places:

- Centre lines. Run chart: the median. I chart: the mean. MR chart: the mean moving range. C chart:
  the mean count. P and U charts: sum of numerators / sum of denominators (not the mean of the
  ratios). Each is computed from the points that are in the baseline (`freeze`), not excluded and
  not missing, separately for each part.
- I chart limits: centre ± 3 · MR̄ / 1.128. The moving ranges are taken between consecutive
  baseline points that are not excluded, so a range bridges an excluded point; a missing value
  leaves its two ranges out (R's `diff` gives NA, `mean(na.rm = TRUE)` drops them). qicharts2
  screens the moving ranges once before the limits are computed (Nelson 1982): ranges ≥ 3.267 ·
  MR̄ are dropped and MR̄ is averaged again. Before 0.8.0 it always did; since then the option
  `qic.screenedmr` governs it, set TRUE when the package is attached, and both its vignette and
  Anhøj's online book (anhoej/spc4hc) call screening the default. So it is the default here too;
  `screen_moving_ranges=False` gives the unscreened limits. One deliberate difference: when
  screening would drop every range (a baseline of identical values, MR̄ = 0) qicharts2 ends with
  no limits at all; here the unscreened MR̄ (0) is kept, so the limits sit on the centre line and
  any later change is a signal.
- MR chart: moving ranges of consecutive points of the same part (the first point of a part and a
  point next to a missing one have none); centre = their mean over baseline, non-excluded points
  (the range *into* an excluded point is left out, the range out of it is kept, as qicharts2
  does); lower limit 0, upper limit 3.267 · centre; no screening; no runs analysis.
- P chart: limits centre ± 3·√(p̄(1 - p̄)/nᵢ) from each point's own denominator, clamped to [0, 1].
  U chart: centre ± 3·√(ū/nᵢ), lower limit clamped at 0. C chart: c̄ ± 3·√c̄, lower limit
  clamped at 0. I chart limits are not clamped (qicharts2's default `y.neg = TRUE`).
- A point is beyond the limits when it is strictly above the upper or strictly below the lower
  limit. An excluded point is still tested (qicharts2 flags it too); its sentence says it is
  excluded and why.
- Frozen baseline (`freeze=k`): centre and limits come from the first k points and extend over the
  whole chart; the run rules still look at every point against that frozen centre.
- Parts (`parts=(k₁, k₂, …)`): a new part starts at each given 0-based index (qicharts2's `part`
  argument names the last point of the previous part, which is the same number). Centre, limits
  and run rules are computed part by part. qicharts2 silently ignores `freeze` when parts are
  given; here the combination is refused so nobody is surprised.
- Excluded points are plotted and returned but left out of centre, limits and the run rules.
  Missing values are left out of everything.
- Anhøj rules (qicharts2's `runs.analysis`, per part, on included, non-missing points not on the
  centre line — the useful points, n): an unusually long run when the longest run on one side
  > round(log₂ n) + 3 (Schilling 2012); too few crossings when crossings < qbinom(0.05, n - 1,
  0.5), the smallest c with P(X ≤ c) ≥ 0.05 for X ~ Binomial(n - 1, ½) (Chen 2010). Computed here
  with exact integer arithmetic, which agrees with R's qbinom (checked for every n up to 1200).
  qicharts2 applies them to control charts too, except the MR chart.

The IHI rule set (Perla, Provost & Murray 2011, "The run chart: a simple analytical tool for
learning from variation in healthcare processes", BMJ Qual Saf 20:46-51) is not in qicharts2:

- shift: 6 or more consecutive useful points on one side of the centre line; points on the line
  neither count nor break it.
- trend: 5 or more consecutive points all going up or all going down; a value equal to its
  neighbour counts once (it neither adds to nor breaks the trend).
- too few or too many runs: Perla et al. print a table of critical run counts for 10-60 useful
  observations, derived from Swed & Eisenhart (1943). That printed table could not be obtained
  while this was written, so the limits are computed from the exact Swed-Eisenhart distribution of
  the number of runs for n useful points split as evenly as the median splits them (⌊n/2⌋ and
  ⌈n/2⌉), with 2.5 % in each tail: "too few" when runs < the lower limit, "too many" when runs > the
  upper limit. The unit tests check these against the published Swed-Eisenhart two-sided 5 %
  critical values. The test needs at least 10 useful points, as in the paper; above 60 the same
  computation continues.
- astronomical point: never computed — a person flags it (`Observation.astronomical`).

Annotations and PDSA markers are display concerns and live with the renderer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from statistics import median

from domain.errors import ValidationError

RUN = "run"
CONTROL_KINDS = ("i", "mr", "p", "u", "c")
RULE_SETS = ("anhoej", "ihi")

# Signal kinds.
BEYOND_LIMITS = "beyond_limits"
LONG_RUN = "long_run"
FEW_CROSSINGS = "few_crossings"
SHIFT = "shift"
TREND = "trend"
FEW_RUNS = "few_runs"
MANY_RUNS = "many_runs"
ASTRONOMICAL = "astronomical"

D2 = 1.128  # E[range of 2 normal values] / sigma, rounded as qicharts2 and the textbooks round it
D4 = 3.267  # upper limit factor for moving ranges of 2
IHI_SHIFT = 6
IHI_TREND = 5
IHI_RUNS_MINIMUM = 10
RUNS_TAIL = (1, 40)  # 2.5 % in each tail of the Swed-Eisenhart distribution, as a fraction

PeriodNames = Callable[[date | str], str]
ValueNames = Callable[[float], str]
"""Writes a value as people read it in a sentence (a proportion as "8.9%"); plain by default."""


class ChartInputError(ValidationError, ValueError):
    """The points or options of a chart cannot be charted; `errors` maps each field to why."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One period of a measure. Give `y`, or `numerator` and `denominator` (p and u charts)."""

    x: date | str
    y: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    excluded: bool = False
    reason: str = ""
    astronomical: bool = False

    @property
    def value(self) -> float | None:
        """y, or numerator / denominator; None for a missing value."""
        if self.y is not None:
            return float(self.y)
        if self.numerator is not None and self.denominator:
            return self.numerator / self.denominator
        return None


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """A plotted point with its centre line and limits (None where a chart has none)."""

    index: int
    x: date | str
    value: float | None  # what is plotted: y, numerator/denominator, the count or the moving range
    y: float | None
    numerator: float | None
    denominator: float | None
    centre: float | None
    lower: float | None
    upper: float | None
    part: int
    in_baseline: bool  # this point helped set the centre line and limits
    excluded: bool
    reason: str
    astronomical: bool
    signal_kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Signal:
    """A pattern unlikely by chance alone, located on the chart and told in one sentence."""

    kind: str
    rule: str  # "shewhart" (3-sigma), "anhoej" or "ihi"
    part: int
    first: int
    last: int
    direction: str | None  # "above"/"below" the centre or a limit, "up"/"down" for trends
    observed: float  # run length, number of crossings or runs, or the point's value
    limit: float | None  # the threshold `observed` was compared with
    useful_points: int | None
    indices: tuple[int, ...]  # the points that make up the pattern; () for a whole-part signal
    sentence: str


@dataclass(frozen=True, slots=True)
class PartSummary:
    """Centre, limits and the run-rule numbers of one part of a chart."""

    part: int
    first: int
    last: int
    centre: float | None
    lower: float | None  # None when the limits vary point by point (p, u) or do not exist
    upper: float | None
    average_moving_range: float | None  # I chart: the MR̄ behind the limits, after screening
    moving_ranges_screened_out: int
    baseline_points: int
    useful_points: int
    longest_run: int | None
    longest_run_limit: int | None
    crossings: int | None
    crossings_limit: int | None
    runs: int | None
    runs_limits: tuple[int, int] | None
    runs_signal: bool


@dataclass(frozen=True, slots=True)
class ChartResult:
    kind: str  # "run", "i", "mr", "p", "u" or "c"
    rules: str
    freeze: int | None
    screened_moving_ranges: bool
    points: tuple[ChartPoint, ...]
    signals: tuple[Signal, ...]
    parts: tuple[PartSummary, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        return tuple(signal.sentence for signal in self.signals)

    @property
    def has_signals(self) -> bool:
        return bool(self.signals)


# --- critical values ---------------------------------------------------------------------------


def longest_run_limit(useful_points: int) -> int:
    """Anhøj: a run longer than this is unusually long (round(log₂ n) + 3)."""
    return round(math.log2(useful_points)) + 3


@cache
def crossings_limit(useful_points: int) -> int:
    """Anhøj: fewer crossings than this are unusually few; R's qbinom(0.05, n - 1, 0.5)."""
    trials = max(useful_points - 1, 0)
    total = 2**trials
    cumulative = 0
    for crossings in range(trials + 1):
        cumulative += math.comb(trials, crossings)
        if 20 * cumulative >= total:  # P(X <= crossings) >= 0.05, in integers
            return crossings
    return trials


def _runs_distribution(above: int, below: int) -> list[int]:
    """Arrangements of `above` and `below` signs with r runs, indexed by r (Swed & Eisenhart)."""
    counts = [0] * (above + below + 1)
    for runs in range(2, above + below + 1):
        k, odd = divmod(runs, 2)
        if odd:
            counts[runs] = math.comb(above - 1, k) * math.comb(below - 1, k - 1) + math.comb(
                above - 1, k - 1
            ) * math.comb(below - 1, k)
        else:
            counts[runs] = 2 * math.comb(above - 1, k - 1) * math.comb(below - 1, k - 1)
    return counts


@cache
def runs_limits(useful_points: int) -> tuple[int, int] | None:
    """IHI: (fewest, most) runs expected for n useful points; None below 10 points.

    Fewer runs than the first number are too few, more than the second too many. Each tail holds
    at most 2.5 % of the exact Swed-Eisenhart distribution for ⌊n/2⌋ points on one side of the
    median and ⌈n/2⌉ on the other.
    """
    if useful_points < IHI_RUNS_MINIMUM:
        return None
    below = useful_points // 2
    counts = _runs_distribution(useful_points - below, below)
    total = sum(counts)
    share, of = RUNS_TAIL
    cumulative = 0
    fewest = 2
    for runs in range(2, len(counts)):
        cumulative += counts[runs]
        if cumulative * of > total * share:
            fewest = runs
            break
    cumulative = 0
    most = len(counts) - 1
    for runs in range(len(counts) - 1, 1, -1):
        cumulative += counts[runs]
        if cumulative * of > total * share:
            most = runs
            break
    return fewest, most


# --- entry points ------------------------------------------------------------------------------


def run_chart(
    points: Sequence[Observation],
    *,
    rules: str = "anhoej",
    freeze: int | None = None,
    parts: Sequence[int] = (),
    period_names: PeriodNames | None = None,
    value_names: ValueNames | None = None,
) -> ChartResult:
    """A run chart: the median of each part (or of its frozen baseline) and the chosen run rules."""
    return _chart(
        points, RUN, rules=rules, freeze=freeze, parts=parts, screen=True, names=period_names,
        value_text=value_names,
    )


def control_chart(
    points: Sequence[Observation],
    kind: str,
    *,
    freeze: int | None = None,
    parts: Sequence[int] = (),
    rules: str = "anhoej",
    screen_moving_ranges: bool = True,
    period_names: PeriodNames | None = None,
    value_names: ValueNames | None = None,
) -> ChartResult:
    """A control chart of `kind` i, mr, p, u or c: centre, 3-sigma limits and their signals."""
    if kind == RUN:
        return run_chart(
            points, rules=rules, freeze=freeze, parts=parts, period_names=period_names,
            value_names=value_names,
        )
    return _chart(
        points, kind, rules=rules, freeze=freeze, parts=parts, screen=screen_moving_ranges,
        names=period_names, value_text=value_names,
    )


# --- validation --------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_number(errors: dict[str, str], field: str, value: object) -> bool:
    if value is None:
        return False
    if not _is_number(value):
        errors.setdefault(field, "must be a number")
        return False
    if not math.isfinite(value):
        errors.setdefault(field, "must be a finite number")
        return False
    return True


def _check_point(errors: dict[str, str], i: int, point: object, kind: str) -> None:
    name = f"points[{i}]"
    if not isinstance(point, Observation):
        errors[name] = "must be an Observation"
        return
    if not isinstance(point.x, date | str) or point.x == "":
        errors[f"{name}.x"] = "must be a date or a non-empty label"
    has_y = _check_number(errors, f"{name}.y", point.y)
    has_numerator = _check_number(errors, f"{name}.numerator", point.numerator)
    has_denominator = _check_number(errors, f"{name}.denominator", point.denominator)
    if point.excluded and not str(point.reason).strip():
        errors[f"{name}.reason"] = "say why the point is excluded"
    if has_y and (point.numerator is not None or point.denominator is not None):
        errors[name] = "give y, or a numerator and a denominator, not both"
        return
    if kind in ("p", "u") and point.y is not None:
        errors[f"{name}.y"] = (
            f"a {kind} chart plots numerator / denominator: give those instead of y"
        )
        return
    if kind == "c" and (point.numerator is not None or point.denominator is not None):
        errors[name] = "a c chart plots counts: give the count as y"
        return
    if has_numerator and point.denominator is None:
        errors[f"{name}.denominator"] = "is required with a numerator"
    if has_denominator and point.numerator is None and kind not in ("p", "u"):
        errors[f"{name}.numerator"] = "is required with a denominator"
    if has_denominator and point.denominator <= 0:
        errors[f"{name}.denominator"] = "must be greater than 0"
    if has_numerator and kind in ("p", "u") and point.numerator < 0:
        errors[f"{name}.numerator"] = "cannot be negative"
    if kind == "p" and has_numerator and has_denominator and point.numerator > point.denominator:
        errors[f"{name}.numerator"] = "cannot be greater than the denominator in a p chart"
    if kind == "c" and has_y and point.y < 0:
        errors[f"{name}.y"] = "a count cannot be negative"


def _validate(
    points: Sequence[Observation],
    kind: str,
    rules: str,
    freeze: object,
    parts: object,
    screen: object,
    names: object = None,
) -> tuple[int, ...]:
    errors: dict[str, str] = {}
    if names is not None and not callable(names):
        errors["period_names"] = "must be a function that names a period"
    if kind != RUN and kind not in CONTROL_KINDS:
        errors["kind"] = "must be one of: " + ", ".join(CONTROL_KINDS)
    if rules not in RULE_SETS:
        errors["rules"] = "must be one of: " + ", ".join(RULE_SETS)
    if not isinstance(screen, bool):
        errors["screen_moving_ranges"] = "must be true or false"
    if isinstance(points, str | bytes) or not isinstance(points, Sequence):
        raise ChartInputError({"points": "must be a list of observations", **errors})
    count = len(points)
    if freeze is not None:
        if not isinstance(freeze, int) or isinstance(freeze, bool):
            errors["freeze"] = "must be a whole number of points"
        elif not 1 <= freeze <= count:
            errors["freeze"] = f"must be between 1 and the number of points ({count}); got {freeze}"
    breaks: tuple[int, ...] = ()
    if isinstance(parts, str | bytes) or not isinstance(parts, Sequence):
        errors["parts"] = "must be a list of point indices"
    elif parts:
        if any(not isinstance(b, int) or isinstance(b, bool) for b in parts):
            errors["parts"] = "must be whole-number point indices"
        elif any(not 1 <= b < count for b in parts):
            errors["parts"] = f"each break must be an index between 1 and {count - 1}"
        elif any(later <= earlier for earlier, later in itertools.pairwise(parts)):
            errors["parts"] = "breaks must be in increasing order, each once"
        else:
            breaks = tuple(parts)
        if freeze is not None:
            errors["freeze"] = (
                "a frozen baseline and parts cannot be combined (qicharts2 ignores freeze "
                "when parts are given); choose one"
            )
    for i, point in enumerate(points):
        _check_point(errors, i, point, kind if kind in CONTROL_KINDS else RUN)
    labels = [p.x for p in points if isinstance(p, Observation) and isinstance(p.x, date | str)]
    if len(set(labels)) != len(labels):
        errors.setdefault("points", "each period (x) may appear only once")
    elif labels and all(type(label) is type(labels[0]) for label in labels):
        if isinstance(labels[0], date) and any(
            later <= earlier for earlier, later in itertools.pairwise(labels)
        ):
            errors.setdefault("points", "must be in time order")
    elif labels:
        errors.setdefault("points", "x must be all dates or all labels")
    if errors:
        raise ChartInputError(errors)
    return breaks


# --- the computation ---------------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


@dataclass(slots=True)
class _Part:
    number: int
    start: int
    stop: int  # exclusive
    centre: float | None = None
    lower: float | None = None
    upper: float | None = None
    average_moving_range: float | None = None
    screened_out: int = 0
    baseline_points: int = 0


def _plotted_values(points: Sequence[Observation], kind: str, bounds: list[_Part]) -> list:
    values = [p.value for p in points]
    if kind != "mr":
        return values
    ranges: list[float | None] = [None] * len(values)
    for part in bounds:
        for i in range(part.start + 1, part.stop):
            a, b = values[i - 1], values[i]
            ranges[i] = abs(b - a) if a is not None and b is not None else None
    return ranges


def _set_centre_and_limits(
    part: _Part,
    kind: str,
    points: Sequence[Observation],
    values: list[float | None],
    base: list[int],
    screen: bool,
    lower: list[float | None],
    upper: list[float | None],
) -> None:
    used = [i for i in base if values[i] is not None]
    part.baseline_points = len(used)
    if not used:
        return
    if kind == RUN:
        part.centre = median(values[i] for i in used)
        return
    if kind in ("p", "u"):
        centre = math.fsum(points[i].numerator for i in used) / math.fsum(
            points[i].denominator for i in used
        )
    else:
        centre = _mean([values[i] for i in used])
    part.centre = centre
    span = range(part.start, part.stop)
    if kind == "i":
        sequence = [values[i] for i in base]
        ranges = [
            abs(b - a) for a, b in itertools.pairwise(sequence) if a is not None and b is not None
        ]
        average = _mean(ranges)
        if average is None:
            return
        if screen:
            kept = [r for r in ranges if r < D4 * average]
            part.screened_out = len(ranges) - len(kept)
            if kept:
                average = _mean(kept)
            else:
                part.screened_out = 0
        part.average_moving_range = average
        sigma = average / D2
        part.lower, part.upper = centre - 3 * sigma, centre + 3 * sigma
    elif kind == "mr":
        part.lower, part.upper = 0.0, D4 * centre
    elif kind == "c":
        sigma = math.sqrt(centre)
        part.lower, part.upper = max(centre - 3 * sigma, 0.0), centre + 3 * sigma
    if kind in ("i", "mr", "c"):
        for i in span:
            lower[i], upper[i] = part.lower, part.upper
        return
    for i in span:  # p and u: limits from each point's own denominator
        denominator = points[i].denominator
        if values[i] is None or not denominator:
            continue
        if kind == "p":
            sigma = math.sqrt(centre * (1 - centre) / denominator)
            lower[i], upper[i] = max(centre - 3 * sigma, 0.0), min(centre + 3 * sigma, 1.0)
        else:
            sigma = math.sqrt(centre / denominator)
            lower[i], upper[i] = max(centre - 3 * sigma, 0.0), centre + 3 * sigma


def _chart(
    points: Sequence[Observation],
    kind: str,
    *,
    rules: str,
    freeze: int | None,
    parts: Sequence[int],
    screen: bool,
    names: PeriodNames | None = None,
    value_text: ValueNames | None = None,
) -> ChartResult:
    breaks = _validate(points, kind, rules, freeze, parts, screen, names)
    if value_text is not None and not callable(value_text):
        raise ChartInputError({"value_names": "must be a function that writes a value"})
    count = len(points)
    starts = [0, *breaks]
    bounds = [
        _Part(number, start, stop)
        for number, (start, stop) in enumerate(zip(starts, [*breaks, count], strict=True))
    ]
    if not count:
        bounds = []
    values = _plotted_values(points, kind, bounds)
    lower: list[float | None] = [None] * count
    upper: list[float | None] = [None] * count
    centre: list[float | None] = [None] * count
    in_baseline = [False] * count
    part_of = [0] * count
    words = _Words(points, kind, len(bounds), names, value_text)
    signals: list[Signal] = []
    summaries: list[PartSummary] = []
    for part in bounds:
        span = range(part.start, part.stop)
        base = [i for i in span if (freeze is None or i < freeze) and not points[i].excluded]
        _set_centre_and_limits(part, kind, points, values, base, screen, lower, upper)
        for i in span:
            centre[i] = part.centre
            part_of[i] = part.number
        for i in base:
            in_baseline[i] = values[i] is not None
        if kind != RUN:
            signals.extend(_beyond_limits(part, span, values, lower, upper, words))
        analysed = [i for i in span if not points[i].excluded and values[i] is not None]
        summary, found = _run_rules(part, kind, rules, analysed, values, points, words)
        summaries.append(summary)
        signals.extend(found)
    signals.sort(key=lambda s: (s.part, s.first, s.last, s.kind))
    kinds_at: dict[int, list[str]] = {}
    for signal in signals:
        for i in signal.indices:
            kinds_at.setdefault(i, []).append(signal.kind)
    chart_points = tuple(
        ChartPoint(
            index=i,
            x=p.x,
            value=values[i],
            y=p.y,
            numerator=p.numerator,
            denominator=p.denominator,
            centre=centre[i],
            lower=lower[i],
            upper=upper[i],
            part=part_of[i],
            in_baseline=in_baseline[i],
            excluded=p.excluded,
            reason=p.reason,
            astronomical=p.astronomical,
            signal_kinds=tuple(dict.fromkeys(kinds_at.get(i, ()))),
        )
        for i, p in enumerate(points)
    )
    return ChartResult(
        kind=kind,
        rules=rules,
        freeze=freeze,
        screened_moving_ranges=screen and kind == "i",
        points=chart_points,
        signals=tuple(signals),
        parts=tuple(summaries),
    )


def _beyond_limits(
    part: _Part,
    span: range,
    values: list[float | None],
    lower: list[float | None],
    upper: list[float | None],
    words: _Words,
) -> list[Signal]:
    found = []
    for i in span:
        value = values[i]
        if value is None:
            continue
        if upper[i] is not None and value > upper[i]:
            direction, limit = "above", upper[i]
        elif lower[i] is not None and value < lower[i]:
            direction, limit = "below", lower[i]
        else:
            continue
        found.append(
            Signal(
                kind=BEYOND_LIMITS,
                rule="shewhart",
                part=part.number,
                first=i,
                last=i,
                direction=direction,
                observed=value,
                limit=limit,
                useful_points=None,
                indices=(i,),
                sentence=words.beyond(i, direction, value, limit, part.number),
            )
        )
    return found


def _runs_of_sides(useful: list[int], sides: list[int]) -> list[tuple[int, int]]:
    """(start, stop) positions in `useful` of each run of points on the same side."""
    runs = []
    start = 0
    for k in range(1, len(useful) + 1):
        if k == len(useful) or sides[k] != sides[start]:
            runs.append((start, k))
            start = k
    return runs


def _trends(analysed: list[int], values: list[float | None]) -> list[tuple[int, int, int, int]]:
    """Monotone stretches as (first index, last index, distinct points, +1 up / -1 down)."""
    groups: list[tuple[int, int, float]] = []  # first and last index of equal neighbours, value
    for i in analysed:
        value = values[i]
        if groups and groups[-1][2] == value:
            groups[-1] = (groups[-1][0], i, value)
        else:
            groups.append((i, i, value))
    found = []
    k = 0
    while k < len(groups) - 1:
        direction = 1 if groups[k + 1][2] > groups[k][2] else -1
        end = k + 1
        while end + 1 < len(groups) and (groups[end + 1][2] > groups[end][2]) == (direction > 0):
            end += 1
        # The trend starts where the first value is left and ends where the last is reached.
        found.append((groups[k][1], groups[end][0], end - k + 1, direction))
        k = end
    return found


def _run_rules(
    part: _Part,
    kind: str,
    rules: str,
    analysed: list[int],
    values: list[float | None],
    points: Sequence[Observation],
    words: _Words,
) -> tuple[PartSummary, list[Signal]]:
    found: list[Signal] = []
    useful: list[int] = []
    sides: list[int] = []
    if part.centre is not None and kind != "mr":
        for i in analysed:
            difference = values[i] - part.centre
            if difference:
                useful.append(i)
                sides.append(1 if difference > 0 else -1)
    n = len(useful)
    runs = _runs_of_sides(useful, sides) if n else []
    longest = max((stop - start for start, stop in runs), default=None)
    summary = {
        "longest_run": longest,
        "longest_run_limit": None,
        "crossings": len(runs) - 1 if n else None,
        "crossings_limit": None,
        "runs": len(runs) if n else None,
        "runs_limits": None,
    }

    def side_run(
        signal_kind: str, rule: str, start: int, stop: int, limit: int, sentence: str
    ) -> Signal:
        return Signal(
            kind=signal_kind,
            rule=rule,
            part=part.number,
            first=useful[start],
            last=useful[stop - 1],
            direction="above" if sides[start] > 0 else "below",
            observed=stop - start,
            limit=limit,
            useful_points=n,
            indices=tuple(useful[start:stop]),
            sentence=sentence,
        )

    def whole_part(signal_kind: str, rule: str, observed: int, limit: int, sentence: str) -> Signal:
        return Signal(
            kind=signal_kind,
            rule=rule,
            part=part.number,
            first=useful[0],
            last=useful[-1],
            direction=None,
            observed=observed,
            limit=limit,
            useful_points=n,
            indices=(),
            sentence=sentence,
        )

    if rules == "anhoej" and n:
        longest_limit = longest_run_limit(n)
        fewest = crossings_limit(n)
        summary["longest_run_limit"] = longest_limit
        summary["crossings_limit"] = fewest
        for start, stop in runs:
            if stop - start > longest_limit:
                text = words.long_run(useful, sides, start, stop, longest_limit, n, part.number)
                found.append(side_run(LONG_RUN, "anhoej", start, stop, longest_limit, text))
        crossings = len(runs) - 1
        if crossings < fewest:
            text = words.few_crossings(crossings, fewest, n, part.number)
            found.append(whole_part(FEW_CROSSINGS, "anhoej", crossings, fewest, text))
    if rules == "ihi" and kind != "mr" and part.centre is not None:
        for start, stop in runs:
            if stop - start >= IHI_SHIFT:
                text = words.shift(useful, sides, start, stop, part.number)
                found.append(side_run(SHIFT, "ihi", start, stop, IHI_SHIFT, text))
        for first, last, length, direction in _trends(analysed, values):
            if length >= IHI_TREND:
                found.append(
                    Signal(
                        kind=TREND,
                        rule="ihi",
                        part=part.number,
                        first=first,
                        last=last,
                        direction="up" if direction > 0 else "down",
                        observed=length,
                        limit=IHI_TREND,
                        useful_points=None,
                        indices=tuple(i for i in analysed if first <= i <= last),
                        sentence=words.trend(first, last, length, direction, part.number),
                    )
                )
        limits = runs_limits(n) if n else None
        summary["runs_limits"] = limits
        if limits is not None:
            fewest_runs, most_runs = limits
            if len(runs) < fewest_runs:
                text = words.runs(len(runs), "few", fewest_runs, n, part.number)
                found.append(whole_part(FEW_RUNS, "ihi", len(runs), fewest_runs, text))
            elif len(runs) > most_runs:
                text = words.runs(len(runs), "many", most_runs, n, part.number)
                found.append(whole_part(MANY_RUNS, "ihi", len(runs), most_runs, text))
        for i in range(part.start, part.stop):
            if points[i].astronomical and values[i] is not None:
                found.append(
                    Signal(
                        kind=ASTRONOMICAL,
                        rule="ihi",
                        part=part.number,
                        first=i,
                        last=i,
                        direction=None,
                        observed=values[i],
                        limit=None,
                        useful_points=None,
                        indices=(i,),
                        sentence=words.astronomical(i, part.number),
                    )
                )
    varying = kind in ("p", "u")
    return (
        PartSummary(
            part=part.number,
            first=part.start,
            last=part.stop - 1,
            centre=part.centre,
            lower=None if varying else part.lower,
            upper=None if varying else part.upper,
            average_moving_range=part.average_moving_range,
            moving_ranges_screened_out=part.screened_out,
            baseline_points=part.baseline_points,
            useful_points=n,
            runs_signal=any(s.kind not in (BEYOND_LIMITS, ASTRONOMICAL) for s in found),
            **summary,
        ),
        found,
    )


# --- words -------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number for people: four significant digits, at most six decimals, no trailing zeros."""
    if value == 0:
        return "0"
    decimals = max(0, min(6, 3 - math.floor(math.log10(abs(value)))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class _Words:
    """The sentences that explain signals to the people reading a chart."""

    def __init__(
        self,
        points: Sequence[Observation],
        kind: str,
        parts: int,
        names: PeriodNames | None = None,
        values: ValueNames | None = None,
    ) -> None:
        self.points = points
        self.kind = kind
        self.parts = parts
        self.names = names
        # A moving range is a difference, never a proportion: it keeps plain numbers.
        self.value_text = values if values is not None and kind != "mr" else number_text
        self.centre = "the median" if kind == RUN else "the centre line"

    def when(self, i: int) -> str:
        """The period of point i as a sentence names it: "2024-03-01", "March 2024", "the week
        of 4 March 2024" (a name that starts in lower case is a common noun: it takes "the")."""
        x = self.points[i].x
        if self.names is None:
            return x.isoformat() if isinstance(x, date) else str(x)
        name = str(self.names(x))
        return f"the {name}" if name[:1].islower() else name

    def at(self, i: int) -> str:
        """The period with its preposition: "on 2024-03-01", or "in March 2024" when named."""
        return f"{'on' if self.names is None else 'in'} {self.when(i)}"

    def where(self, part: int) -> str:
        return f" in part {part + 1}" if self.parts > 1 else ""

    def beyond(self, i: int, direction: str, value: float, limit: float, part: int) -> str:
        what = "moving range" if self.kind == "mr" else "point"
        bound = "upper" if direction == "above" else "lower"
        text = (
            f"{what} {direction} the {bound} limit {self.at(i)}{self.where(part)} "
            f"(value {self.value_text(value)}, limit {self.value_text(limit)})"
        )
        point = self.points[i]
        if point.excluded:
            text += f"; excluded from the calculations: {point.reason.strip()}"
        return text

    def long_run(
        self,
        useful: list[int],
        sides: list[int],
        start: int,
        stop: int,
        limit: int,
        n: int,
        part: int,
    ) -> str:
        side = "above" if sides[start] > 0 else "below"
        return (
            f"unusually long run: {stop - start} points {side} {self.centre} from "
            f"{self.when(useful[start])} to {self.when(useful[stop - 1])}{self.where(part)} "
            f"(more than {limit} is unusual for {n} useful points)"
        )

    def few_crossings(self, crossings: int, fewest: int, n: int, part: int) -> str:
        return (
            f"too few crossings{self.where(part)}: {crossings} "
            f"(at least {fewest} expected for {n} useful points)"
        )

    def shift(self, useful: list[int], sides: list[int], start: int, stop: int, part: int) -> str:
        side = "above" if sides[start] > 0 else "below"
        return (
            f"shift: {stop - start} points {side} {self.centre} from {self.when(useful[start])} "
            f"to {self.when(useful[stop - 1])}{self.where(part)}"
        )

    def trend(self, first: int, last: int, length: int, direction: int, part: int) -> str:
        way = "up" if direction > 0 else "down"
        return (
            f"trend: {length} points going {way} from {self.when(first)} "
            f"to {self.when(last)}{self.where(part)}"
        )

    def runs(self, runs: int, which: str, limit: int, n: int, part: int) -> str:
        bound = "at least" if which == "few" else "at most"
        return (
            f"too {which} runs{self.where(part)}: {runs} "
            f"({bound} {limit} expected for {n} useful points)"
        )

    def astronomical(self, i: int, part: int) -> str:
        return f"astronomical point {self.at(i)}{self.where(part)}, flagged by a person"
