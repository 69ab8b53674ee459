"""Commands on one aggregate take turns (service/application.py, CQIApplication._turn): on
the event loop they queue on futures and hand the stripe on; a thread's command holding it is
waited for without stopping the loop."""

from __future__ import annotations

import asyncio
import threading
import types
import weakref

import pytest

from service import bridge
from service.application import CQIApplication, Turns


def app_like() -> types.SimpleNamespace:
    return types.SimpleNamespace(_stripes=[threading.Lock() for _ in range(4)],
                                 _turns=weakref.WeakKeyDictionary())


def command(app, stripe: int, log: list[str], name: str, wait=None):  # type: ignore[no-untyped-def]
    def run() -> None:
        log.append(f"{name} arrives")
        with CQIApplication._turn(app, stripe):
            log.append(f"{name} holds")
            if wait is not None:
                bridge.await_(wait)
            log.append(f"{name} done")
    return run


async def test_commands_on_a_stripe_take_turns_in_arrival_order_and_others_go_by():
    app, log = app_like(), []
    first_may_finish = asyncio.get_running_loop().create_future()
    runs = [bridge.run_bridged(command(app, 1, log, "first", first_may_finish)),
            bridge.run_bridged(command(app, 1, log, "second")),
            bridge.run_bridged(command(app, 1, log, "third")),
            bridge.run_bridged(command(app, 2, log, "elsewhere"))]

    async def release() -> None:
        await asyncio.sleep(0.05)
        first_may_finish.set_result(None)

    await asyncio.wait_for(asyncio.gather(*runs, release()), 5)
    assert [e for e in log if not e.startswith("elsewhere")] == [
        "first arrives", "first holds", "second arrives", "third arrives", "first done",
        "second holds", "second done", "third holds", "third done"]
    assert log.index("elsewhere done") < log.index("first done")  # another stripe: no wait
    assert not any(lock.locked() for lock in app._stripes)
    assert len(app._turns[asyncio.get_running_loop()]) == 0


async def test_a_stripe_held_by_a_thread_is_waited_for_while_the_loop_goes_on():
    app, log = app_like(), []
    lock = app._stripes[3]
    lock.acquire()  # a file import in a thread holds it
    waiting = asyncio.create_task(bridge.run_bridged(command(app, 3, log, "on the loop")))
    for _ in range(5):
        await asyncio.sleep(0.01)  # the loop is free
    assert log == ["on the loop arrives"]
    threading.Timer(0.05, lock.release).start()
    await asyncio.wait_for(waiting, 5)
    assert log == ["on the loop arrives", "on the loop holds", "on the loop done"]
    assert not lock.locked()


async def test_a_failing_command_hands_its_turn_on():
    app, log = app_like(), []

    def failing() -> None:
        with CQIApplication._turn(app, 0):
            raise ValueError("refused")

    results = await asyncio.gather(bridge.run_bridged(failing),
                                   bridge.run_bridged(command(app, 0, log, "next")),
                                   return_exceptions=True)
    assert isinstance(results[0], ValueError)
    assert log[-1] == "next done"
    assert not app._stripes[0].locked()


def test_turns_outside_a_loop_are_the_lock_alone():
    app, log = app_like(), []
    command(app, 0, log, "in a thread")()
    assert log == ["in a thread arrives", "in a thread holds", "in a thread done"]


async def test_a_waiter_that_dies_while_queued_gives_up_its_place():
    """Its greenlet killed while it waited (as when a loop is closed under it): the turn is not
    handed to it later, which would keep the stripe taken for ever."""
    turns = Turns()
    holder = bridge._Bridged(lambda: turns.take(5))
    holder.switch()  # holds stripe 5
    waiter = bridge._Bridged(lambda: turns.take(5))
    waiter.switch()  # queued
    with pytest.raises(RuntimeError):
        waiter.throw(RuntimeError("killed while queued"))
    turns.give(5)  # the holder is done
    newcomer = asyncio.create_task(bridge.run_bridged(lambda: turns.take(5)))
    done, _ = await asyncio.wait({newcomer}, timeout=1)  # (a bridged call is not cancelled)
    assert done == {newcomer} and len(turns) == 1  # the newcomer holds it, nobody waits


async def test_a_waiter_that_dies_after_its_turn_was_handed_hands_it_on():
    turns = Turns()
    holder = bridge._Bridged(lambda: turns.take(6))
    holder.switch()
    waiter = bridge._Bridged(lambda: turns.take(6))
    waiter.switch()
    log: list[str] = []
    third = asyncio.create_task(bridge.run_bridged(lambda: log.append(turns.take(6) or "third")))
    await asyncio.sleep(0)
    turns.give(6)  # handed to the waiter, which dies before it resumes
    with pytest.raises(RuntimeError):
        waiter.throw(RuntimeError("killed"))
    done, _ = await asyncio.wait({third}, timeout=1)
    assert done == {third} and log == ["third"]
