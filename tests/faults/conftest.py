"""Fault tests: real server processes on a real PostgreSQL, killed and started again.

The helpers here start `cqi serve` and `cqi projections rebuild` as processes of their own,
seed an agency through the application's commands, and read back what was stored: the events,
the idempotency keys and every view's rows (to compare with a clean rebuild).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from psycopg import sql

from service.application import CQIApplication, eventsourcing_env
from service.idempotency import TABLE
from service.projection_runner import ProjectionRunner, all_projections
from service.security import password_hasher

ROOT = Path(__file__).resolve().parents[2]
EVENTS = f"{CQIApplication.name}_events"
VIEW_TABLES = sorted({table for projection in all_projections() for table in projection.tables})
TRACKING_TABLES = sorted(projection.tracking_table for projection in all_projections())
TEAM_MEMBER_ADDED = "domain.initiative:Initiative.TeamMemberAdded"
OPENED = "domain.initiative:Initiative.Opened"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cqi_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `cqi` process on `database_url` (cheap password hashes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CQI_", "PG", "POSTGRES"))}
    env.update(
        DATABASE_URL=database_url,
        CQI_DATA_DIR=str(data_dir),
        CQI_SECRET_KEY="fault-tests-secret-key",
        CQI_PASSWORD_HASH_COST="fast",
        CQI_DB_POOL_SIZE="8",
        CQI_WORKERS="2",  # two processes: commands race across processes too
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def cqi_process(env: dict[str, str], *args: str,
                log: Path | None = None) -> subprocess.Popen[bytes]:
    """`cqi ARGS` as a child process in a process group of its own (`cqi serve` runs its
    workers as further processes: a kill must reach them too). Output to `log`, or dropped."""
    out: Any = subprocess.DEVNULL
    if log is not None:
        out = log.open("ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        if log is not None:
            out.close()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and everything in its group (by its PID, which is the group's)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def end_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL to its group after `grace` seconds (or at once if it already
    ended: no worker of it may outlive it)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    kill_group(process)


class Server:
    """`cqi serve` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, database_url: str, data_dir: Path, name: str = "server") -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_after = 0.0
        """Seconds from start until the health check first answered 200."""
        self.log = data_dir / f"{name}-{self.port}.log"
        env = cqi_env(database_url, data_dir)
        self.process = cqi_process(env, "serve", "--host", "127.0.0.1", "--port",
                                   str(self.port), log=self.log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def processes(self) -> set[int]:
        """The PIDs of the server and of every worker it runs."""
        main = psutil.Process(self.pid)
        return {self.pid, *(child.pid for child in main.children(recursive=True))}

    def wait_ready(self, timeout: float = 30.0) -> None:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n"
                                   f"{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=2,
                             trust_env=False).status_code == 200:
                    self.ready_after = time.monotonic() - started
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not become healthy in {timeout} s:\n"
                           f"{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL to the server and its workers: no shutdown, no cleanup."""
        kill_group(self.process)

    def stop(self) -> None:
        end_process(self.process)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def running_server(database_url: str, data_dir: Path, name: str = "server") -> Iterator[Server]:
    server = Server(database_url, data_dir, name)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- the agency, seeded through the application's commands -------------------------------


def application(database_url: str, pool_size: int = 4) -> CQIApplication:
    return CQIApplication(env=eventsourcing_env(database_url, pool_size=pool_size))


@dataclass
class Agency:
    """Who writes (bearer headers) and what they write to."""

    member: dict[str, str]
    leader: dict[str, str]
    value_id: str
    initiatives: list[str] = field(default_factory=list)


def seeded_agency(database_url: str, initiatives: int = 1) -> Agency:
    """The agency written through an application opened for it alone, then closed."""
    app = application(database_url)
    try:
        return seed_agency(app, initiatives)
    finally:
        app.close()


def seed_agency(app: CQIApplication, initiatives: int = 1) -> Agency:
    fast_hash = password_hasher("fast").hash("correct horse battery")
    headers = {}
    for role in ("member", "leader"):
        login = f"{role}-{secrets.token_hex(3)}"
        account = app.register_account(actor="test", login=login, display_name=login,
                                       role=role, password_hash=fast_hash).id
        token = app.issue_token(account, actor="test").detail
        headers[role] = {"Authorization": f"Bearer {token}"}
    value_id = app.add_value(actor="test", name="Family engagement",
                             description="Families are partners").detail
    agency = Agency(headers["member"], headers["leader"], value_id)
    for number in range(initiatives):
        agency.initiatives.append(str(app.open_initiative(
            actor="test", title=f"Families at the table {number}",
            problem="Families do not feel heard in case planning",
            aim="80% of families report feeling included by June", value_ids=[value_id]).id))
    return agency


@dataclass
class Command:
    """One write a client wants done exactly once: sent with its own Idempotency-Key, and
    sent again with the same key (and byte for byte the same body) until acknowledged."""

    marker: str
    path: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    attempts: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    answer: dict[str, Any] | None = None
    acknowledged_at: float | None = None
    """time.monotonic() when the first 2xx came back."""

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    async def send(self, client: httpx.AsyncClient, headers: dict[str, str],
                   timeout: float = 5.0) -> bool:
        """One attempt; True once acknowledged (a 2xx)."""
        self.attempts += 1
        try:
            response = await client.post(self.path, json=self.body, timeout=timeout,
                                         headers={**headers, "Idempotency-Key": self.key})
        except httpx.TransportError as error:  # refused, reset, timed out: not acknowledged
            self.outcomes[type(error).__name__] += 1
            return False
        self.outcomes[str(response.status_code)] += 1
        if response.is_success:
            self.answer = response.json()
            self.acknowledged_at = time.monotonic()
            return True
        return False


def outcomes(commands: list[Command]) -> dict[str, int]:
    """How every attempt of every command ended, e.g. {"201": 80, "ConnectError": 12}."""
    total: Counter[str] = Counter()
    for command in commands:
        total.update(command.outcomes)
    return dict(sorted(total.items()))


def new_marker(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def team_member(name: str) -> dict[str, str]:
    return {"name": name, "kind": "stakeholder", "role": "Parent partner"}


# --- what was stored ---------------------------------------------------------------------


def stored_names(database_url: str, topic: str, field_name: str) -> list[tuple[str, str]]:
    """(aggregate id, `field_name` of the event) for every stored event of `topic`."""
    query = sql.SQL("SELECT originator_id, state FROM {} WHERE topic = %s").format(
        sql.Identifier(EVENTS))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(query, (topic,)).fetchall()
    return [(str(originator), json.loads(bytes(state))[field_name]) for originator, state in rows]


def stored_keys(database_url: str) -> Counter[str]:
    """How many idempotency rows each key has (the table is written with the events)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(sql.SQL("SELECT key FROM {}").format(sql.Identifier(TABLE))).fetchall()
    return Counter(key for (key,) in rows)


def version_gaps(database_url: str) -> list[tuple[Any, ...]]:
    """Aggregates whose stored versions are not exactly 1..n."""
    query = sql.SQL(
        "SELECT originator_id, count(*), min(originator_version), max(originator_version) "
        "FROM {} GROUP BY originator_id "
        "HAVING min(originator_version) <> 1 OR max(originator_version) <> count(*)"
    ).format(sql.Identifier(EVENTS))
    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchall()


def head(database_url: str) -> int:
    query = sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
        sql.Identifier(EVENTS))
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def view_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table's rows, sorted (whole rows: some keys span columns)."""
    with psycopg.connect(database_url) as conn:
        return {
            table: sorted(conn.execute(sql.SQL("SELECT * FROM {}").format(
                sql.Identifier(table))).fetchall(), key=repr)
            for table in VIEW_TABLES
        }


def tracking_positions(database_url: str) -> dict[str, int]:
    """Each view's tracking position (0 for a view whose tables do not exist right now)."""
    positions = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in TRACKING_TABLES:
            try:
                row = conn.execute(sql.SQL(
                    "SELECT coalesce(max(notification_id), 0) FROM {} "
                    "WHERE application_name = %s"  # not the library's "__migration__" row
                ).format(sql.Identifier(table)), (CQIApplication.name,)).fetchone()
            except psycopg.errors.UndefinedTable:
                row = (0,)
            positions[table] = int(row[0]) if row else 0
    return positions


def clean_rebuild(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Drop every view, rebuild it from zero in this process, and return its rows.
    Only while no server runs on the database (this ignores the writer lock)."""
    app = application(database_url, pool_size=2)
    try:
        runner = ProjectionRunner(app, batch_size=1000)
        runner.drop_tables()
        runner.create_tables()
        runner.catch_up()
    finally:
        app.close()
    return view_rows(database_url)


def differing_rows(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, str]:
    """Per table, how the two sets of rows differ (empty: row for row the same)."""
    problems = {}
    for table in VIEW_TABLES:
        left, right = before.get(table, []), after.get(table, [])
        if left != right:
            only_left = [r for r in left if r not in right][:3]
            only_right = [r for r in right if r not in left][:3]
            problems[table] = (f"{len(left)} vs {len(right)} rows; only before: {only_left}; "
                               f"only after: {only_right}")
    return problems


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Replicas of `cqi serve` (tests/faults/test_replicas.py `Cluster`), all stopped (by PID)
    at the end."""
    from tests.faults.test_replicas import Cluster

    started = Cluster(database_url, tmp_path)
    try:
        yield started
    finally:
        started.stop()
