"""`cqi serve` with two workers writes the views from a process of its own: the workers only
serve requests. When that process dies, a worker takes the writer lock over within seconds and
the replica goes on; when the server stops, or is killed, the views process does not outlive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import psutil

from tests.faults.test_replicas import (
    CQI,
    Cluster,
    Replica,
    environment,
    free_port,
    lock_holders,
    within,
)


def start_two_workers(cluster: Cluster, name: str, appname: str | None = None) -> Replica:
    port = free_port()
    log = cluster.tmp_path / f"{name}.log"
    env = environment(cluster.database_url, cluster.tmp_path / name, cluster.secret_key,
                      PGAPPNAME=appname or f"replica-{name}", CQI_WORKERS="2")
    with open(log, "wb") as out:
        process = subprocess.Popen([str(CQI), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    replica = Replica(name, port, process, log)
    cluster.replicas.append(replica)
    cluster.wait_healthy(replica)
    return replica


def views_processes(replica: Replica) -> list[psutil.Process]:
    """The replica's live views processes."""
    found = []
    for process in psutil.Process(replica.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):  # gone, or a zombie not yet reaped
            if process.cmdline()[-4:-2] == ["projections", "run"]:
                found.append(process)
    return found


def holder_names(cluster: Cluster) -> list[str]:
    return [name for _, name in lock_holders(cluster.database_url)]


def all_say_writer(replica: Replica) -> bool:
    """Health answers from the replica (either worker may answer) all say it writes."""
    return all(replica.says_writer() for _ in range(6))


def test_the_views_process_writes_a_worker_takes_over_when_it_dies_and_a_stop_ends_it(
        cluster: Cluster, tmp_path: Path):
    agency = cluster.agency()
    replica = start_two_workers(cluster, "v")
    (views,) = views_processes(replica)
    holders = holder_names(cluster)
    assert len(holders) == 1 and holders[0].startswith("replica-v views "), holders
    name = holders[0]
    within(5, lambda: all_say_writer(replica), "the replica's health says it writes")
    agency.add_value(replica)
    first = agency.open_initiative(replica, "Written while the views process writes")
    assert first in agency.listed(replica)  # read-your-writes through the views process

    ((views_backend, _),) = lock_holders(cluster.database_url)
    views.kill()  # SIGKILL

    def a_worker_holds_it() -> bool:
        holders = lock_holders(cluster.database_url)  # another backend: a worker's
        return len(holders) == 1 and holders[0] != (views_backend, name) and (
            holders[0][1] == name)

    took = within(5, a_worker_holds_it, "a worker holds the lock")
    assert not views.is_running() or views.status() == psutil.STATUS_ZOMBIE
    second = agency.open_initiative(replica, "Written after the views process died")
    assert second in agency.listed(replica)
    within(5, lambda: all_say_writer(replica), "the replica still says it writes")
    print(f"\na worker held the writer lock {took:.3f} s after the views process was killed")

    replica.process.send_signal(signal.SIGTERM)  # as `make run` is stopped
    replica.process.wait(20)
    group = [p for p in psutil.process_iter(["pid"])
             if _group_of(p.pid) == replica.process.pid]
    assert group == [], [p.cmdline() for p in group]
    assert holder_names(cluster) == []


def test_a_views_process_does_not_outlive_a_killed_server(cluster: Cluster):
    replica = start_two_workers(cluster, "k")
    (views,) = views_processes(replica)
    replica.process.send_signal(signal.SIGKILL)  # the server alone, not its group
    replica.process.wait(5)
    within(5, lambda: not views.is_running() or views.status() == psutil.STATUS_ZOMBIE,
           "the views process stops once its server is gone")
    # (the workers left behind are stopped with the rest of the group by the fixture)


def _group_of(pid: int) -> int | None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        return os.getpgid(pid)
    return None


def test_a_long_application_name_still_lets_the_replica_know_it_writes(cluster: Cluster):
    """PostgreSQL keeps 63 bytes of an application name: the views process's name is cut to
    fit before it is used, so the health check still recognises it."""
    replica = start_two_workers(cluster, "long", appname="replica-" + "é" * 70)
    (holder,) = holder_names(cluster)
    assert len(holder.encode()) <= 63 and holder.startswith("replica-??")
    within(5, lambda: all_say_writer(replica), "the replica's health says it writes")
