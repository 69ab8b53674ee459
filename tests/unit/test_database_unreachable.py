"""Which failures mean "the database is not answering" (503, try again) and which are bugs or
refused statements (500, logged with their traceback)."""

import asyncpg
import psycopg
import psycopg_pool
import pytest
from eventsourcing import persistence

from service.app import database_unreachable


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised from `inner`, as the eventsourcing library wraps the driver's errors."""
    try:
        try:
            raise inner
        except BaseException as error:
            raise outer from error
    except BaseException as error:
        return error


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    wrapped(psycopg.OperationalError("consuming input failed"),
            persistence.OperationalError("consuming input failed")),
    psycopg.errors.AdminShutdown(),
    psycopg.errors.CannotConnectNow(),
    psycopg_pool.PoolTimeout("couldn't get a connection after 30 s"),
    ConnectionRefusedError(),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
], ids=repr)
def test_a_lost_or_restarting_database_is_unreachable(error):
    assert database_unreachable(error)


@pytest.mark.parametrize("error", [
    psycopg.errors.DeadlockDetected(),
    wrapped(psycopg.errors.DeadlockDetected(), persistence.OperationalError("deadlock")),
    psycopg.errors.QueryCanceled(),
    psycopg.errors.TooManyConnections(),
    asyncpg.exceptions.QueryCanceledError("canceling statement"),
    TimeoutError(),
    RuntimeError("a bug"),
], ids=repr)
def test_a_refused_statement_or_a_bug_is_not(error):
    assert not database_unreachable(error)
