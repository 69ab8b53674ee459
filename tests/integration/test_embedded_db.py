"""The embedded PostgreSQL launcher and the database fixtures built on it.

The tests that take ``data_dir`` always run their own embedded server; those that take
``pg_server_url`` / ``database_url`` run against ``TEST_DATABASE_URL`` when it is set.
"""

import hashlib
import pathlib
import secrets
import shutil
import socket
import threading
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from service.embedded_db import EmbeddedPostgres, ensure_database, with_database


def fetch_one(url: str, query: str, params: tuple = ()) -> tuple:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def is_up(url: str) -> bool:
    try:
        fetch_one(url, "SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


# -- EmbeddedPostgres ------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: pathlib.Path):
    """An app data folder whose PGDATA (~40 MB) is removed after the test; the log is kept."""
    yield tmp_path
    shutil.rmtree(tmp_path / "pg", ignore_errors=True)


def test_start_listens_on_tcp_localhost_with_durable_settings(data_dir):
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.username, parts.path) == (
            "postgresql", "127.0.0.1", "postgres", "/postgres",
        )  # fmt: skip
        assert server.start() == url  # a second start() changes nothing

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["listen_addresses", "fsync", "synchronous_commit", "unix_socket_directories",
                  "server_encoding", "server_version_num"],),
            ).fetchall()  # fmt: skip
            settings = dict(rows)
            assert conn.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
        assert settings["listen_addresses"] == "127.0.0.1"
        assert settings["fsync"] == "on"
        assert settings["synchronous_commit"] == "on"
        assert settings["unix_socket_directories"] == str(data_dir / "pg")
        assert settings["server_encoding"] == "UTF8"
        assert int(settings["server_version_num"]) >= 180000
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert "ready to accept connections" in (data_dir / "pg.log").read_text()
    finally:
        server.stop()
    assert not is_up(url)
    server.stop()  # idempotent


def test_data_survives_stop_and_start(data_dir):
    with EmbeddedPostgres(data_dir) as server:
        url = server.start()
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    assert server.url is None
    assert not is_up(url)

    with EmbeddedPostgres(data_dir) as again:
        assert again.url is not None
        assert fetch_one(again.url, "SELECT note FROM kept") == ("still here",)


def test_start_reuses_a_running_server_and_leaves_it_running(data_dir):
    first = EmbeddedPostgres(data_dir)
    try:
        url = first.start()
        second = EmbeddedPostgres(data_dir, port=1)  # the running server wins over the port
        assert second.start() == url
        second.stop()  # did not start it: must not stop it
        assert is_up(url)
    finally:
        first.stop()
    assert not is_up(url)


def test_start_on_a_given_port(data_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedPostgres(data_dir, port=port) as server:
        assert server.url == f"postgresql://postgres@127.0.0.1:{port}/postgres"
        assert is_up(server.url)


def test_start_failure_is_a_runtime_error_with_the_log_tail(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedPostgres(data_dir, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="could not bind") as failure:
            server.start()
    assert str(data_dir / "pg.log") in str(failure.value)
    server.stop()  # nothing was started: a no-op


# -- ensure_database and the fixtures --------------------------------------------------------


def test_write_of_two_megabytes_in_one_statement(database_url):
    payload = secrets.token_hex(1_000_000)  # 2,000,000 characters
    result: list[tuple] = []

    def write_and_read() -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute("CREATE TABLE blob (body text)")
            conn.execute("INSERT INTO blob VALUES (%s)", (payload,))
            conn.commit()
            result.append(conn.execute("SELECT length(body), md5(body) FROM blob").fetchone())

    worker = threading.Thread(target=write_and_read, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "a 2 MB write hung"
    assert result == [(len(payload), hashlib.md5(payload.encode()).hexdigest())]


def test_ensure_database_is_idempotent(pg_server_url):
    name = f"cqi_test_ensure_{secrets.token_hex(4)}"
    try:
        url = ensure_database(pg_server_url, name)
        assert ensure_database(pg_server_url, name) == url
        assert urlsplit(url).path == f"/{name}"
        assert fetch_one(url, "SELECT current_database()") == (name,)
        count = "SELECT count(*) FROM pg_database WHERE datname = %s"
        assert fetch_one(pg_server_url, count, (name,)) == (1,)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(drop)


def test_with_database_keeps_the_rest_of_the_url():
    url = "postgresql://cqi:secret@db.example:6543/postgres?sslmode=require"
    assert (
        with_database(url, "cqi") == "postgresql://cqi:secret@db.example:6543/cqi?sslmode=require"
    )
    assert with_database("postgresql://postgres@127.0.0.1:5432", "x") == (
        "postgresql://postgres@127.0.0.1:5432/x"
    )


def test_ensure_database_rejects_bad_names(pg_server_url):
    for bad in ("", "x" * 64):
        with pytest.raises(ValueError):
            ensure_database(pg_server_url, bad)


_fixture_databases: list[str] = []


def test_database_url_is_a_fresh_empty_database(database_url, pg_server_url):
    (name,) = fetch_one(database_url, "SELECT current_database()")
    assert name.startswith("cqi_test_")
    assert name != urlsplit(pg_server_url).path.lstrip("/")
    tables = (
        "SELECT count(*) FROM pg_tables"
        " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    )
    assert fetch_one(database_url, tables) == (0,)
    _fixture_databases.append(name)


def test_database_url_drops_its_database_afterwards(pg_server_url):
    if not _fixture_databases:
        pytest.skip("runs after test_database_url_is_a_fresh_empty_database")
    count = "SELECT count(*) FROM pg_database WHERE datname = %s"
    assert fetch_one(pg_server_url, count, (_fixture_databases[-1],)) == (0,)
