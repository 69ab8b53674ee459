"""`make bench`: timed workloads, each set against a floor measured in the same run, same data.

A suite is a module of this package with a `workloads()` function returning `Workload`s; list it
in `SUITES` and `python -m tests.bench` runs it. A workload with a `target_ms` is judged: it
passes when its 95th percentile is under the target, so even the slow request in twenty meets
it. A workload without a target is a floor: the least any code could spend on the same job
(issue 3's floor for a chart is the median of the values and a bare polyline of the points).
Ours / floor says how much we spend beyond that; it tells whether a slow run is the machine
(the floor is slow too) or the code.

Issue 5's workloads are not one call to time but a load (many clients, a million events, a
server's memory): a suite for those has a `figures(context)` function instead, which runs its
loads and returns `Figure`s — our figure, the baseline measured in the same run on the same
machine, and the target — printed as a second table.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import import_module

SUITES = ("tests.bench.charts",)
FIGURE_SUITES: tuple[str, ...] = ("tests.bench.http", "tests.bench.volume")


@dataclass(frozen=True, slots=True)
class Workload:
    """One job to time. `floor` names the floor workload (same suite) it is compared with."""

    name: str
    run: Callable[[], object]
    target_ms: float | None = None
    floor: str | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    workload: Workload
    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def passed(self) -> bool | None:
        """None for a floor (nothing to judge)."""
        target = self.workload.target_ms
        return None if target is None else self.p95_ms < target


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least `share` % at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def measure(workloads: Sequence[Workload], *, warmup: int, repeat: int) -> list[Timing]:
    """Run each workload `warmup` times untimed, then time them in rounds: one run of each per
    round, `repeat` rounds. A burst of load from elsewhere on the machine then falls on the
    workloads and their floors alike, and the ratio between them stays honest."""
    for workload in workloads:
        for _ in range(warmup):
            workload.run()
    gc.collect()  # start from a clean heap, not from the warm-up's garbage
    samples: list[list[float]] = [[] for _ in workloads]
    for _ in range(repeat):
        for workload, taken in zip(workloads, samples, strict=True):
            start = time.perf_counter()
            workload.run()
            taken.append((time.perf_counter() - start) * 1000)
    return [Timing(w, tuple(taken)) for w, taken in zip(workloads, samples, strict=True)]


def load_workloads(suites: Iterable[str] = SUITES) -> list[Workload]:
    workloads: list[Workload] = []
    for suite in suites:
        workloads.extend(import_module(suite).workloads())
    names = [w.name for w in workloads]
    if len(set(names)) != len(names):
        raise ValueError("each workload needs its own name")
    missing = {w.floor for w in workloads if w.floor} - set(names)
    if missing:
        raise ValueError(f"unknown floor(s): {', '.join(sorted(missing))}")
    return workloads


def machine() -> str:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"{cores} CPUs ({usable} usable), {platform.machine()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}"
    )


def table(timings: Sequence[Timing]) -> str:
    """One aligned table: numbers right-aligned, a floor's own row with its verdict blank."""
    by_name = {t.workload.name: t for t in timings}
    header = ("workload", "median ms", "p95 ms", "floor ms", "ours/floor", "target", "result")
    rows = []
    for t in timings:
        floor = by_name.get(t.workload.floor) if t.workload.floor else None
        target = t.workload.target_ms
        rows.append((
            t.workload.name,
            f"{t.median_ms:.2f}",
            f"{t.p95_ms:.2f}",
            f"{floor.median_ms:.2f}" if floor else "",
            f"{t.median_ms / floor.median_ms:.1f}x" if floor and floor.median_ms else "",
            f"< {target:g} ms" if target is not None else "(floor)",
            {True: "PASS", False: "FAIL", None: ""}[t.passed],
        ))
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


# --- figures: loads measured against a baseline --------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the load table.

    `ours` and `baseline` are in `unit`; `higher_is_better` says which way is good (rates: yes,
    latencies and memory: no), so the ratio is always "times better than the baseline" (> 1 =
    better). `passed` is the verdict against the target (None: shown, not judged)."""

    workload: str
    ours: float
    unit: str
    target: str
    passed: bool | None
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or not self.ours:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def figure_table(figures: Sequence[Figure]) -> str:
    """The load table: workload, ours, baseline (and what it is), ratio, target, result."""
    header = ("workload", "ours", "baseline", "ratio", "target", "result")
    rows = []
    for f in figures:
        baseline = ""
        if f.baseline is not None:
            baseline = f"{_number(f.baseline)} {f.unit}"
            if f.baseline_name:
                baseline += f" ({f.baseline_name})"
        rows.append((
            f.workload,
            f"{_number(f.ours)} {f.unit}",
            baseline,
            f"{f.ratio:.2f}x" if f.ratio is not None else "",
            f.target,
            {True: "PASS", False: "FAIL", None: ""}[f.passed],
        ))
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    notes = [f"  {f.workload}: {f.note}" for f in figures if f.note]
    return "\n".join([line(header), rule, *(line(r) for r in rows),
                      *(["", "notes:", *notes] if notes else [])])
