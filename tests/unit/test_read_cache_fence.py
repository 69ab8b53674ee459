"""The read cache's fence never leaves a request waiting: whatever goes wrong while reading where
the database stands, the requests of that round get "unknown" (nothing served from the cache)."""

from __future__ import annotations

import asyncio

import pytest

from service.read_cache import ReadCache


async def cut_stream(dsn: str) -> None:
    raise asyncio.IncompleteReadError(b"", 1)  # what asyncpg can raise on a cut stream


async def a_bug(dsn: str) -> None:
    raise RuntimeError("not a database error at all")


@pytest.mark.parametrize("failure", [cut_stream, a_bug])
async def test_a_round_that_fails_unexpectedly_answers_its_requests_with_no_standing(
        failure, monkeypatch):
    cache = ReadCache()
    monkeypatch.setattr(cache, "_connection", failure)
    for _ in range(2):  # and the next round is sent and answered as well
        answers = await asyncio.wait_for(asyncio.gather(
            *(cache.standing("postgresql://nowhere", "cqi_events", "cqi") for _ in range(3))), 2)
        assert answers == [None, None, None]
    assert cache.fence_failures == 2
