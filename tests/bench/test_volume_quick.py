"""The volume suite runs end to end with tiny sizes: every figure present and sane.

It also proves the data it measures is sound: the copied events keep each aggregate's order
(checked while copying) and the views copied with them equal a rebuild from zero, row for row
(checked when the rebuild completes, which it does at these sizes).
"""

from __future__ import annotations

import math
import time

from tests.bench import volume


def test_the_volume_suite_reports_every_figure_with_tiny_sizes() -> None:
    started = time.perf_counter()
    figures = volume.figures(quick=True)
    seconds = time.perf_counter() - started

    names = [f.workload for f in figures]
    expected = ("projection rebuild from zero", "board p99 at", "load an initiative with",
                "the same, the first load in a process", "its state as of any version",
                "server memory at")
    shown = {"the same, the first load in a process"}
    assert [any(n.startswith(e) for n in names) for e in expected] == [True] * len(expected)
    for figure in figures:
        assert math.isfinite(figure.ours) and figure.ours > 0, figure
        assert (figure.passed is None) == (figure.workload in shown), figure  # judged or shown
        assert figure.target, figure
    rebuild = next(f for f in figures if f.workload.startswith("projection rebuild"))
    assert rebuild.baseline and rebuild.baseline > 0
    assert "equal this rebuild row for row" in rebuild.note  # the copied views were checked
    memory = next(f for f in figures if f.workload.startswith("server memory"))
    assert 10 < memory.ours < 2000  # MB: a live Python worker, not a shell or nothing
    assert "pages not 200" not in memory.note
    assert seconds < 60
