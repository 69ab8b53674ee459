"""Fixtures shared by all tests.

Databases: ``TEST_DATABASE_URL`` (a server URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres)
names a server to use; without it an embedded PostgreSQL is started once per test session, and
only if a test asks for a database. Each test that does gets a fresh, empty database.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from psycopg import sql

from service import bridge
from service.app import create_app
from service.embedded_db import EmbeddedPostgres, ensure_database
from service.services import Services
from service.settings import Settings

UNIT_TESTS = pathlib.Path(__file__).parent / "unit"


def pytest_configure(config: pytest.Config) -> None:
    """Give each test session a temp folder of its own. pytest's default one is shared by every
    session of this user, and each new session makes its parent private again (0700), which
    locks the embedded PostgreSQL's system user out of a session still running."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="cqi-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_BASETEMP, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_db = "pg_server_url" in getattr(item, "fixturenames", ())
        if uses_db and UNIT_TESTS in item.path.parents:
            raise pytest.UsageError(f"{item.nodeid}: unit tests must not use a database")


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    # Not under pytest's own temp tree: pytest makes that 0700 at each session start, which
    # would lock out the server's system user whenever two test sessions overlap.
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="cqi-test-pg-"))
    # Not durable (no fsync): a test's data need not survive a crash of the machine, and
    # waiting for the disk at each commit was most of the suite's time. The fault test that
    # stops PostgreSQL abruptly starts a durable server of its own.
    with EmbeddedPostgres(data_dir, durable=False) as server:
        assert server.url is not None
        yield server.url
    shutil.rmtree(data_dir / "pg", ignore_errors=True)  # ~40 MB; pg.log stays for post-mortems


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    name = f"cqi_test_{secrets.token_hex(6)}"
    yield ensure_database(pg_server_url, name)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(drop)


# --- app fixtures below ---


class FakeClock:
    """The service's clock in tests: real time unless a test sets it."""

    def __init__(self) -> None:
        self.fixed: datetime.datetime | None = None

    def __call__(self) -> datetime.datetime:
        return self.fixed or datetime.datetime.now(datetime.UTC)

    def set(self, moment: datetime.datetime) -> None:
        self.fixed = moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: pathlib.Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key",
        password_hash_cost="fast",
        pool_size=4,
        allowed_hosts=("testserver.local", "127.0.0.1", "localhost"),
    )


@pytest.fixture
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    started = await Services.start(settings, clock)
    yield started
    await started.stop()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP requests through the whole ASGI app, in the test's own event loop (so that
    concurrent requests really run concurrently). https, so Secure cookies are sent back."""
    app = create_app(services.settings, services=services)
    app.state.services = services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as c:
        yield c


@pytest.fixture
def accounts(services: Services) -> Accounts:
    return Accounts(services)


class Accounts:
    """Makes accounts and bearer tokens through the application's commands."""

    PASSWORD = "correct horse battery"

    def __init__(self, services: Services) -> None:
        self.services = services

    async def add(self, login: str, role: str) -> str:
        password_hash = await self.services.hash_password(self.PASSWORD)
        receipt = await self.services.command(
            self.services.cqi.register_account, actor="test", login=login,
            display_name=login.title(), role=role, password_hash=password_hash)
        return str(receipt.id)

    async def token(self, role: str, login: str | None = None) -> dict[str, str]:
        """Authorization headers of a new account with `role`."""
        login = login or f"{role}-{secrets.token_hex(3)}"
        account_id = await self.add(login, role)
        receipt = await self.services.call(
            self.services.cqi.issue_token, uuid.UUID(account_id), actor="test")
        return {"Authorization": f"Bearer {receipt.detail}"}


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on a free 127.0.0.1 port, in a background thread, serving
    `create_app(settings)`: the app starts (and at the end stops) its own Services in the
    server's event loop. Yields the base URL once GET /api/v1/health answers 200."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_config=None, log_level="warning",
                            lifespan="on", server_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"live-server-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("the live server stopped during start-up; see its log above")
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=2,
                             trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server at {base_url} did not answer in 30 s")
            time.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the live server did not stop within 15 s")


@pytest.fixture(autouse=True)
def no_database_call_on_the_event_loop() -> Iterator[None]:
    """A command that reached the database on the event loop's thread (service/bridge.py)
    fails where it runs; this fails its test too if that failure was caught and answered."""
    before = bridge.refusals
    yield
    assert bridge.refusals == before, (
        "a command took a database connection on the event loop's thread")
