"""`make bench`'s HTTP loads, tiny: the same code end to end (embedded PostgreSQL, `cqi serve`,
the baseline servers, the load generator, pgbench) in well under a minute."""

from __future__ import annotations

import math
import shutil
import time

from tests.bench import http

EXPECTED = (
    "commands over HTTP",
    "command floor: ",
    "commands, ",
    "commands vs the library's default path",
    "board page (50 rows)",
    "read-your-writes p50",
    "read-your-writes p99",
    "one command, one client",
)


def test_the_quick_http_loads_report_every_figure_with_a_positive_value() -> None:
    started = time.monotonic()
    figures = http.figures(quick=True)
    seconds = time.monotonic() - started

    names = [f.workload for f in figures]
    for expected in EXPECTED:
        assert any(name.startswith(expected) for name in names), (expected, names)
    for figure in figures:
        assert math.isfinite(figure.ours) and figure.ours > 0, figure
        if figure.baseline_name:  # a baseline that was measured has a value
            assert figure.baseline is not None and math.isfinite(figure.baseline), figure
            assert figure.baseline > 0, figure
    with_baseline = {f.workload.split(" (")[0] for f in figures if f.baseline is not None}
    assert "commands vs the library's default path" in with_baseline
    assert any(name.startswith("commands over HTTP") for name in with_baseline)
    assert any(name.startswith("board page") for name in with_baseline)
    assert any(name.startswith("read-your-writes") for name in with_baseline)
    one_client = next(f for f in figures if f.workload == "one command, one client")
    if shutil.which("pgbench"):
        assert one_client.baseline is not None and one_client.baseline > 0
    else:
        assert "pgbench" in one_client.note
    assert seconds < 60, f"the quick run took {seconds:.0f} s"
