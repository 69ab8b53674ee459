"""What a linked measure showed while a cycle's change was tested: the periods of the test,
the points just before it, and medians that leave out what the team excluded."""

from __future__ import annotations

from datetime import date

from service.cycle_data import cycle_window

TODAY = date(2025, 12, 15)


def points(values: list[float], excluded: dict[int, str] | None = None) -> list[dict]:
    excluded = excluded or {}
    return [{"period": date(2025, m, 1), "value": v, "excluded": excluded.get(m)}
            for m, v in enumerate(values, start=1)]


def test_no_window_until_the_test_has_begun() -> None:
    assert cycle_window(points([1, 2, 3]), "monthly", None, None, TODAY) is None


def test_the_window_runs_from_the_period_the_test_began_to_the_study_day() -> None:
    window = cycle_window(points([4, 4, 4, 4, 4, 4, 4, 8, 9, 7, 9]), "monthly",
                          date(2025, 8, 14), date(2025, 10, 3), TODAY)
    assert window is not None
    assert (window.first, window.last) == (date(2025, 8, 1), date(2025, 10, 3))
    assert [p["period"].month for p in window.during] == [8, 9, 10]
    assert [p["period"].month for p in window.before] == [2, 3, 4, 5, 6, 7]  # the last six
    assert (window.before_median, window.during_median) == (4, 8)


def test_a_test_not_yet_studied_runs_to_today() -> None:
    window = cycle_window(points([4, 4, 8, 9]), "monthly", date(2025, 3, 2), None, TODAY)
    assert window is not None and window.last == TODAY
    assert [p["period"].month for p in window.during] == [3, 4]


def test_excluded_points_are_shown_but_left_out_of_the_medians() -> None:
    window = cycle_window(points([4, 40, 4, 8, 90, 8], {2: "outage", 5: "double count"}),
                          "monthly", date(2025, 4, 1), date(2025, 6, 30), TODAY)
    assert window is not None
    assert [p["period"].month for p in window.during] == [4, 5, 6]  # all shown
    assert (window.before_median, window.during_median) == (4, 8)
