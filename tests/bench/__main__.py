"""python -m tests.bench [--repeat N] [--warmup N] [--only TEXT]: time every workload, print one
table, exit 1 when a workload misses its target."""

from __future__ import annotations

import argparse
import sys
import time

from tests.bench import load_workloads, machine, measure, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per workload (30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (3)")
    parser.add_argument("--only", default="", help="only workloads whose name contains this "
                        "(their floors are kept)")
    options = parser.parse_args(argv)
    if options.repeat < 1 or options.warmup < 0:
        parser.error("--repeat must be 1 or more and --warmup 0 or more")

    workloads = load_workloads()
    if options.only:
        chosen = [w for w in workloads if options.only in w.name]
        floors = {w.floor for w in chosen}
        workloads = [w for w in workloads if w in chosen or w.name in floors]
        if not workloads:
            parser.error(f"no workload's name contains {options.only!r}")

    print(f"machine: {machine()}")
    print(f"each workload: {options.warmup} warm-up runs, then {options.repeat} timed runs "
          "(in rounds, one of each per round); judged on its p95")
    print()
    started = time.perf_counter()
    timings = measure(workloads, warmup=options.warmup, repeat=options.repeat)
    print(table(timings))
    failed = [t.workload.name for t in timings if t.passed is False]
    print()
    print(f"{len(timings)} workloads in {time.perf_counter() - started:.1f} s: "
          + (f"{len(failed)} missed the target ({', '.join(failed)})" if failed
             else "every target met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
