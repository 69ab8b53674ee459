"""Read-your-writes: waiting until the views have processed a given notification."""

import asyncio
import threading
import time

from service.projection_runner import Progress


async def test_a_waiter_already_satisfied_returns_at_once():
    progress = Progress()
    progress.advance(7)
    assert await progress.wait(7, timeout=0.01)
    assert await progress.wait(3, timeout=0.01)


async def test_a_waiter_is_woken_by_another_thread_without_polling():
    progress = Progress()
    started = time.perf_counter()
    timer = threading.Timer(0.05, progress.advance, args=(10,))
    timer.start()
    assert await progress.wait(10, timeout=2)
    woke_after = time.perf_counter() - started
    assert 0.04 < woke_after < 0.5  # woken by the advance, not by the timeout


async def test_a_waiter_for_a_later_position_keeps_waiting_until_it_is_reached():
    progress = Progress()
    waiter = asyncio.ensure_future(progress.wait(5, timeout=2))
    await asyncio.sleep(0.01)
    progress.advance(4)
    await asyncio.sleep(0.01)
    assert not waiter.done()
    progress.advance(5)
    assert await waiter


async def test_a_waiter_gives_up_after_its_timeout_and_is_forgotten():
    progress = Progress()
    assert not await progress.wait(1, timeout=0.02)
    assert progress._waiters == []


def test_a_thread_can_wait_too():
    progress = Progress()
    threading.Timer(0.02, progress.advance, args=(2,)).start()
    assert progress.wait_sync(2, timeout=2)
    assert not progress.wait_sync(3, timeout=0.02)
