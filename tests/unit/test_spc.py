"""Run and control chart statistics on small series built by hand, where the answer can be seen."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import ValidationError
from domain.spc import (
    ASTRONOMICAL,
    BEYOND_LIMITS,
    FEW_CROSSINGS,
    FEW_RUNS,
    LONG_RUN,
    MANY_RUNS,
    SHIFT,
    TREND,
    ChartInputError,
    Observation,
    control_chart,
    crossings_limit,
    longest_run_limit,
    number_text,
    run_chart,
    runs_limits,
)


def months(count: int, start: date = date(2026, 1, 1)) -> list[date]:
    return [
        date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1)
        for k in range(count)
    ]


def series(*values: float | None, start: date = date(2026, 1, 1)) -> list[Observation]:
    return [Observation(x, y) for x, y in zip(months(len(values), start), values, strict=True)]


def ratios(*pairs: tuple[float, float]) -> list[Observation]:
    return [
        Observation(x, numerator=n, denominator=d)
        for x, (n, d) in zip(months(len(pairs)), pairs, strict=True)
    ]


def exclude(points: list[Observation], index: int, reason: str) -> list[Observation]:
    changed = list(points)
    old = changed[index]
    changed[index] = Observation(old.x, old.y, old.numerator, old.denominator, True, reason)
    return changed


def kinds(result) -> list[str]:
    return [signal.kind for signal in result.signals]


def six(value: float) -> object:
    return pytest.approx(value, abs=1e-6)


# 17 points: eight 1s, a 5 in the middle of the sorted values, eight 9s -> median 5.
LOW_THEN_HIGH = (1, 1, 1, 1, 5, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9)
# 20 points in four blocks of five: 1-5 below, 11-15 above, 6-10 below, 16-20 above.
FOUR_BLOCKS = (1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20)
# Nine points swinging around 11, then a 30.
STABLE_THEN_30 = series(10, 12, 10, 12, 10, 12, 10, 12, 11, 30)


# --- the run chart's centre line -------------------------------------------------------------


def test_the_run_chart_centre_is_the_median_of_an_odd_number_of_points() -> None:
    result = run_chart(series(3, 9, 1, 7, 5))
    assert [p.centre for p in result.points] == [5] * 5
    assert result.parts[0].centre == 5


def test_the_run_chart_centre_is_the_mean_of_the_middle_two_of_an_even_number() -> None:
    assert run_chart(series(4, 1, 8, 2)).parts[0].centre == 3


def test_a_frozen_baseline_sets_the_median_from_its_first_points_and_extends_it_forward() -> None:
    result = run_chart(series(1, 2, 3, 10, 20, 30), freeze=3)
    assert [p.centre for p in result.points] == [2] * 6
    assert [p.in_baseline for p in result.points] == [True] * 3 + [False] * 3
    assert result.freeze == 3


def test_each_part_has_its_own_median() -> None:
    result = run_chart(series(1, 2, 3, 10, 20, 30, 40), parts=[3])
    assert [p.centre for p in result.points] == [2, 2, 2, 25, 25, 25, 25]
    assert [p.part for p in result.points] == [0, 0, 0, 1, 1, 1, 1]
    assert [(s.first, s.last, s.centre) for s in result.parts] == [(0, 2, 2), (3, 6, 25)]


def test_an_excluded_point_is_plotted_with_its_reason_but_left_out_of_the_median() -> None:
    points = exclude(series(1, 2, 3, 100, 4), 3, "counted twice in the March report")
    result = run_chart(points)
    assert result.parts[0].centre == 2.5
    excluded = result.points[3]
    assert (excluded.value, excluded.excluded, excluded.in_baseline) == (100, True, False)
    assert excluded.reason == "counted twice in the March report"


def test_a_missing_value_is_plotted_as_a_gap_and_left_out_of_the_median() -> None:
    result = run_chart(series(1, None, 3, 5))
    assert result.parts[0].centre == 3
    gap = result.points[1]
    assert (gap.value, gap.centre, gap.in_baseline) == (None, 3, False)


def test_a_proportion_may_be_charted_on_a_run_chart_from_its_numerator_and_denominator() -> None:
    result = run_chart(ratios((1, 4), (1, 2), (3, 4)))
    assert [p.value for p in result.points] == [0.25, 0.5, 0.75]
    assert result.parts[0].centre == 0.5


# --- Anhøj rules -----------------------------------------------------------------------------


def test_anhoej_limits_follow_log2_for_runs_and_the_binomial_fifth_percentile_for_crossings() -> (
    None
):
    # round(log2(16)) + 3 = 7; P(X <= 3) = 576/32768 < 0.05 <= P(X <= 4) = 1941/32768, X ~ B(15, .5)
    assert (longest_run_limit(16), crossings_limit(16)) == (7, 4)
    # P(X <= 5) = 16664/524288 < 0.05 <= P(X <= 6) = 43796/524288, X ~ B(19, .5)
    assert (longest_run_limit(20), crossings_limit(20)) == (7, 6)
    assert crossings_limit(1) == 0


def test_a_run_longer_than_round_log2_n_plus_3_is_unusually_long() -> None:
    result = run_chart(series(*LOW_THEN_HIGH))
    long_runs = [s for s in result.signals if s.kind == LONG_RUN]
    assert [(s.first, s.last, s.direction, s.observed, s.limit) for s in long_runs] == [
        (0, 8, "below", 8, 7),
        (9, 16, "above", 8, 7),
    ]
    assert long_runs[0].sentence == (
        "unusually long run: 8 points below the median from 2026-01-01 to 2026-09-01 "
        "(more than 7 is unusual for 16 useful points)"
    )


def test_a_point_on_the_median_neither_counts_in_a_run_nor_breaks_it() -> None:
    result = run_chart(series(*LOW_THEN_HIGH))
    first = next(s for s in result.signals if s.kind == LONG_RUN)
    assert 4 not in first.indices
    assert first.indices == (0, 1, 2, 3, 5, 6, 7, 8)
    assert result.parts[0].useful_points == 16
    assert result.points[4].signal_kinds == ()


def test_a_run_as_long_as_the_limit_is_not_a_signal_and_one_point_more_is() -> None:
    # 24 useful points: limit round(log2(24)) + 3 = 8.
    at_limit = run_chart(series(*[1] * 8, *[9, 1] * 4, *[9] * 8))
    beyond = run_chart(series(*[1] * 9, *[9, 1] * 3, *[9] * 9))
    assert (at_limit.parts[0].useful_points, at_limit.parts[0].longest_run) == (24, 8)
    assert at_limit.parts[0].longest_run_limit == 8
    assert LONG_RUN not in kinds(at_limit)
    assert [s.observed for s in beyond.signals if s.kind == LONG_RUN] == [9, 9]


def test_fewer_crossings_than_the_binomial_limit_are_unusually_few() -> None:
    result = run_chart(series(*FOUR_BLOCKS))
    assert result.parts[0].centre == 10.5
    assert (result.parts[0].crossings, result.parts[0].crossings_limit) == (3, 6)
    assert result.sentences == ("too few crossings: 3 (at least 6 expected for 20 useful points)",)
    (signal,) = result.signals
    assert (signal.kind, signal.rule, signal.first, signal.last) == (FEW_CROSSINGS, "anhoej", 0, 19)
    assert signal.indices == ()
    assert result.parts[0].runs_signal


def test_a_random_looking_series_gives_no_anhoej_signal() -> None:
    result = run_chart(series(3, 7, 2, 8, 4, 6, 1, 9, 5, 5, 2, 8, 3, 7))
    assert result.signals == ()
    assert not result.parts[0].runs_signal


def test_when_every_point_is_on_the_median_there_is_nothing_to_analyse() -> None:
    result = run_chart(series(4, 4, 4, 4, 4))
    summary = result.parts[0]
    assert (summary.useful_points, summary.longest_run, summary.crossings) == (0, None, None)
    assert result.signals == ()


def test_excluded_and_missing_points_are_left_out_of_the_run_rules() -> None:
    values = list(LOW_THEN_HIGH)
    values[2] = None
    points = exclude(series(*values), 11, "audit sample, not the full caseload")
    result = run_chart(points)
    assert result.parts[0].useful_points == 14
    assert all(2 not in s.indices and 11 not in s.indices for s in result.signals)


def test_the_run_rules_look_at_each_part_on_its_own() -> None:
    result = run_chart(series(*LOW_THEN_HIGH, *FOUR_BLOCKS), parts=[17])
    assert [s.part for s in result.signals] == [0, 0, 0, 1]
    assert result.signals[-1].sentence == (
        "too few crossings in part 2: 3 (at least 6 expected for 20 useful points)"
    )
    assert result.signals[0].sentence.endswith(
        "to 2026-09-01 in part 1 (more than 7 is unusual for 16 useful points)"
    )


def test_with_a_frozen_baseline_every_later_point_is_judged_against_the_baseline_median() -> None:
    result = run_chart(series(5, 4, 6, 5, 4, 6, 5, 1, 2, 1, 2, 1, 2, 1, 2, 1), freeze=7)
    assert result.parts[0].centre == 5
    (run,) = [s for s in result.signals if s.kind == LONG_RUN]
    assert (run.first, run.last, run.observed, run.direction) == (7, 15, 9, "below")


# --- IHI rules -------------------------------------------------------------------------------


def test_ihi_shift_is_six_points_on_one_side_and_a_point_on_the_median_does_not_break_it() -> None:
    # seven 1s, seven 9s and one 5: the median is 5; points 4-6 and 8-10 sit above it.
    points = series(1, 1, 9, 1, 9, 9, 9, 5, 9, 9, 9, 1, 1, 1, 1)
    result = run_chart(points, rules="ihi")
    (shift,) = [s for s in result.signals if s.kind == SHIFT]
    assert (shift.first, shift.last, shift.direction, shift.observed) == (4, 10, "above", 6)
    assert shift.indices == (4, 5, 6, 8, 9, 10)
    assert shift.sentence == "shift: 6 points above the median from 2026-05-01 to 2026-11-01"
    assert result.rules == "ihi"


def test_ihi_five_points_on_one_side_are_not_a_shift() -> None:
    result = run_chart(series(1, 9, 1, 9, 9, 9, 5, 9, 9, 1, 1, 1, 1), rules="ihi")
    assert SHIFT not in kinds(result)


def test_ihi_trend_is_five_points_going_the_same_way_with_equal_neighbours_counted_once() -> None:
    result = run_chart(series(6, 3, 4, 4, 5, 6, 7, 2, 6, 3), rules="ihi")
    (trend,) = [s for s in result.signals if s.kind == TREND]
    assert (trend.first, trend.last, trend.direction, trend.observed) == (1, 6, "up", 5)
    assert trend.indices == (1, 2, 3, 4, 5, 6)
    assert trend.sentence == "trend: 5 points going up from 2026-02-01 to 2026-07-01"


def test_ihi_trend_starts_where_a_repeated_value_is_left() -> None:
    result = run_chart(series(9, 9, 8, 8, 7, 5, 4, 6), rules="ihi")
    (trend,) = [s for s in result.signals if s.kind == TREND]
    assert (trend.first, trend.last, trend.direction, trend.observed) == (1, 6, "down", 5)


def test_ihi_four_distinct_rising_values_with_a_tie_are_not_a_trend() -> None:
    result = run_chart(series(3, 4, 4, 5, 6, 2, 3, 1), rules="ihi")
    assert TREND not in kinds(result)


def test_ihi_too_few_runs_against_the_critical_values() -> None:
    result = run_chart(series(*FOUR_BLOCKS), rules="ihi")
    assert result.parts[0].runs_limits == (7, 15)
    (few,) = [s for s in result.signals if s.kind == FEW_RUNS]
    assert (few.observed, few.limit, few.useful_points) == (4, 7, 20)
    assert few.sentence == "too few runs: 4 (at least 7 expected for 20 useful points)"
    # 1-5 rising into 11-15, and 6-10 into 16-20, are two trends of ten
    assert [s.observed for s in result.signals if s.kind == TREND] == [10, 10]


def test_ihi_too_many_runs_when_the_points_flip_sides_every_time() -> None:
    result = run_chart(series(*[1, 9] * 10), rules="ihi")
    (many,) = [s for s in result.signals if s.kind == MANY_RUNS]
    assert many.sentence == "too many runs: 20 (at most 15 expected for 20 useful points)"


def test_ihi_runs_are_not_judged_with_fewer_than_ten_useful_points() -> None:
    assert runs_limits(9) is None
    result = run_chart(series(*[1, 9] * 4), rules="ihi")
    assert result.parts[0].runs_limits is None
    assert (result.parts[0].runs, result.signals) == (8, ())


def test_an_astronomical_point_is_flagged_by_a_person_not_computed() -> None:
    points = series(5, 6, 5, 40, 6, 5)
    flagged = list(points)
    flagged[3] = Observation(points[3].x, 40, astronomical=True)
    assert kinds(run_chart(points, rules="ihi")) == []
    result = run_chart(flagged, rules="ihi")
    (signal,) = result.signals
    assert (signal.kind, signal.first, signal.rule) == (ASTRONOMICAL, 3, "ihi")
    assert signal.sentence == "astronomical point on 2026-04-01, flagged by a person"
    assert result.points[3].signal_kinds == (ASTRONOMICAL,)
    assert kinds(run_chart(flagged, rules="anhoej")) == []


def test_the_anhoej_rules_do_not_report_ihi_signals_and_the_other_way_round() -> None:
    anhoej = run_chart(series(*FOUR_BLOCKS))
    ihi = run_chart(series(*FOUR_BLOCKS), rules="ihi")
    assert set(kinds(anhoej)) == {FEW_CROSSINGS}
    assert set(kinds(ihi)) == {FEW_RUNS, TREND}
    assert ihi.parts[0].longest_run_limit is None
    assert anhoej.parts[0].runs_limits is None


# --- I and MR charts -------------------------------------------------------------------------


def test_i_chart_limits_are_the_mean_plus_and_minus_three_average_moving_ranges_over_1128() -> None:
    # mean 3; moving ranges 2, 1, 3, 1 -> MR-bar 1.75; 3 * 1.75 / 1.128 = 4.654255
    summary = control_chart(series(1, 3, 2, 5, 4), "i").parts[0]
    assert summary.centre == 3
    assert summary.average_moving_range == 1.75
    assert summary.lower == six(-1.654255)
    assert summary.upper == six(7.654255)


def test_the_mr_chart_plots_moving_ranges_around_their_mean_with_an_upper_limit_of_3267() -> None:
    result = control_chart(series(1, 3, 2, 5, 4), "mr")
    assert [p.value for p in result.points] == [None, 2, 1, 3, 1]
    assert [p.y for p in result.points] == [1, 3, 2, 5, 4]
    summary = result.parts[0]
    assert (summary.centre, summary.lower) == (1.75, 0)
    assert summary.upper == six(5.71725)


def test_moving_ranges_above_3267_mr_bar_are_screened_out_before_the_i_limits_by_default() -> None:
    # ranges 1,1,1,1,1,1,25: MR-bar 31/7 = 4.428571, limit 14.468; without the 25 MR-bar is 1
    points = series(5, 6, 5, 6, 5, 6, 5, 30)
    screened = control_chart(points, "i")
    unscreened = control_chart(points, "i", screen_moving_ranges=False)
    assert screened.screened_moving_ranges and not unscreened.screened_moving_ranges
    assert screened.parts[0].moving_ranges_screened_out == 1
    assert (screened.parts[0].lower, screened.parts[0].upper) == (six(5.840426), six(11.159574))
    assert unscreened.parts[0].average_moving_range == six(4.428571)
    assert (unscreened.parts[0].lower, unscreened.parts[0].upper) == (
        six(-3.278116),
        six(20.278116),
    )


def test_a_baseline_without_variation_keeps_limits_on_the_centre_line() -> None:
    result = control_chart(series(4, 4, 4, 4, 4, 4, 5), "i", freeze=6)
    summary = result.parts[0]
    assert (summary.centre, summary.lower, summary.upper) == (4, 4, 4)
    assert result.sentences == ("point above the upper limit on 2026-07-01 (value 5, limit 4)",)


def test_i_chart_moving_ranges_bridge_an_excluded_point_but_not_a_missing_one() -> None:
    bridged = control_chart(exclude(series(1, 2, 4, 7, 11), 2, "pilot unit"), "i")
    # values used 1, 2, 7, 11: ranges 1, 5, 4 -> MR-bar 10/3; mean 5.25
    assert bridged.parts[0].average_moving_range == six(3.333333)
    assert (bridged.parts[0].lower, bridged.parts[0].upper) == (six(-3.615248), six(14.115248))
    gap = control_chart(series(1, None, 4, 6, 7), "i")
    # only 4-6 and 6-7 are neighbours: MR-bar 1.5; mean 4.5
    assert gap.parts[0].average_moving_range == 1.5
    assert (gap.parts[0].lower, gap.parts[0].upper) == (six(0.510638), six(8.489362))
    assert gap.points[1].lower == gap.parts[0].lower


def test_the_mr_chart_leaves_out_the_range_into_an_excluded_point_as_qicharts2_does() -> None:
    result = control_chart(exclude(series(1, 2, 4, 7, 11), 2, "pilot unit"), "mr")
    assert [p.value for p in result.points] == [None, 1, 2, 3, 4]
    assert result.parts[0].centre == six(8 / 3)


def test_the_mr_chart_has_no_run_rules() -> None:
    result = control_chart(series(*LOW_THEN_HIGH), "mr", rules="ihi")
    assert set(kinds(result)) == {BEYOND_LIMITS}
    assert result.parts[0].useful_points == 0


def test_a_point_above_the_upper_limit_is_a_signal_explained_in_words() -> None:
    # baseline mean 11, MR-bar 15/8: upper limit 11 + 3 * 1.875 / 1.128 = 15.9867
    result = control_chart(STABLE_THEN_30, "i", freeze=9)
    (signal,) = result.signals
    assert (signal.kind, signal.rule, signal.first, signal.direction) == (
        BEYOND_LIMITS,
        "shewhart",
        9,
        "above",
    )
    assert signal.sentence == "point above the upper limit on 2026-10-01 (value 30, limit 15.99)"
    assert result.points[9].signal_kinds == (BEYOND_LIMITS,)


def test_an_excluded_point_beyond_the_limits_is_still_flagged_and_says_why_it_was_excluded() -> (
    None
):
    points = exclude(STABLE_THEN_30, 9, "a one-off data dump")
    (signal,) = control_chart(points, "i").signals
    assert signal.limit == six(15.986702)
    assert signal.sentence.endswith("; excluded from the calculations: a one-off data dump")


def test_a_point_exactly_on_a_limit_is_not_beyond_it() -> None:
    result = control_chart(series(0, 0, 0, 16), "c")
    # c-bar 4, limits 4 +/- 6 -> 0 and 10; a 0 is not below a lower limit of 0
    assert result.parts[0].lower == 0
    assert [s.first for s in result.signals if s.kind == BEYOND_LIMITS] == [3]


def test_control_charts_use_the_anhoej_rules_against_the_mean() -> None:
    result = control_chart(series(*FOUR_BLOCKS), "c")
    assert result.parts[0].centre == 10.5
    assert kinds(result) == [FEW_CROSSINGS]
    assert result.sentences[0] == "too few crossings: 3 (at least 6 expected for 20 useful points)"


def test_ihi_rules_on_a_control_chart_speak_of_the_centre_line() -> None:
    points = series(1, 1, 9, 1, 9, 9, 9, 5, 9, 9, 9, 1, 1, 1, 1)
    shifts = [s for s in control_chart(points, "c", rules="ihi").signals if s.kind == SHIFT]
    assert shifts[0].sentence.startswith("shift: 6 points above the centre line")


# --- P, U and C charts -----------------------------------------------------------------------


def test_p_chart_centre_is_total_numerator_over_total_denominator_with_limits_per_point() -> None:
    result = control_chart(ratios((2, 10), (5, 20), (1, 5)), "p")
    assert result.parts[0].centre == six(8 / 35)
    assert [p.value for p in result.points] == [0.2, 0.25, 0.2]
    # 8/35 + 3 * sqrt(8/35 * 27/35 / n) for n = 10, 20, 5; the lower limits fall below 0
    assert [p.upper for p in result.points] == [six(0.626935), six(0.510257), six(0.791943)]
    assert [p.lower for p in result.points] == [0, 0, 0]
    assert (result.parts[0].lower, result.parts[0].upper) == (None, None)


def test_p_chart_upper_limit_is_clamped_at_one() -> None:
    result = control_chart(ratios((9, 10), (10, 10), (10, 10)), "p")
    # 29/30 + 3 * sqrt(29/30 * 1/30 / 10) = 1.136961 -> 1
    assert [p.upper for p in result.points] == [1, 1, 1]
    assert result.points[0].lower == six(0.796373)


def test_u_chart_limits_come_from_each_points_exposure_and_the_lower_one_stops_at_zero() -> None:
    result = control_chart(ratios((1, 2), (0, 1), (2, 3)), "u")
    assert result.parts[0].centre == 0.5
    assert [p.upper for p in result.points] == [six(2.0), six(2.621320), six(1.724745)]
    assert [p.lower for p in result.points] == [0, 0, 0]


def test_c_chart_limits_are_the_mean_count_plus_and_minus_three_square_roots() -> None:
    summary = control_chart(series(16, 16, 16), "c").parts[0]
    assert (summary.centre, summary.lower, summary.upper) == (16, 4, 28)
    assert control_chart(series(2, 4, 6), "c").parts[0].lower == 0


def test_a_missing_proportion_has_no_limits_and_does_not_move_the_centre() -> None:
    points = [*ratios((2, 10), (5, 20)), Observation(date(2026, 3, 1))]
    result = control_chart(points, "p")
    assert result.parts[0].centre == six(7 / 30)
    assert (result.points[2].value, result.points[2].lower, result.points[2].upper) == (
        None,
        None,
        None,
    )


def test_a_frozen_p_chart_extends_the_baseline_proportion_to_later_points() -> None:
    result = control_chart(ratios((1, 10), (2, 10), (3, 10), (9, 10)), "p", freeze=3)
    assert [p.centre for p in result.points] == [six(0.2)] * 4
    assert [s.first for s in result.signals] == [3]


def test_limits_are_recalculated_in_each_part() -> None:
    result = control_chart(series(20, 22, 18, 20, 5, 7, 6), "c", parts=[4])
    assert [s.centre for s in result.parts] == [20, 6]
    assert result.points[3].upper == six(20 + 3 * 20**0.5)
    assert result.points[4].upper == six(6 + 3 * 6**0.5)


# --- results as data -------------------------------------------------------------------------


def test_a_chart_of_no_points_is_empty_rather_than_an_error() -> None:
    result = run_chart([])
    assert (result.points, result.signals, result.parts) == ((), (), ())


def test_control_chart_of_kind_run_is_a_run_chart() -> None:
    assert control_chart(series(1, 2, 3), "run") == run_chart(series(1, 2, 3))


def test_labels_may_be_text_periods() -> None:
    points = [
        Observation(f"2026-Q{q}", y) for q, y in zip((1, 2, 3, 4), (5, 6, 5, 30), strict=True)
    ]
    result = control_chart(points, "c")
    assert result.points[0].x == "2026-Q1"
    assert result.sentences == ("point above the upper limit on 2026-Q4 (value 30, limit 21.67)",)


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def month_name(x: date) -> str:
    return f"{MONTH_NAMES[x.month - 1]} {x.year}"


def week_name(x: date) -> str:
    return f"week of {x.day} {MONTH_NAMES[x.month - 1]} {x.year}"


def test_sentences_name_each_period_the_way_the_caller_says_it() -> None:
    points = series(1, 1, 9, 1, 9, 9, 9, 5, 9, 9, 9, 1, 1, 1, 1)
    result = run_chart(points, rules="ihi", period_names=month_name)
    (shift,) = [s for s in result.signals if s.kind == SHIFT]
    assert shift.sentence == "shift: 6 points above the median from May 2026 to November 2026"
    trend = run_chart(series(6, 3, 4, 4, 5, 6, 7, 2, 6, 3), rules="ihi", period_names=month_name)
    assert trend.sentences == ("trend: 5 points going up from February 2026 to July 2026",)


def test_a_named_period_is_in_a_month_and_in_the_week_of_a_day() -> None:
    monthly = control_chart(STABLE_THEN_30, "i", freeze=9, period_names=month_name)
    assert monthly.sentences == (
        "point above the upper limit in October 2026 (value 30, limit 15.99)",)
    weekly = control_chart(STABLE_THEN_30, "i", freeze=9, period_names=week_name)
    assert weekly.sentences == (
        "point above the upper limit in the week of 1 October 2026 (value 30, limit 15.99)",)
    flagged = list(series(5, 6, 5, 40, 6, 5))
    flagged[3] = Observation(flagged[3].x, 40, astronomical=True)
    assert run_chart(flagged, rules="ihi", period_names=week_name).sentences == (
        "astronomical point in the week of 1 April 2026, flagged by a person",)


def test_naming_periods_changes_the_words_and_nothing_else() -> None:
    named = control_chart(STABLE_THEN_30, "i", freeze=9, period_names=month_name)
    plain = control_chart(STABLE_THEN_30, "i", freeze=9)
    assert named.points == plain.points and named.parts == plain.parts
    assert [s.first for s in named.signals] == [s.first for s in plain.signals]
    assert named.sentences != plain.sentences


def test_period_names_must_be_a_function() -> None:
    errors = refusal(run_chart, series(1, 2, 3), period_names="%B %Y")
    assert errors == {"period_names": "must be a function that names a period"}


def test_numbers_in_sentences_keep_four_significant_digits() -> None:
    assert [number_text(v) for v in (0, 30, 26.387553, 0.00183337, 14768.4, -3.2781)] == [
        "0",
        "30",
        "26.39",
        "0.001833",
        "14768",
        "-3.278",
    ]


def test_results_are_immutable() -> None:
    result = run_chart(series(1, 2, 3))
    with pytest.raises(AttributeError):
        result.points[0].centre = 7  # type: ignore[misc]


# --- refused input ---------------------------------------------------------------------------


def refusal(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(ChartInputError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ValidationError)
    return caught.value.errors


def test_a_p_chart_point_needs_a_denominator() -> None:
    errors = refusal(control_chart, [Observation(date(2026, 1, 1), numerator=3)], "p")
    assert errors == {"points[0].denominator": "is required with a numerator"}


def test_a_p_chart_refuses_a_numerator_above_its_denominator() -> None:
    errors = refusal(control_chart, ratios((1, 2), (5, 4)), "p")
    assert errors == {"points[1].numerator": "cannot be greater than the denominator in a p chart"}


@pytest.mark.parametrize("denominator", [0, -5])
def test_zero_or_negative_denominators_are_refused(denominator: int) -> None:
    errors = refusal(control_chart, ratios((0, denominator)), "u")
    assert errors == {"points[0].denominator": "must be greater than 0"}


def test_a_p_chart_plots_numerators_over_denominators_not_y() -> None:
    errors = refusal(control_chart, series(0.2), "p")
    assert "numerator / denominator" in errors["points[0].y"]


def test_y_and_a_ratio_together_are_ambiguous() -> None:
    errors = refusal(run_chart, [Observation(date(2026, 1, 1), 0.5, 1, 2)])
    assert errors == {"points[0]": "give y, or a numerator and a denominator, not both"}


def test_a_c_chart_counts_must_be_whole_events_given_as_y_and_not_negative() -> None:
    assert refusal(control_chart, series(-1), "c") == {"points[0].y": "a count cannot be negative"}
    assert refusal(control_chart, ratios((1, 2)), "c") == {
        "points[0]": "a c chart plots counts: give the count as y"
    }


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "7"])
def test_values_must_be_finite_numbers(bad: object) -> None:
    errors = refusal(run_chart, [Observation(date(2026, 1, 1), bad)])  # type: ignore[arg-type]
    assert list(errors) == ["points[0].y"]


def test_an_excluded_point_must_say_why() -> None:
    errors = refusal(run_chart, [Observation(date(2026, 1, 1), 3, excluded=True)])
    assert errors == {"points[0].reason": "say why the point is excluded"}


@pytest.mark.parametrize("freeze", [0, 4, -1])
def test_a_baseline_cannot_be_frozen_beyond_the_data(freeze: int) -> None:
    errors = refusal(run_chart, series(1, 2, 3), freeze=freeze)
    assert errors == {"freeze": f"must be between 1 and the number of points (3); got {freeze}"}


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([0], "each break must be an index between 1 and 3"),
        ([4], "each break must be an index between 1 and 3"),
        ([2, 1], "breaks must be in increasing order, each once"),
        ([2, 2], "breaks must be in increasing order, each once"),
        (["2"], "must be whole-number point indices"),
    ],
)
def test_part_breaks_must_fall_inside_the_data_in_order(parts: list, message: str) -> None:
    assert refusal(run_chart, series(1, 2, 3, 4), parts=parts) == {"parts": message}


def test_a_frozen_baseline_and_parts_are_not_combined() -> None:
    errors = refusal(run_chart, series(1, 2, 3, 4), freeze=2, parts=[2])
    assert "cannot be combined" in errors["freeze"]


def test_unknown_chart_kinds_and_rule_sets_are_refused() -> None:
    errors = refusal(control_chart, series(1), "xbar", rules="western-electric")
    assert errors == {
        "kind": "must be one of: i, mr, p, u, c",
        "rules": "must be one of: anhoej, ihi",
    }


def test_periods_appear_once_and_dates_in_time_order() -> None:
    day = date(2026, 1, 1)
    assert refusal(run_chart, [Observation(day, 1), Observation(day, 2)]) == {
        "points": "each period (x) may appear only once"
    }
    later = date(2026, 2, 1)
    assert refusal(run_chart, [Observation(later, 1), Observation(day, 2)]) == {
        "points": "must be in time order"
    }
    assert refusal(run_chart, [Observation(day, 1), Observation("2026-02", 2)]) == {
        "points": "x must be all dates or all labels"
    }


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    points = [Observation(date(2026, 1, 1), numerator=3), Observation(date(2026, 2, 1), y=1)]
    errors = refusal(control_chart, points, "p", freeze=9)
    assert set(errors) == {"freeze", "points[0].denominator", "points[1].y"}


def test_a_sentence_writes_values_as_the_caller_says_a_proportion_as_a_percentage():
    points = [Observation(date(2025, m, 1), numerator=n, denominator=40)
              for m, n in enumerate([14, 15, 13, 14, 16, 14, 15, 2, 14, 15], start=1)]
    plain = control_chart(points, "p")
    worded = control_chart(points, "p", value_names=lambda v: f"{v * 100:.1f}%")
    (before,) = [s.sentence for s in plain.signals if s.kind == "beyond_limits"]
    (after,) = [s.sentence for s in worded.signals if s.kind == "beyond_limits"]
    assert "(value 0.05, limit " in before
    assert "(value 5.0%, limit " in after and after.endswith("%)")
    moving = control_chart([Observation(date(2025, m, 1), v) for m, v in
                            enumerate([1, 1, 1, 1, 1, 1, 1, 1, 1, 9], start=1)], "mr",
                           value_names=lambda v: f"{v * 100:.1f}%")
    assert moving.signals
    assert all("%" not in s.sentence for s in moving.signals)  # a moving range stays a number
