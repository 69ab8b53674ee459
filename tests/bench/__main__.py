"""python -m tests.bench [--repeat N] [--warmup N] [--only TEXT] [--suite NAME] [--quick]:
time every workload and run every load, print their tables, exit 1 when a target is missed."""

from __future__ import annotations

import argparse
import sys
import time
from importlib import import_module

from tests.bench import (
    FIGURE_SUITES,
    Figure,
    figure_table,
    load_workloads,
    machine,
    measure,
    table,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per workload (30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (3)")
    parser.add_argument("--only", default="", help="only workloads whose name contains this "
                        "(their floors are kept); the load suites are then skipped")
    parser.add_argument("--suite", action="append", default=[],
                        help="only this load suite (last part of its module name, e.g. http); "
                        "repeatable; the timed workloads are then skipped")
    parser.add_argument("--quick", action="store_true",
                        help="small loads (a smoke run of the load suites, not a measurement)")
    options = parser.parse_args(argv)
    if options.repeat < 1 or options.warmup < 0:
        parser.error("--repeat must be 1 or more and --warmup 0 or more")
    known = {name.rsplit(".", 1)[-1]: name for name in FIGURE_SUITES}
    unknown = [s for s in options.suite if s not in known]
    if unknown:
        parser.error(f"no load suite named {', '.join(unknown)} (known: {', '.join(known)})")

    workloads = [] if options.suite else load_workloads()
    if options.only:
        chosen = [w for w in workloads if options.only in w.name]
        floors = {w.floor for w in chosen}
        workloads = [w for w in workloads if w in chosen or w.name in floors]
        if not workloads:
            parser.error(f"no workload's name contains {options.only!r}")
    suites = [] if options.only else [known[s] for s in options.suite] or list(FIGURE_SUITES)

    print(f"machine: {machine()}")
    started = time.perf_counter()
    failed: list[str] = []
    if workloads:
        print(f"each workload: {options.warmup} warm-up runs, then {options.repeat} timed runs "
              "(in rounds, one of each per round); judged on its p95")
        print()
        timings = measure(workloads, warmup=options.warmup, repeat=options.repeat)
        print(table(timings))
        failed += [t.workload.name for t in timings if t.passed is False]
        print()
    figures: list[Figure] = []
    for suite in suites:
        print(f"--- {suite}", flush=True)
        figures.extend(import_module(suite).figures(quick=options.quick))
    if figures:
        print()
        print("ratio: times better than the baseline measured in this run (> 1 is better)")
        print(figure_table(figures))
        print()
        failed += [f.workload for f in figures if f.passed is False]
    count = len(workloads) + len(figures)
    print(f"{count} figures in {time.perf_counter() - started:.1f} s: "
          + (f"{len(failed)} missed the target ({', '.join(failed)})" if failed
             else "every target met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
