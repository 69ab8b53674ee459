"""Charts checked against published numbers: qicharts2's own output and vignette, Montgomery's
textbook examples, and the critical values behind the Anhøj and IHI run rules."""

from __future__ import annotations

from datetime import date

import pytest

from domain.spc import (
    BEYOND_LIMITS,
    LONG_RUN,
    Observation,
    control_chart,
    crossings_limit,
    longest_run_limit,
    run_chart,
    runs_limits,
)


def close(value: float) -> object:
    """qicharts2's numbers were printed with 17 significant digits; agree to 1e-9, relatively."""
    return pytest.approx(value, rel=1e-9)


def printed(value: float, decimals: int = 2) -> object:
    """A textbook prints its limits rounded; agree to the last printed digit."""
    return pytest.approx(value, abs=0.5 * 10**-decimals + 1e-12)


def monthly(values: list[float], start: date) -> list[Observation]:
    return [
        Observation(
            date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1), v
        )
        for k, v in enumerate(values)
    ]


def numbered(values: list[float]) -> list[Observation]:
    return [Observation(str(k + 1), v) for k, v in enumerate(values)]


def beyond(result) -> list[int]:
    """1-based numbers of the points beyond the limits, as the books count them."""
    return [s.first + 1 for s in result.signals if s.kind == BEYOND_LIMITS]


# --- qicharts2 0.8.1 output ------------------------------------------------------------------
# Datasets `cdi`, `nhs_accidents` and `cabg` ship with qicharts2. The expected numbers are
# qicharts2 0.8.1's own `qic(..., return.data = TRUE)` output, as recorded in the fixture
# test/fixtures/qicharts2.ts of the AUS-DOH-Safety-and-Quality/PowerBI-SPC repository (generated
# there by test/fixtures/qicharts2.R). Its "part 18" is qicharts2's `part = 18`, which starts the
# second part at 0-based index 18, our `parts=[18]`. Unless "screened" is named, that fixture ran
# with `options(qic.screenedmr = FALSE)`.

# Hospital acquired Clostridium difficile infections per month, Nov 2012 - Oct 2015.
CDI = [17, 12, 27, 20, 20, 18, 22, 19, 19, 24, 17, 16, 24, 19, 19, 22, 25, 19, 17, 6, 25, 17, 11,
       14, 9, 11, 7, 13, 5, 5, 3, 5, 9, 4, 5, 9]  # fmt: skip
# Risk days per month, the same months.
CDI_DAYS = [
    14768.416666666701, 14460.333333333299, 16176.916666666701, 14226.5, 14816.25,
    14335.291666666701, 14964.541666666701, 14327.875, 13200.583333333299, 13855.625, 13794.5,
    14070.833333333299, 14496.833333333299, 14332.25, 14927, 13362.125, 14058.125,
    14388.083333333299, 14673.416666666701, 14153.541666666701, 13830.708333333299, 14171.375,
    14637.958333333299, 14713.083333333299, 14750.625, 14881.666666666701, 15203.75, 13589.75,
    15111.541666666701, 13729.958333333299, 13879.833333333299, 13895.833333333299,
    13140.666666666701, 13372.916666666701, 13959.375, 14181.333333333299,
]  # fmt: skip
# Patients seen within four hours of arriving at emergency departments, and all patients, by week.
NHS_SEEN = [
    266501, 264225, 276532, 281461, 269071, 261215, 270409, 279778, 270483, 270320,
    267923, 271478, 255353, 256820, 261835, 259144, 255910, 260863, 264465, 260989,
]  # fmt: skip
NHS_ALL = [
    280443, 276823, 291681, 296155, 282343, 275888, 283867, 295251, 284468, 282529,
    279618, 283932, 266629, 268091, 276803, 271578, 266005, 273520, 278574, 273772,
]  # fmt: skip
# Ages of the last 100 patients having coronary artery bypass grafts (tail(cabg$age, 100)).
AGES = [
    70.685, 77.896, 69.715, 66.211, 69.586, 77.074, 67.063, 62.055, 72.490, 61.381,
    75.137, 57.888, 48.953, 65.285, 67.518, 78.099, 67.066, 57.795, 68.921, 69.797,
    65.041, 66.326, 69.614, 74.397, 66.208, 73.458, 79.964, 61.433, 58.847, 70.337,
    71.942, 57.751, 67.321, 73.405, 76.214, 77.701, 48.896, 62.893, 54.704, 65.452,
    64.427, 67.984, 79.910, 66.132, 36.679, 82.956, 67.526, 60.074, 69.953, 65.668,
    72.666, 76.145, 74.466, 85.786, 69.600, 64.592, 75.811, 57.370, 61.200, 72.266,
    64.896, 69.230, 50.800, 71.726, 80.688, 63.827, 72.742, 77.962, 67.449, 7.871,
    73.370, 74.877, 77.540, 61.411, 63.740, 47.310, 71.956, 67.351, 49.301, 53.841,
    68.515, 71.838, 59.153, 64.288, 56.277, 70.101, 73.493, 66.729, 72.556, 58.775,
    61.507, 67.795, 59.515, 66.074, 70.745, 61.277, 46.397, 64.323, 66.649, 75.830,
]  # fmt: skip

NOV_2012 = date(2012, 11, 1)


def cdi_counts() -> list[Observation]:
    return monthly(CDI, NOV_2012)


def cdi_rates() -> list[Observation]:
    return [
        Observation(p.x, numerator=n, denominator=d)
        for p, n, d in zip(cdi_counts(), CDI, CDI_DAYS, strict=True)
    ]


def nhs_weeks() -> list[Observation]:
    return [
        Observation(str(k + 1), numerator=n, denominator=d)
        for k, (n, d) in enumerate(zip(NHS_SEEN, NHS_ALL, strict=True))
    ]


def limits_of(centre: float, lower: float, upper: float) -> tuple[object, object, object]:
    return (close(centre), close(lower), close(upper))


def test_qicharts2_run_chart_medians_whole_frozen_and_in_parts() -> None:
    assert run_chart(cdi_counts()).parts[0].centre == 17
    assert run_chart(cdi_counts(), freeze=18).parts[0].centre == 19
    assert [p.centre for p in run_chart(cdi_counts(), parts=[18]).parts] == [19, 9]


def test_qicharts2_c_chart_of_infections_whole_frozen_and_in_parts() -> None:
    whole = control_chart(cdi_counts(), "c").parts[0]
    assert (whole.centre, whole.lower, whole.upper) == limits_of(
        14.833333333333334, 3.2791133250419904, 26.387553341624677
    )
    frozen = control_chart(cdi_counts(), "c", freeze=18)
    assert (frozen.parts[0].centre, frozen.parts[0].lower, frozen.parts[0].upper) == limits_of(
        19.944444444444443, 6.546683437470179, 33.342205451418707
    )
    split = control_chart(cdi_counts(), "c", parts=[18]).parts
    assert (split[0].centre, split[0].lower, split[0].upper) == limits_of(
        19.944444444444443, 6.546683437470179, 33.342205451418707
    )
    assert (split[1].centre, split[1].lower, split[1].upper) == limits_of(
        9.7222222222222214, 0.36807875528736744, 19.076365689157075
    )


def test_qicharts2_u_chart_of_infection_rates_has_limits_from_each_months_risk_days() -> None:
    result = control_chart(cdi_rates(), "u")
    assert result.parts[0].centre == close(0.0010380231037895133)
    first, smallest, last = result.points[0], result.points[8], result.points[35]
    assert (first.lower, first.upper) == (
        close(0.00024267399952229273),
        close(0.0018333722080567339),
    )
    assert smallest.lower == close(0.00019676704873222055)
    assert last.upper == close(0.0018496683176806236)
    assert first.value == close(0.0011511051173393645)


def test_qicharts2_p_chart_of_patients_seen_within_four_hours() -> None:
    result = control_chart(nhs_weeks(), "p")
    assert result.parts[0].centre == close(0.95289971134419116)
    assert (result.points[0].lower, result.points[0].upper) == (
        close(0.95169956464601502),
        close(0.9540998580423673),
    )
    assert result.points[19].upper == close(0.95411439202011694)
    frozen = control_chart(nhs_weeks(), "p", freeze=10)
    assert frozen.parts[0].centre == close(0.95105964383277042)
    assert frozen.points[0].lower == close(0.94983746040031192)


def test_qicharts2_i_chart_of_the_same_proportions_whole_frozen_and_in_parts() -> None:
    for screen in (True, False):  # no moving range is large enough to be screened out here
        whole = control_chart(nhs_weeks(), "i", screen_moving_ranges=screen).parts[0]
        assert (whole.centre, whole.lower, whole.upper) == limits_of(
            0.95296991067360326, 0.94012535390705687, 0.96581446744014965
        )
    frozen = control_chart(nhs_weeks(), "i", freeze=10, screen_moving_ranges=False).parts[0]
    assert (frozen.centre, frozen.lower, frozen.upper) == limits_of(
        0.95108415145342973, 0.93875978765469181, 0.96340851525216764
    )
    split = control_chart(nhs_weeks(), "i", parts=[10], screen_moving_ranges=False).parts
    assert (split[1].centre, split[1].lower, split[1].upper) == limits_of(
        0.95485566989377668, 0.9404740145558963, 0.96923732523165707
    )


def test_qicharts2_i_chart_of_patient_ages_with_and_without_screened_moving_ranges() -> None:
    unscreened = control_chart(numbered(AGES), "i", screen_moving_ranges=False).parts[0]
    assert (unscreened.centre, unscreened.lower, unscreened.upper) == limits_of(
        66.334549999999993, 38.036006049860298, 94.633093950139681
    )
    screened = control_chart(numbered(AGES), "i").parts[0]
    assert (screened.centre, screened.lower, screened.upper) == limits_of(
        66.334549999999993, 41.898850753546085, 90.770249246453901
    )
    assert screened.moving_ranges_screened_out == 3
    split = control_chart(numbered(AGES), "i", parts=[50], screen_moving_ranges=False).parts
    assert split[1].upper == close(96.501246035605732)


def test_the_mr_chart_centre_is_the_average_moving_range_behind_the_unscreened_i_chart() -> None:
    mr = control_chart(numbered(AGES), "mr").parts[0]
    assert mr.centre == close((94.633093950139681 - 66.33455) * 1.128 / 3)
    assert mr.upper == close(3.267 * mr.centre)


# --- the qicharts2 vignette (vignettes/qicharts2.Rmd) ----------------------------------------


def test_vignette_cdi_baseline_median_is_19_and_a_run_of_15_below_it_shows_the_reduction() -> None:
    result = run_chart(cdi_counts(), freeze=24)
    assert result.parts[0].centre == 19
    (run,) = [s for s in result.signals if s.kind == LONG_RUN]
    assert (run.observed, run.direction) == (15, "below")


def test_vignette_cdi_c_chart_split_at_the_intervention_drops_from_19_to_7_a_month() -> None:
    before, after = control_chart(cdi_counts(), "c", parts=[24]).parts
    assert (round(before.centre), round(after.centre)) == (19, 7)
    # "we in the future should expect between 0 and 15 CDIs per month"
    assert (round(after.lower), round(after.upper)) == (0, 15)


def test_vignette_cabg_ages_two_young_patients_fall_below_the_lower_limit() -> None:
    assert beyond(control_chart(numbered(AGES), "i")) == [45, 70]
    # "The MR chart identifies three unusually large ranges"
    assert beyond(control_chart(numbered(AGES), "mr")) == [46, 70, 71]


def test_vignette_cabg_ages_with_the_two_young_patients_excluded() -> None:
    points = [
        Observation(p.x, p.y, excluded=True, reason="unusually young") if n in (45, 70) else p
        for n, p in enumerate(numbered(AGES), start=1)
    ]
    summary = control_chart(points, "i").parts[0]
    # "expect future patients to be 67 years of age, and patients younger than 43 years or older
    # than 91 years would be unusual"
    assert (round(summary.centre), round(summary.lower), round(summary.upper)) == (67, 43, 91)


def test_vignette_anhoej_limits_for_24_useful_points() -> None:
    # "a run of more than round(log2(24) + 3) = 8 ... fewer than qbinom(0.05, 24 - 1, 0.5) = 8"
    assert (longest_run_limit(24), crossings_limit(24)) == (8, 8)


def test_qicharts_runcharts_vignette_limits_for_22_useful_points() -> None:
    # anhoej/qicharts vignettes/runcharts.Rmd: 22 useful points, predicted longest run 7 and
    # fewest crossings 7.
    assert (longest_run_limit(22), crossings_limit(22)) == (7, 7)


# --- Montgomery, Introduction to Statistical Quality Control, 6th ed. (2009) -----------------


def test_montgomery_example_6_5_i_and_mr_charts_of_loan_processing_costs() -> None:
    costs = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306,
             294, 299, 297, 299, 314, 295, 293, 306, 301, 304]  # fmt: skip
    i_chart = control_chart(numbered(costs), "i").parts[0]
    assert i_chart.centre == printed(300.5, 1)
    assert i_chart.average_moving_range == printed(7.79)
    assert (i_chart.lower, i_chart.upper) == (printed(279.78), printed(321.22))
    mr_chart = control_chart(numbered(costs), "mr").parts[0]
    assert (mr_chart.centre, mr_chart.upper) == (printed(7.79), printed(25.45))


# Example 7.1: orange juice cans, 30 samples of 50, nonconforming cans per sample.
JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
         8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]  # fmt: skip


def juice_samples(*excluded: int) -> list[Observation]:
    return [
        Observation(str(k), numerator=d, denominator=50, excluded=k in excluded,
                    reason="new batch of cardboard" if k == 15 else "inexperienced operator")
        for k, d in enumerate(JUICE, start=1)
    ]  # fmt: skip


def test_montgomery_example_7_1_p_chart_flags_samples_15_and_23() -> None:
    result = control_chart(juice_samples(), "p")
    point = result.points[0]
    assert (point.centre, point.lower, point.upper) == (
        printed(0.2313, 4),
        printed(0.0524, 4),
        printed(0.4102, 4),
    )
    assert beyond(result) == [15, 23]


def test_montgomery_example_7_1_revised_limits_leave_out_the_two_assignable_causes() -> None:
    result = control_chart(juice_samples(15, 23), "p")
    point = result.points[0]
    assert (point.centre, point.lower, point.upper) == (
        printed(0.2150, 4),
        printed(0.0407, 4),
        printed(0.3893, 4),
    )
    # 15 and 23 are still plotted and still beyond the limits; sample 21 (20/50 = 0.40) now
    # exceeds the revised upper limit too, as Montgomery notes (he keeps it, finding no cause).
    assert beyond(result) == [15, 21, 23]


# Example 7.3: nonconformities on 26 samples of 100 printed circuit boards.
BOARDS = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16,
          19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]  # fmt: skip


def test_montgomery_example_7_3_c_chart_and_its_revision_without_samples_6_and_20() -> None:
    first = control_chart(numbered(BOARDS), "c")
    summary = first.parts[0]
    # The book rounds c-bar to 19.85 before adding 3 * sqrt(19.85), so it prints 33.22 where the
    # unrounded 516/26 gives 33.211.
    assert (summary.centre, summary.lower, summary.upper) == (
        printed(19.85),
        printed(6.48),
        pytest.approx(33.22, abs=0.01),
    )
    assert beyond(first) == [6, 20]
    revised_points = [
        Observation(p.x, p.y, excluded=True, reason="assignable cause found") if n in (6, 20) else p
        for n, p in enumerate(numbered(BOARDS), start=1)
    ]
    revised = control_chart(revised_points, "c").parts[0]
    assert (revised.centre, revised.lower, revised.upper) == (
        printed(19.67),
        printed(6.36),
        printed(32.97),
    )


def test_montgomery_example_7_4_u_chart_of_nonconformities_per_computer() -> None:
    counts = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]
    points = [Observation(str(k), numerator=c, denominator=5) for k, c in enumerate(counts, 1)]
    result = control_chart(points, "u")
    point = result.points[0]
    assert (point.centre, point.lower, point.upper) == (printed(1.93), printed(0.07), printed(3.79))
    assert beyond(result) == []


# --- critical values of the run rules --------------------------------------------------------


@pytest.mark.parametrize(
    ("useful", "longest"),
    [(10, 6), (11, 6), (12, 7), (22, 7), (23, 8), (45, 8), (46, 9), (90, 9), (91, 10), (100, 10)],
)
def test_longest_run_limits_match_the_published_table(useful: int, longest: int) -> None:
    # The table of round(log2(n) + 3) for n useful observations, as printed with the Anhøj rules.
    assert longest_run_limit(useful) == longest


@pytest.mark.parametrize(
    ("above", "below", "reject_at_most", "reject_at_least"),
    [(5, 5, 2, 10), (6, 5, 3, 10), (6, 6, 3, 11), (7, 6, 3, 12), (7, 7, 3, 13), (8, 8, 4, 14),
     (9, 9, 5, 15), (10, 10, 6, 16)],
)  # fmt: skip
def test_ihi_runs_limits_match_swed_and_eisenharts_critical_values(
    above: int, below: int, reject_at_most: int, reject_at_least: int
) -> None:
    # Swed & Eisenhart (1943), Ann. Math. Statist. 14:66-87, two-sided 5 % critical values of the
    # number of runs, as reproduced in runs-test tables: randomness is rejected when the runs are
    # at most the first number or at least the second. Ours: fewer than `fewest` or more than
    # `most` runs are a signal.
    assert runs_limits(above + below) == (reject_at_most + 1, reject_at_least - 1)


def test_ihi_runs_limits_for_20_points_from_the_exact_distribution() -> None:
    # 10 above and 10 below: of the C(20, 10) = 184756 orders, 3422 have at most 6 runs (1.85 %)
    # and 9470 at most 7 (5.13 %); by symmetry the same counts have at least 16 and 15 runs.
    assert runs_limits(20) == (7, 15)


@pytest.mark.parametrize("useful", range(10, 101, 2))
def test_ihi_runs_limits_are_symmetric_around_the_expected_number_of_runs(useful: int) -> None:
    fewest, most = runs_limits(useful)  # type: ignore[misc]
    assert fewest + most == useful + 2
