"""service/bridge.py: synchronous calls on the event loop's thread that give the loop back
where they would wait."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from service import bridge

REQUEST = contextvars.ContextVar("request", default=None)


async def test_a_bridged_call_returns_its_value_and_raises_its_own_errors():
    assert await bridge.run_bridged(lambda: 6 * 7) == 42

    def refuse() -> None:
        raise KeyError("no such thing")

    with pytest.raises(KeyError, match="no such thing"):
        await bridge.run_bridged(refuse)


async def test_a_bridged_call_runs_on_the_loops_thread_and_sees_the_tasks_context():
    REQUEST.set("request 7")
    seen = await bridge.run_bridged(
        lambda: (threading.get_ident(), REQUEST.get(), bridge.bridged()))
    assert seen == (threading.get_ident(), "request 7", True)
    assert not bridge.bridged()


async def test_waiting_calls_give_the_loop_back_so_two_can_wait_on_each_other():
    """On one thread, without a thread each: the first waits for what the second sets."""
    loop = asyncio.get_running_loop()
    first_may_go: asyncio.Future[str] = loop.create_future()
    order: list[str] = []

    def first() -> str:
        order.append("first waits")
        value = bridge.await_(first_may_go)
        order.append("first goes on")
        return value

    def second() -> str:
        order.append("second sets")
        first_may_go.set_result("from the second")
        return "second done"

    results = await asyncio.wait_for(asyncio.gather(
        bridge.run_bridged(first), bridge.run_bridged(second)), 5)
    assert results == ["from the second", "second done"]
    assert order == ["first waits", "second sets", "first goes on"]


async def test_a_failed_wait_is_raised_inside_the_call_which_may_handle_it():
    loop = asyncio.get_running_loop()
    failing: asyncio.Future[None] = loop.create_future()
    loop.call_soon(failing.set_exception, TimeoutError("the store did not answer"))

    def call() -> str:
        try:
            bridge.await_(failing)
        except TimeoutError as error:
            return f"handled: {error}"
        return "not raised"

    assert await bridge.run_bridged(call) == "handled: the store did not answer"


async def test_off_loop_runs_in_another_thread_only_when_bridged_with_the_same_context():
    REQUEST.set("request 9")
    loop_thread = threading.get_ident()

    def where() -> tuple[bool, str | None]:
        return threading.get_ident() == loop_thread, REQUEST.get()

    assert bridge.off_loop(where) == (True, "request 9")  # not bridged: right here
    assert await bridge.run_bridged(lambda: bridge.off_loop(where)) == (False, "request 9")


async def test_off_loop_lets_the_loop_serve_others_while_it_blocks():
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(ticking())
    await asyncio.sleep(0)
    await bridge.run_bridged(lambda: bridge.off_loop(time.sleep, 0.3))
    ticker.cancel()
    assert ticks >= 10  # about 30 if nothing blocked the loop; 1 if the sleep had


async def test_calls_contending_for_a_lock_take_turns_without_stalling_the_loop():
    """The holder waits on the loop while holding the lock; the other waits for the lock in a
    thread. A blocking acquire on the loop's thread would never return."""
    loop = asyncio.get_running_loop()
    lock = threading.Lock()
    holder_may_finish: asyncio.Future[None] = loop.create_future()
    order: list[str] = []

    def holder() -> None:
        bridge.acquire(lock)
        try:
            order.append("holder has it")
            bridge.await_(holder_may_finish)
        finally:
            lock.release()
            order.append("holder let go")

    def other() -> None:
        bridge.acquire(lock)
        try:
            order.append("other has it")
        finally:
            lock.release()

    async def later() -> None:
        await asyncio.sleep(0.05)
        order.append("released by the loop")
        holder_may_finish.set_result(None)

    await asyncio.wait_for(asyncio.gather(
        bridge.run_bridged(holder), bridge.run_bridged(other), later()), 5)
    assert order == ["holder has it", "released by the loop", "holder let go", "other has it"]
    assert not lock.locked()


async def test_a_cancelled_caller_still_runs_the_call_to_its_end_then_is_cancelled():
    loop = asyncio.get_running_loop()
    release: asyncio.Future[None] = loop.create_future()
    done: list[str] = []

    def call() -> None:
        bridge.await_(release)
        done.append("stored")

    task = asyncio.create_task(bridge.run_bridged(call))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()  # waits for the call
    release.set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["stored"]


async def test_await_outside_a_bridged_call_is_refused():
    with pytest.raises(RuntimeError, match="outside a bridged call"):
        bridge.await_(asyncio.get_running_loop().create_future())


class Datastore:
    def get_connection(self) -> str:
        return "a connection"


async def test_a_guarded_datastore_refuses_a_bridged_call_on_the_loops_thread(monkeypatch):
    monkeypatch.setattr(bridge, "refusals", 0)  # counted, then put back for the session check
    datastore = Datastore()
    bridge.forbid_blocking(datastore)
    bridge.forbid_blocking(datastore)  # once is enough; twice changes nothing
    assert datastore.get_connection() == "a connection"
    with pytest.raises(bridge.BlockingOnLoop):
        await bridge.run_bridged(datastore.get_connection)
    assert bridge.refusals == 1
    assert await bridge.run_bridged(lambda: bridge.off_loop(datastore.get_connection)) == (
        "a connection")
