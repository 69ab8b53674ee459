"""Issue 5's loads over HTTP: commands, the board page, read-your-writes, one client's commands.

Everything runs against a real server: an embedded PostgreSQL in a temporary folder, data made
through the real app (`cqi user add`, `cqi token create`, then the JSON API with the token), and
`cqi serve` as a subprocess. The load comes from tests.bench.http_load, an asyncio HTTP/1.1
keep-alive client in a process of its own; rates and latency percentiles are the client's.

Baselines, measured in the same run on the same PostgreSQL server and served by the same server
software with the same number of workers (tests.bench.http_serve):
- tests.bench.http_es: the `eventsourcing` library's default path for the same command (a plain
  Application, one save per command, its ProjectionRunner one event per transaction, the
  handler waiting with TrackingRecorder.wait());
- tests.bench.http_page: a minimal Litestar + asyncpg page rendering 50 rows with Jinja;
- tests.bench.http_floor: the command floor, a minimal Litestar + asyncpg app whose PUT appends
  one event row and updates one view row in one durable transaction (no event store, no
  authentication, no views runner), loaded like our commands;
- pgbench: a one-row append, one client.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench import Figure, percentile

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
INITIATIVES = 50
PASSWORD = "bench-load-password-7c1f"  # an account made for this run only, in a temporary folder


@dataclass(frozen=True)
class Sizes:
    """How hard and how long each load runs."""

    writers: int = 32
    readers: int = 64
    shared_aggregates: int = 4
    ryw_clients: int = 4
    warmup_s: float = 2.0
    window_s: float = 10.0
    short_window_s: float = 5.0
    pgbench_s: int = 5
    workers: int | None = None
    """Server workers: None for what `cqi serve` uses by default (one per CPU core)."""


FULL = Sizes()
QUICK = Sizes(writers=4, readers=4, shared_aggregates=2, ryw_clients=2, warmup_s=0.1,
              window_s=1.0, short_window_s=1.0, pgbench_s=1, workers=1)


_STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"  [http {time.monotonic() - _STARTED:5.1f} s] {text}", flush=True)


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(args: Sequence[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A subprocess for the duration of the block; stopped (by its PID, then its children's
    PIDs) however the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(list(args), env=env, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for child in children:  # workers that outlived their parent
        with suppress(psutil.Error):
            child.wait(5)
        with suppress(psutil.Error):
            if child.is_running():
                child.kill()


def wait_until_up(port: int, path: str, process: subprocess.Popen, log: Path,
                  timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
                if reply.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer on port {port} within {timeout} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def call(port: int, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method,
        headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            text = reply.read()
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None
    return json.loads(text) if text else None


def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run tests.bench.http_load in its own process; its JSON result."""
    done = subprocess.run([PYTHON, "-m", "tests.bench.http_load"], input=json.dumps(spec),
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          timeout=spec.get("warmup_s", 0) + spec["duration_s"] + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if result["errors"]:
        say(f"  {result['errors']} errors, e.g. {result['error_samples'][:2]}")
    return result


def summary(result: dict[str, Any], what: str = "latencies_ms") -> str:
    samples = result[what]
    if not samples:
        return "no samples"
    return (f"p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms")


def p(result: dict[str, Any], share: float, what: str = "latencies_ms") -> float:
    samples = result[what]
    return percentile(samples, share) if samples else float("inf")


# --- the suite ------------------------------------------------------------------------------


def figures(quick: bool = False) -> list[Figure]:
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="cqi-bench-http-") as folder:
        return Run(Path(folder), sizes).figures()


class Run:
    def __init__(self, folder: Path, sizes: Sizes) -> None:
        self.folder = folder
        self.sizes = sizes
        self.results: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, str] = {}

    def figures(self) -> list[Figure]:
        from service.embedded_db import EmbeddedPostgres, ensure_database

        server = EmbeddedPostgres(self.folder / "db")
        say("starting an embedded PostgreSQL")
        try:
            url = server.start()
            self.cqi_url = ensure_database(url, "cqi")
            self.baseline_url = ensure_database(url, "baseline")
            self.port_pg = int(url.rsplit(":", 1)[1].split("/")[0])
            self.workers, self.workers_flag = serve_workers()
            if self.workers_flag and self.sizes.workers:
                self.workers = self.sizes.workers
            say(f"servers run {self.workers} worker(s) each")
            with ExitStack() as processes:
                # The baselines start while ours is set up and measured (they sit idle
                # meanwhile): the run stays short.
                self.start_baselines(processes)
                self.ours()
                self.library_baseline()
                self.page_baseline()
                self.floor_baseline()
            self.pgbench()
        finally:
            say("stopping PostgreSQL")
            server.stop()
        return self.build()

    def start_baselines(self, processes: ExitStack) -> None:
        import psycopg

        from tests.bench import http_floor, http_page

        with psycopg.connect(self.baseline_url, autocommit=True) as conn:
            conn.execute(http_page.DDL)
            conn.execute(http_floor.DDL)
        env = self.baseline_env()
        self.es_log = self.folder / "baseline-es.log"
        self.es_runner = processes.enter_context(
            running([PYTHON, "-m", "tests.bench.http_es"], env, self.es_log))
        self.es_port = free_port()
        self.es_server: subprocess.Popen | None = None
        self.es_serve = [PYTHON, "-m", "tests.bench.http_serve", "tests.bench.http_es:app",
                         "--port", str(self.es_port), "--workers", str(self.workers)]
        self.page_port = free_port()
        self.page_log = self.folder / "baseline-page.log"
        self.page_server = processes.enter_context(running(
            [PYTHON, "-m", "tests.bench.http_serve", "tests.bench.http_page:app",
             "--port", str(self.page_port), "--workers", str(self.workers)], env,
            self.page_log))
        self.floor_port = free_port()
        self.floor_log = self.folder / "baseline-floor.log"
        self.floor_server = processes.enter_context(running(
            [PYTHON, "-m", "tests.bench.http_serve", "tests.bench.http_floor:app",
             "--port", str(self.floor_port), "--workers", str(self.workers)], env,
            self.floor_log))
        self.processes = processes

    def start_library_server(self) -> None:
        """After the library's runner has made its tables (the two would race to make them)."""
        deadline = time.monotonic() + 60
        while "projection runner ready" not in tail(self.es_log):
            if self.es_runner.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the library's projection runner did not start:\n"
                                   f"{tail(self.es_log)}")
            time.sleep(0.1)
        self.es_server = self.processes.enter_context(
            running(self.es_serve, self.baseline_env(), self.es_log))

    # --- ours ---------------------------------------------------------------------------

    def cqi_env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.cqi_url,
                "CQI_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
                "CQI_DATA_DIR": str(self.folder / "data"), "CQI_PASSWORD_HASH_COST": "fast"}

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([PYTHON, "-m", "service.cli", *args], input=stdin,
                              capture_output=True, text=True, cwd=ROOT, env=self.cqi_env(),
                              check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"cqi {' '.join(args)} failed: {done.stderr[-1000:]}")
        return done.stdout

    def ours(self) -> None:
        sizes = self.sizes
        say("creating an account (cqi user add)")
        self.cli("user", "add", "bench", "--role", "leader", "--name", "Bench",
                 stdin=PASSWORD + "\n")
        self.start_library_server()
        port = free_port()
        log = self.folder / "cqi-serve.log"
        args = [PYTHON, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if self.workers_flag:
            args += ["--workers", str(self.workers)]
        say(f"starting cqi serve on port {port}; meanwhile a token (cqi token create)")
        with running(args, self.cqi_env(), log) as process:
            # The store's tables exist (user add made them): the token can be made meanwhile.
            token = self.cli("token", "create", "bench", "--label", "bench").strip()
            auth = {"Authorization": f"Bearer {token.splitlines()[0]}"}
            wait_until_up(port, "/api/v1/health", process, log)
            say(f"creating {INITIATIVES} initiatives through the API")
            call(port, "PUT", "/api/v1/mission", {"mission": "Keep children safe.",
                                                  "vision": "Every child thrives."}, auth)
            value = call(port, "POST", "/api/v1/values", {"name": "Safety"}, auth)
            value_id = value["id"]
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                ids = [created["id"] for created in pool.map(
                    lambda k: call(port, "POST", "/api/v1/initiatives", {
                        "title": f"Initiative {k}", "problem": "Visits are late.",
                        "aim": "Visit within 24 hours.", "value_ids": [value_id]}, auth),
                    range(INITIATIVES))]
            body = json.dumps({"title": "Initiative @I@, revision @N@",
                               "problem": "Visits are late.", "aim": "Visit within 24 hours.",
                               "value_ids": [value_id]})
            self.command_body = body

            def charter_revisions(targets: Sequence[str]) -> list[dict[str, Any]]:
                return [{"method": "PUT", "path": f"/api/v1/initiatives/{i}", "key": i,
                         "headers": {**auth, "Content-Type": "application/json"},
                         "body": body} for i in targets]

            visible = {"dsn": self.cqi_url, "sql": (
                "SELECT EXISTS (SELECT 1 FROM cycle_board_v1 WHERE initiative_id::text = $1"
                " AND title = $2)")}
            self.commands("ours", port, charter_revisions(ids[:sizes.writers]),
                          charter_revisions(ids[:sizes.shared_aggregates]), visible)
            say(f"board page, {sizes.readers} connections")
            self.results["ours board"] = load(self.spec(
                port, sizes.readers, [{"method": "GET", "path": "/board", "headers": auth}]))
            say(f"  {self.results['ours board']['rate']:,.0f} req/s, "
                f"{summary(self.results['ours board'])}")
            self.board_rows = board_rows(self.cqi_url)

    def spec(self, port: int, connections: int, requests: list[dict[str, Any]],
             window: float | None = None, **extra: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": port, "connections": connections,
                "warmup_s": self.sizes.warmup_s,
                "duration_s": window if window is not None else self.sizes.window_s,
                "requests": requests, **extra}

    def commands(self, who: str, port: int, separate: list[dict[str, Any]],
                 shared: list[dict[str, Any]] | None, visible: dict[str, str]) -> None:
        sizes = self.sizes
        say(f"{who}: commands, {sizes.writers} clients, one aggregate each")
        self.results[f"{who} commands"] = result = load(self.spec(port, sizes.writers, separate))
        say(f"  {result['rate']:,.0f} commands/s, {summary(result)}, {result['errors']} errors")
        if shared is not None:
            say(f"{who}: commands, {sizes.writers} clients sharing {len(shared)} aggregates")
            self.results[f"{who} shared"] = result = load(self.spec(
                port, sizes.writers, shared, sizes.short_window_s))
            say(f"  {result['rate']:,.0f} commands/s, {summary(result)}, "
                f"{result['errors']} errors")
        say(f"{who}: read-your-writes, {sizes.ryw_clients} clients polling the view")
        self.results[f"{who} ryw"] = result = load(self.spec(
            port, sizes.ryw_clients, separate, sizes.short_window_s, visible=visible))
        say(f"  acknowledged -> visible {summary(result, 'visible_ms')}; sent -> visible "
            f"{summary(result, 'sent_to_visible_ms')}")
        say(f"{who}: one client, sequential commands")
        self.results[f"{who} one"] = result = load(self.spec(
            port, 1, separate[:1], sizes.short_window_s))
        say(f"  {result['rate']:,.0f} commands/s, {summary(result)}")

    # --- baselines ----------------------------------------------------------------------

    def baseline_env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.baseline_url}

    def library_baseline(self) -> None:
        say("library baseline: the library's ProjectionRunner and its server")
        if self.es_server is None:
            self.start_library_server()
        assert self.es_server is not None
        port = self.es_port
        wait_until_up(port, "/charters", self.es_server, self.es_log)
        count = max(self.sizes.writers, self.sizes.ryw_clients)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = [r["id"] for r in pool.map(
                lambda k: call(port, "POST", "/charters", {"title": f"Charter {k}"}),
                range(count))]
        headers = {"Content-Type": "application/json"}
        body = json.dumps({"title": "Initiative @I@, revision @N@"})
        requests = [{"method": "PUT", "path": f"/charters/{i}", "key": i,
                     "headers": headers, "body": body} for i in ids]
        visible = {"dsn": self.baseline_url, "sql": (
            "SELECT EXISTS (SELECT 1 FROM charter_view WHERE id::text = $1 AND title = $2)")}
        self.commands("library", port, requests, None, visible)

    def page_baseline(self) -> None:
        import psycopg

        from tests.bench.http_page import TABLE

        with psycopg.connect(self.baseline_url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {TABLE}")
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {TABLE} (id, title, status, cycle_number, phase, value_name,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", self.board_rows)
        port = self.page_port
        say(f"page baseline: {len(self.board_rows)} rows, {self.sizes.readers} connections")
        wait_until_up(port, "/board", self.page_server, self.page_log)
        self.results["page"] = result = load(self.spec(
            port, self.sizes.readers, [{"method": "GET", "path": "/board"}]))
        say(f"  {result['rate']:,.0f} req/s, {summary(result)}")

    def floor_baseline(self) -> None:
        import uuid

        import psycopg

        from tests.bench import http_floor

        ids = [uuid.uuid4() for _ in range(self.sizes.writers)]
        with psycopg.connect(self.baseline_url, autocommit=True) as conn:
            http_floor.seed(conn, ids)
        port = self.floor_port
        say(f"command floor: {self.sizes.writers} clients, one aggregate each")
        wait_until_up(port, "/", self.floor_server, self.floor_log)
        headers = {"Content-Type": "application/json"}
        requests = [{"method": "PUT", "path": f"/charters/{i}", "key": str(i),
                     "headers": headers, "body": self.command_body} for i in ids]
        self.results["floor"] = result = load(self.spec(port, self.sizes.writers, requests))
        with psycopg.connect(self.baseline_url) as conn:
            events, body_bytes = conn.execute(
                f"SELECT count(*), avg(octet_length(body)) FROM {http_floor.EVENTS}").fetchone()
        self.floor_events = (int(events), float(body_bytes or 0))
        say(f"  {result['rate']:,.0f} commands/s, {summary(result)}, {result['errors']} errors; "
            f"{events:,} events stored")

    def pgbench(self) -> None:
        program = shutil.which("pgbench")
        if program is None:
            self.notes["pgbench"] = "pgbench is not installed: no baseline for one client"
            say("pgbench is missing: that baseline is left out")
            return
        import psycopg

        with psycopg.connect(self.baseline_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS pgbench_append (id bigserial PRIMARY KEY,"
                         " v double precision NOT NULL, at timestamptz NOT NULL DEFAULT now())")
        script = self.folder / "append.sql"
        script.write_text("INSERT INTO pgbench_append (v) VALUES (random());\n")
        say(f"pgbench: one-row append, one client, {self.sizes.pgbench_s} s")
        done = subprocess.run(
            [program, "-n", "-c", "1", "-T", str(self.sizes.pgbench_s), "-f", str(script),
             "-h", "127.0.0.1", "-p", str(self.port_pg), "-U", "postgres", "baseline"],
            capture_output=True, text=True, check=False, timeout=self.sizes.pgbench_s + 60,
            env={**os.environ, "PGPASSWORD": ""})
        tps = [line for line in done.stdout.splitlines() if line.startswith("tps = ")]
        if done.returncode != 0 or not tps:
            self.notes["pgbench"] = f"pgbench failed: {(done.stderr or done.stdout)[-300:]}"
            say(self.notes["pgbench"])
            return
        self.results["pgbench"] = {"rate": float(tps[0].split()[2])}
        say(f"  {self.results['pgbench']['rate']:,.0f} appends/s")

    # --- the figures --------------------------------------------------------------------

    def build(self) -> list[Figure]:
        r = self.results
        ours, lib = r["ours commands"], r["library commands"]
        workers = f"{self.workers} worker(s) per server"
        command = ("PUT /api/v1/initiatives/{id} (revise charter, JSON API with a bearer "
                   "token; the server answers once the views have the event)")
        floor = r["floor"]
        events, body = self.floor_events
        figures = [
            Figure(
                f"commands over HTTP, {self.sizes.writers} clients", ours["rate"], "cmd/s",
                "≥ 1,500 cmd/s, p99 ≤ 50 ms, 0 errors",
                ours["rate"] >= 1500 and p(ours, 99) <= 50 and ours["errors"] == 0,
                baseline=floor["rate"], baseline_name="command floor",
                note=f"{command}, one initiative per client; {summary(ours)}, "
                     f"{ours['errors']} errors; {workers}; baseline: the command floor below"),
            Figure(
                "command floor: one durable insert + one view update per request "
                f"(Litestar+asyncpg), {self.sizes.writers} clients", floor["rate"], "cmd/s",
                "(shown)", None,
                note=f"tests/bench/http_floor.py: PUT /charters/{{id}} with our command's body, "
                     f"one aggregate per client; in one transaction (synchronous_commit on) "
                     f"UPDATE the view row (title, version + 1) and INSERT one event row "
                     f"(id, version, topic, {body:.0f} bytes of JSON), then "
                     f"{{\"version\": n}}; no event store, no authentication, no views runner; "
                     f"{summary(floor)}, {floor['errors']} errors; {events:,} events "
                     f"stored (warm-up included); {workers}"),
        ]
        if "ours shared" in r:
            shared = r["ours shared"]
            figures.append(Figure(
                f"commands, {self.sizes.writers} clients on {self.sizes.shared_aggregates} "
                "initiatives", shared["rate"], "cmd/s", "(shown)", None,
                note=f"same command, clients sharing aggregates (no If-Match: the app "
                     f"retries); {summary(shared)}, {shared['errors']} errors"))
        figures.append(Figure(
            "commands vs the library's default path", ours["rate"], "cmd/s", "≥ 1.7x",
            ours["rate"] >= 1.7 * lib["rate"], baseline=lib["rate"], baseline_name="library",
            note=f"baseline: tests/bench/http_es.py, a plain eventsourcing Application "
                 f"(defaults: JSON mapper, no snapshots, one save per command) behind Litestar; "
                 f"its ProjectionRunner (one event per transaction, own process) keeps a view; "
                 f"the handler returns after TrackingRecorder.wait() (polls 100 -> 800 ms). "
                 f"Ours {summary(ours)}; library {summary(lib)}, {lib['errors']} errors"))
        board, page = r["ours board"], r["page"]
        figures.append(Figure(
            f"board page (50 rows) at {self.sizes.readers} connections", board["rate"], "req/s",
            "≥ 1.5x baseline, p99 ≤ 100 ms",
            board["rate"] >= 1.5 * page["rate"] and p(board, 99) <= 100
            and board["errors"] == 0,
            baseline=page["rate"], baseline_name="Litestar+asyncpg",
            note=f"GET /board with a bearer token (the page a signed-in user sees; "
                 f"{len(self.board_rows)} rows from cycle_board_v1); ours {summary(board)}, "
                 f"{board['mean_body_bytes']:,.0f} bytes, {board['errors']} errors; baseline "
                 f"(tests/bench/http_page.py: one query, Jinja) {summary(page)}, "
                 f"{page['mean_body_bytes']:,.0f} bytes"))
        ryw, lib_ryw = r["ours ryw"], r["library ryw"]
        for share, target in ((50, 10), (99, 50)):
            figures.append(Figure(
                f"read-your-writes p{share} (ack -> visible)", p(ryw, share, "visible_ms"), "ms",
                f"≤ {target} ms",
                p(ryw, share, "visible_ms") <= target and ryw["errors"] == 0,
                baseline=p(lib_ryw, share, "visible_ms"), baseline_name="library",
                higher_is_better=False,
                note=f"{self.sizes.ryw_clients} clients; after each acknowledged charter "
                     "revision the client polls the view table with asyncpg until it shows the "
                     "new title. Both servers answer only once their view has the event, so "
                     "this is ~one query. Sent -> visible: ours "
                     f"{summary(ryw, 'sent_to_visible_ms')}, library "
                     f"{summary(lib_ryw, 'sent_to_visible_ms')}"
                     if share == 50 else ""))
        one = r["ours one"]
        bench = r.get("pgbench")
        figures.append(Figure(
            "one command, one client", one["rate"], "cmd/s", "(shown)", None,
            baseline=bench["rate"] if bench else None,
            baseline_name="pgbench one-row append" if bench else "",
            note=f"sequential charter revisions, {summary(one)}; library's default path: "
                 f"{r['library one']['rate']:,.0f} cmd/s"
                 + (f"; {self.notes['pgbench']}" if "pgbench" in self.notes else "")))
        return figures


def serve_workers() -> tuple[int, bool]:
    """The worker count `cqi serve` uses (and whether it takes --workers)."""
    done = subprocess.run([PYTHON, "-m", "service.cli", "serve", "--help"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    if "--workers" in done.stdout:
        return os.cpu_count() or 1, True
    return 1, False


def board_rows(database_url: str) -> list[tuple[Any, ...]]:
    """Our board's rows, for the baseline page to render the same data."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT b.initiative_id, b.title, b.status, b.cycle_number, b.phase, v.name,"
            " b.updated_at FROM cycle_board_v1 b LEFT JOIN value_names_v1 v"
            " ON v.value_id = b.cycle_value_id").fetchall()

