"""Several `cqi serve` processes against one PostgreSQL database serve the same data; exactly one
of them writes the views, and when it dies (SIGKILL) or loses its lock connection another takes
over within seconds, with no event applied twice or skipped.

Each replica is a real `cqi serve` subprocess; PGAPPNAME names its psycopg connections, so
`pg_locks` joined with `pg_stat_activity` tells which replica holds the projection writer lock.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from service.application import CQIApplication, eventsourcing_env
from service.projection_runner import RUNNER_LOCK_KEY, ProjectionRunner, all_projections

ROOT = Path(__file__).resolve().parents[2]
CQI = Path(sys.executable).with_name("cqi")
PASSWORD = "a long enough password"
VIEW_TABLES = sorted({table for projection in all_projections() for table in projection.tables})
WRITER_HEADER = "cqi-projection-writer"
ROUNDS = 6  # writes through each replica, read back through the other
BURST = 24  # writes through the follower around the moment the writer is killed


def environment(database_url: str, data_dir: Path, secret_key: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CQI_", "PG")) and k != "DATABASE_URL"}
    return {**env, "DATABASE_URL": database_url, "CQI_DATA_DIR": str(data_dir),
            "CQI_SECRET_KEY": secret_key, "CQI_PASSWORD_HASH_COST": "fast",
            "CQI_DB_POOL_SIZE": "4", "CQI_WORKERS": "1", "PYTHONPATH": str(ROOT), **more}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=15,
                                   trust_env=False)

    def health(self) -> httpx.Response:
        return self.client.get("/api/v1/health")

    def says_writer(self) -> bool | None:
        """What the replica's health check says about it writing the views (None: no answer)."""
        try:
            return self.health().headers.get(WRITER_HEADER) == "yes"
        except httpx.TransportError:
            return None

    def kill(self) -> None:
        """SIGKILL to the replica's whole process group (the server and any workers it runs),
        as when its machine or container dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        self.kill()  # whatever is left of its group


class Cluster:
    """The replicas of one test, all stopped (by PID) at the end."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.secret_key = secrets.token_urlsafe(32)  # one key for all: CSRF tokens verify anywhere
        self.replicas: list[Replica] = []

    def env(self, name: str) -> dict[str, str]:
        return environment(self.database_url, self.tmp_path / name, self.secret_key,
                           PGAPPNAME=f"replica-{name}")

    def cqi(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([str(CQI), *args], input=stdin, capture_output=True, text=True,
                              env=self.env("cli"), timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def agency(self) -> Agency:
        """A leader made with `cqi user add`, acting through a `cqi token create` token."""
        self.cqi("user", "add", "director", "--role", "leader", stdin=PASSWORD + "\n")
        return Agency(self.cqi("token", "create", "director").strip())

    def start(self, name: str) -> Replica:
        port = free_port()
        log = self.tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(CQI), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=self.env(name), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: killed as one
        replica = Replica(name, port, process, log)
        self.replicas.append(replica)
        return replica

    def wait_healthy(self, replica: Replica, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            assert replica.process.poll() is None, (
                f"replica {replica.name} exited:\n{replica.log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if replica.health().status_code == 200:
                    return
            assert time.monotonic() < deadline, (
                f"replica {replica.name} not healthy in {seconds} s:\n{replica.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()



def lock_holders(database_url: str) -> list[tuple[int, str]]:
    """(backend pid, application name) of every backend holding the projection writer lock."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute(  # type: ignore[misc]
            "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a"
            " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1", (RUNNER_LOCK_KEY,))]


def elected(cluster: Cluster, *replicas: Replica) -> tuple[Replica, list[Replica]]:
    """Wait until one replica holds the writer lock and says so; (writer, the others)."""
    named = {f"replica-{r.name}": r for r in replicas}
    within(10, lambda: len(lock_holders(cluster.database_url)) == 1, "a writer is elected")
    writer = named[lock_holders(cluster.database_url)[0][1]]
    within(5, lambda: writer.says_writer(), f"{writer.name}'s health says it writes")
    return writer, [r for r in replicas if r is not writer]


def the_writer(database_url: str) -> str:
    """The one replica holding the writer lock; fails if none or several do."""
    holders = lock_holders(database_url)
    assert len(holders) == 1, f"exactly one projection writer expected, got {holders}"
    return holders[0][1].removeprefix("replica-")


def within(seconds: float, condition: Callable[[], object], what: str) -> float:
    """Seconds until `condition()` is true; fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.005)
    return time.monotonic() - started


class Agency:
    """A leader with a bearer token, writing through whichever replica it is given."""

    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.value_id = ""
        self.acknowledged: list[str] = []  # ids of initiatives whose create answered 201
        self._lock = threading.Lock()

    def add_value(self, replica: Replica) -> None:
        response = replica.client.post("/api/v1/values", headers=self.headers,
                                       json={"name": "Family engagement", "description": ""})
        assert response.status_code == 201, response.text
        self.value_id = response.json()["id"]

    def open_initiative(self, replica: Replica, title: str) -> str:
        response = replica.client.post("/api/v1/initiatives", headers=self.headers, json={
            "title": title, "problem": "Families do not feel heard",
            "aim": "8 in 10 families feel heard by June", "value_ids": [self.value_id]})
        assert response.status_code == 201, response.text
        with self._lock:
            self.acknowledged.append(response.json()["id"])
        return response.json()["id"]

    def listed(self, replica: Replica) -> set[str]:
        response = replica.client.get("/api/v1/initiatives", headers=self.headers)
        assert response.status_code == 200, response.text
        return {row["id"] for row in response.json()}


def snapshot(database_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(database_url) as conn:
        return {table: sorted(conn.execute(sql.SQL("SELECT * FROM {}").format(
            sql.Identifier(table))).fetchall(), key=repr) for table in VIEW_TABLES}


def rebuilt_from_zero(database_url: str) -> dict[str, list[tuple]]:
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        runner = ProjectionRunner(app)
        runner.drop_tables()
        runner.create_tables()
        runner.catch_up()
        head = app.recorder.max_notification_id()
        assert set(runner.positions().values()) == {head}
    finally:
        app.close()
    return snapshot(database_url)


def ms(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds) * 1000:.1f} ms, "
            f"max {max(seconds) * 1000:.1f} ms (n={len(seconds)})")


def test_replicas_share_the_data_and_a_killed_writer_is_replaced_within_seconds(
    cluster: Cluster, database_url: str,
):
    a, b = cluster.start("a"), cluster.start("b")  # at once, on a database with no views yet
    agency = cluster.agency()  # while they start
    for replica in (a, b):
        cluster.wait_healthy(replica)

    # exactly one writer, and each replica's health check says which it is
    writer, (follower,) = elected(cluster, a, b)
    writer_name = the_writer(database_url)
    assert (writer.says_writer(), follower.says_writer()) == (True, False)

    # a write through either replica is listed by that replica at once (read-your-writes)
    # and by the other shortly after
    agency.add_value(follower)
    lags: dict[str, list[float]] = {"writer": [], "follower": []}
    commands: dict[str, list[float]] = {"writer": [], "follower": []}
    for round_ in range(ROUNDS):
        for took, other, key in ((follower, writer, "follower"), (writer, follower, "writer")):
            sent = time.monotonic()
            initiative = agency.open_initiative(took, f"Round {round_} through {took.name}")
            commands[key].append(time.monotonic() - sent)
            assert initiative in agency.listed(took), f"{took.name} did not read its own write"
            lags[key].append(within(5, lambda i=initiative, o=other: i in agency.listed(o),
                                    f"{other.name} shows a write made through {took.name}"))
    print(f"\na command (stored, then read-your-writes) through the writer: "
          f"{ms(commands['writer'])}; through the follower: {ms(commands['follower'])}")
    print(f"visible on the writer after a write through the follower: {ms(lags['follower'])}")
    print(f"visible on the follower after a write through the writer: {ms(lags['writer'])}")
    assert the_writer(database_url) == writer_name

    # SIGKILL the writer while writes keep arriving through the follower
    with ThreadPoolExecutor(4) as pool:
        burst = [pool.submit(agency.open_initiative, follower, f"Burst {n}") for n in range(BURST)]
        within(10, lambda: sum(f.done() for f in burst) >= 5, "the burst under way")
        writer.kill()
        killed = time.monotonic()
        holder = within(10, lambda: [n for _, n in lock_holders(database_url)]
                        == [f"replica-{follower.name}"], "the survivor holds the writer lock")
        told = within(10, lambda: follower.says_writer(), "the survivor's health says writer")
        probe = agency.open_initiative(follower, "Written just after the writer died")
        assert probe in agency.listed(follower)  # read-your-writes, now from its own runner
        visible = time.monotonic() - killed
        pending = sum(not f.done() for f in burst)
        for future in burst:
            future.result()  # every write through the survivor was acknowledged
        burst_done = time.monotonic() - killed
    print(f"after SIGKILL of the writer: the survivor holds the lock in {holder:.3f} s, its "
          f"health says so in {holder + told:.3f} s, a write through it is in its views "
          f"{visible:.3f} s after the kill; the burst ({pending} of {BURST} writes still pending "
          f"then) was all acknowledged {burst_done:.3f} s after the kill")
    assert holder < 5 and visible < 10
    assert the_writer(database_url) == follower.name

    # every acknowledged write is listed once; the views equal a rebuild from the events
    listed = follower.client.get("/api/v1/initiatives", headers=agency.headers).json()
    assert sorted(row["id"] for row in listed) == sorted(agency.acknowledged)
    assert len(agency.acknowledged) == ROUNDS * 2 + BURST + 1
    cluster.stop()
    live = snapshot(database_url)
    assert live == rebuilt_from_zero(database_url)


def runner_connection(database_url: str, replica: Replica) -> int:
    """The backend pid of the replica's projection runner connection (the one that holds, or
    keeps asking for, the writer lock)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
            " AND query LIKE 'SELECT pg_try_advisory_lock%%'", (f"replica-{replica.name}",),
        ).fetchall()
    assert len(rows) == 1, rows
    return int(rows[0][0])


def cut(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def healthy_as(replica: Replica, writer: bool) -> bool:
    with contextlib.suppress(httpx.TransportError):
        response = replica.health()
        return response.status_code == 200 and (
            response.headers.get(WRITER_HEADER) == ("yes" if writer else "no"))
    return False


def test_a_replica_that_loses_its_lock_connection_stops_writing_and_recovers_by_itself(
    cluster: Cluster, database_url: str,
):
    a, b = cluster.start("a"), cluster.start("b")
    agency = cluster.agency()
    for replica in (a, b):
        cluster.wait_healthy(replica)
    writer, (follower,) = elected(cluster, a, b)
    agency.add_value(writer)

    # The follower's connection is cut: its health reports the fault while it lasts, then it
    # follows the writer again by itself (and its requests read their own writes again).
    cut(database_url, runner_connection(database_url, follower))
    within(5, lambda: follower.health().status_code == 503, "the follower reports the cut")
    back = within(10, lambda: healthy_as(follower, writer=False), "the follower recovers")
    print(f"\nfollower's runner connection cut: healthy again {back:.3f} s after it said so")
    assert the_writer(database_url) == writer.name
    initiative = agency.open_initiative(follower, "Through the follower after its cut")
    assert initiative in agency.listed(follower)

    # The writer's connection is cut, and with it its lock: the follower takes over; the old
    # writer stops writing, follows, and is healthy again.
    cut(database_url, holder := lock_holders(database_url)[0][0])
    took = within(5, lambda: [n for p, n in lock_holders(database_url) if p != holder]
                  == [f"replica-{follower.name}"], "the follower takes the writer lock")
    steps = within(10, lambda: healthy_as(writer, writer=False), "the old writer follows")
    print(f"writer's runner connection cut: the other replica holds the lock in {took:.3f} s; "
          f"the old writer is a healthy follower {took + steps:.3f} s after the cut")
    assert healthy_as(follower, writer=True)
    assert the_writer(database_url) == follower.name
    for took_it, other in ((writer, follower), (follower, writer)):
        initiative = agency.open_initiative(took_it, f"Through {took_it.name} after the cut")
        assert initiative in agency.listed(took_it)
        within(5, lambda i=initiative, o=other: i in agency.listed(o),
               f"{other.name} shows a write made through {took_it.name}")

    listed = follower.client.get("/api/v1/initiatives", headers=agency.headers).json()
    assert sorted(row["id"] for row in listed) == sorted(agency.acknowledged)
    cluster.stop()
    assert snapshot(database_url) == rebuilt_from_zero(database_url)


def test_the_runner_connection_declares_a_vanished_peer_dead_within_seconds(database_url: str):
    """A writer whose host disappears (no socket is closed) must not keep the lock for the
    two hours of TCP's default keepalive: the server probes the runner's connection."""
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    try:
        with ProjectionRunner(app)._connect() as conn:
            settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in (  # type: ignore[index]
                "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count",
                "tcp_user_timeout")}
    finally:
        app.close()
    assert settings == {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
                        "tcp_keepalives_count": "3", "tcp_user_timeout": "11000"}


def test_a_busy_writer_whose_lock_connection_is_cut_stops_within_a_few_batches(database_url):
    """While events keep coming the writer never waits on its lock connection; it must still
    notice that the connection (and so the lock) is gone, instead of writing on without it."""
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    runner = ProjectionRunner(app)
    batches: list[float] = []
    cut_at: list[float] = []

    def busy_batch() -> int:  # as if a new event were always waiting
        batches.append(time.monotonic())
        if len(batches) == 3:
            for pid, _ in lock_holders(database_url):
                cut(database_url, pid)
            cut_at.append(time.monotonic())
        time.sleep(0.005)
        return 1

    runner.process_batch = busy_batch  # type: ignore[method-assign]
    outcome: list[BaseException] = []

    def serve() -> None:
        try:
            with runner._connect() as conn:
                runner._serve(conn)
        except BaseException as error:  # what ended it is the result
            outcome.append(error)

    thread = threading.Thread(target=serve, daemon=True)
    try:
        thread.start()
        thread.join(3)
    finally:
        runner._stopping.set()
        thread.join(5)
        app.close()
    assert cut_at, "the writer never took the lock"
    assert outcome and isinstance(outcome[0], psycopg.OperationalError), outcome
    after_cut = sum(t > cut_at[0] for t in batches)
    print(f"\nbusy writer whose lock connection was cut: stopped after {after_cut} more batch(es)")
    assert after_cut <= 2


def test_the_writer_tells_the_followers_when_the_views_move_on(database_url):
    """Followers wake on the writer's notification, so a request through a follower that
    waits for its own write is not held up until the follower's next look at the views."""
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    try:
        runner = ProjectionRunner(app)
        runner.create_tables()
        with psycopg.connect(database_url, autocommit=True) as follower:
            follower.execute(sql.SQL("LISTEN {}").format(sql.Identifier(runner.views_channel)))
            receipt = app.add_value(actor="test", name="Child safety", description="")
            assert list(follower.notifies(timeout=0.2)) == []  # stored, not yet in the views
            assert runner.process_batch() > 0
            assert [n.channel for n in follower.notifies(timeout=2, stop_after=1)] == [
                runner.views_channel]
            assert min(runner.positions().values()) >= receipt.notification_id
    finally:
        app.close()


def test_replicas_and_commands_started_together_on_an_empty_database_all_start(
    pg_server_url: str, tmp_path: Path,
):
    """`cqi serve` and the other commands open the application first, which creates the event
    tables; several at once on an empty database must not fail on each other's tables."""
    from service.cli import application
    from service.embedded_db import ensure_database
    from service.settings import Settings

    failures: list[str] = []
    for _ in range(3):
        url = ensure_database(pg_server_url, f"cqi_test_start_{secrets.token_hex(4)}")
        settings = Settings(database_url=url, data_dir=tmp_path)
        barrier = threading.Barrier(4)

        def open_at_once(settings: Settings = settings, barrier: threading.Barrier = barrier):
            barrier.wait()
            try:
                application(settings).close()
            except Exception as error:  # each failure is a finding
                failures.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

        threads = [threading.Thread(target=open_at_once) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(url.rsplit("/", 1)[1])))
    assert failures == []
