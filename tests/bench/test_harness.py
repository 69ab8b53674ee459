"""The benchmark harness judges, compares and reports (the timings themselves are `make bench`)."""

from __future__ import annotations

import time

import pytest

from tests.bench import Timing, Workload, load_workloads, percentile, table
from tests.bench.__main__ import main


def test_the_95th_percentile_is_the_nearest_rank() -> None:
    samples = list(range(1, 21))  # 1..20: 19 of 20 are at or below 19
    assert percentile(samples, 95) == 19
    assert percentile([3.0], 95) == 3.0


def test_a_workload_passes_only_when_its_p95_is_under_the_target() -> None:
    quick = Timing(Workload("quick", lambda: None, target_ms=50), (10.0,) * 19 + (49.9,))
    slow = Timing(Workload("slow", lambda: None, target_ms=50), (10.0,) * 18 + (50.0, 50.0))
    floor = Timing(Workload("floor", lambda: None), (1.0,))
    assert (quick.passed, slow.passed, floor.passed) == (True, False, None)


def test_the_table_sets_each_workload_against_its_floor() -> None:
    floor = Timing(Workload("floor: values", lambda: None), (0.5,) * 3)
    chart = Timing(Workload("chart", lambda: None, target_ms=50, floor="floor: values"),
                   (10.0,) * 3)
    lines = table([floor, chart]).splitlines()
    assert lines[0].split()[:3] == ["workload", "median", "ms"]
    assert lines[-1].split() == ["chart", "10.00", "10.00", "0.50", "20.0x", "<", "50", "ms",
                                 "PASS"]
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule aligned


def test_the_chart_suite_has_every_kind_each_with_a_floor_and_the_50_ms_target() -> None:
    workloads = load_workloads()
    judged = [w for w in workloads if w.target_ms is not None]
    names = " | ".join(w.name for w in judged)
    for kind in ("Anhøj", "IHI", "I chart", "frozen", "3 parts", "MR", "p chart", "u chart",
                 "c chart"):
        assert kind in names
    assert all(w.target_ms == 50 and w.floor for w in judged)


def test_a_missed_target_makes_the_run_fail(monkeypatch, capsys) -> None:
    def sleepy() -> None:
        time.sleep(0.002)

    monkeypatch.setattr(
        "tests.bench.__main__.load_workloads",
        lambda: [Workload("floor", lambda: None), Workload("sleepy", sleepy, 1, "floor")])
    monkeypatch.setattr("tests.bench.__main__.FIGURE_SUITES", ())  # no minutes-long loads here
    assert main(["--repeat", "3", "--warmup", "0"]) == 1
    out = capsys.readouterr().out
    assert "machine:" in out and "Python" in out
    assert "FAIL" in out and "1 missed the target (sleepy)" in out


def test_asking_for_no_known_workload_is_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--only", "no such workload"])


def test_the_load_table_gives_each_figure_its_baseline_ratio_and_verdict() -> None:
    from tests.bench import Figure, figure_table

    rate = Figure("commands", 1800.0, "/s", ">= 1,500/s", True, baseline=900.0,
                  baseline_name="library default")
    latency = Figure("p99", 20.0, "ms", "<= 50 ms", True, baseline=40.0, higher_is_better=False)
    memory = Figure("rss", 350.0, "MB", "<= 300 MB", False, note="one worker")
    assert (rate.ratio, latency.ratio, memory.ratio) == (2.0, 2.0, None)
    lines = figure_table([rate, latency, memory]).splitlines()
    assert lines[0].split() == ["workload", "ours", "baseline", "ratio", "target", "result"]
    assert "1,800 /s" in lines[2] and "900 /s (library default)" in lines[2]
    assert lines[2].split()[-1] == "PASS" and "2.00x" in lines[2]
    assert lines[4].split()[-1] == "FAIL"
    assert lines[-1] == "  rss: one worker"


def test_the_boards_p99_is_the_median_of_five_rounds_so_one_hiccup_does_not_move_it() -> None:
    from tests.bench.volume import round_p99

    steady = [2.0] * 1000
    hiccup = [2.0] * 1000
    hiccup[500:520] = [9.0] * 20  # twenty slow requests at one moment: one round's p99
    slow_tail = [2.0 if k % 50 else 9.0 for k in range(1000)]  # 2 % slow, in every round
    assert percentile(hiccup, 99) == 9.0  # a plain p99 takes the hiccup for the tail
    assert round_p99(steady) == round_p99(hiccup) == 2.0
    assert round_p99(slow_tail) == 9.0
