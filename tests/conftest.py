"""Fixtures shared by all tests.

Databases: ``TEST_DATABASE_URL`` (a server URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres)
names a server to use; without it an embedded PostgreSQL is started once per test session, and
only if a test asks for a database. Each test that does gets a fresh, empty database.
"""

import os
import pathlib
import secrets
import shutil
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from service.embedded_db import EmbeddedPostgres, ensure_database

UNIT_TESTS = pathlib.Path(__file__).parent / "unit"


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
    data_dir = tmp_path_factory.mktemp("embedded-pg")
    with EmbeddedPostgres(data_dir) as server:
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
