"""Commands on the event loop's own thread: a synchronous call run in a greenlet, which gives
the loop back whenever it would wait.

A command is synchronous code (the library loads, decides and saves), and a save waits for its
group's transaction (service/idempotency.py, GroupCommit). Run in a worker thread, every
command cost two thread switches and a wake-up per save on top of its own work, and the
threads fought the loop for the interpreter's lock: a fifth of a command's CPU in a worker.
Run here instead, the command's Python runs on the loop's thread, and where it would block it
suspends its greenlet and the loop goes on with other requests:
- a save waits on an asyncio future, set when its group is stored (`await_`);
- a call that reads or writes the database by itself (a cache miss, a snapshot, a recheck)
  runs in a thread of its own while the greenlet waits (`off_loop`).

`forbid_blocking` guards a datastore: a connection taken on the loop's thread inside a
bridged call is a bug (the whole process would wait on the database), and fails loudly.
Code that is not bridged (the CLI, the views process, a thread) runs exactly as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import greenlet

P = ParamSpec("P")
T = TypeVar("T")

OFF_LOOP_THREADS = 16
"""Threads for the database calls of bridged commands (cache misses, snapshots, rechecks)."""
LOCK_THREADS = 64
"""Threads that wait for a lock held by another command (two commands on one aggregate):
their own, so that such waits never hold up the database calls that end them."""

_executors: dict[str, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()


def _executor(name: str, threads: int) -> ThreadPoolExecutor:
    """Made at first use, in the process that uses it (a server forks its workers)."""
    with _executors_lock:
        executor = _executors.get(name)
        if executor is None:
            executor = _executors[name] = ThreadPoolExecutor(threads, f"cqi-{name}")
        return executor


class _Bridged(greenlet.greenlet):
    """A greenlet running a bridged call; its parent is the loop's task that drives it."""


class BlockingOnLoop(RuntimeError):
    """A bridged call reached the database without `off_loop`."""


refusals = 0
"""How many times `forbid_blocking` refused (the tests check it stays 0, even where the
error was caught and answered)."""


def bridged() -> bool:
    """Whether this code runs in a bridged call, on the loop's thread."""
    return isinstance(greenlet.getcurrent(), _Bridged)


def await_(awaitable: Awaitable[T]) -> T:
    """Inside a bridged call: the awaitable's result, the loop serving others meanwhile."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Bridged):
        raise RuntimeError("await_ outside a bridged call")
    return current.parent.switch(awaitable)  # type: ignore[no-any-return]


def _in_thread(executor: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args,
               **kwargs: P.kwargs) -> T:
    context = contextvars.copy_context()
    return await_(asyncio.get_running_loop().run_in_executor(
        executor, functools.partial(context.run, fn, *args, **kwargs)))


def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """fn(...), which may block: in a bridged call, in a thread (with this context's
    variables) while the greenlet waits; else right here."""
    if not bridged():
        return fn(*args, **kwargs)
    return _in_thread(_executor("off-loop", OFF_LOOP_THREADS), fn, *args, **kwargs)


def acquire(lock: Any) -> None:
    """Take a threading lock. In a bridged call a lock that is held is waited for in a
    thread (the holder may be another bridged call, which needs the loop to go on)."""
    if lock.acquire(blocking=False):
        return
    if not bridged():
        lock.acquire()
        return
    _in_thread(_executor("locks", LOCK_THREADS), lock.acquire)


def offloaded(method: Callable[P, T]) -> Callable[P, T]:
    """A method that blocks on the database, made safe to call from a bridged call."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return off_loop(method, *args, **kwargs)

    return wrapper


async def run_bridged(fn: Callable[[], T]) -> T:
    """fn() on this thread, in a greenlet with a copy of this task's context variables.

    Like a call in a worker thread, it cannot be cut short: if this task is cancelled
    meanwhile, the call still runs to its end (a save in flight is answered), and the
    cancellation is raised after."""
    runner = _Bridged(fn)
    runner.gr_context = contextvars.copy_context()
    request: Any = runner.switch()
    cancelled = False
    while not runner.dead:
        future = asyncio.ensure_future(request)
        while not future.done():
            try:
                await asyncio.wait({future})
            except asyncio.CancelledError:
                cancelled = True
        try:
            value = future.result()
        except BaseException as error:  # the call's own wait failed: raised in the call
            request = runner.throw(error)
        else:
            request = runner.switch(value)
    if cancelled:
        raise asyncio.CancelledError
    return request  # type: ignore[no-any-return]


def forbid_blocking(datastore: Any) -> None:
    """Make the datastore refuse a connection to a bridged call on the loop's thread."""
    get_connection = datastore.get_connection
    if getattr(get_connection, "forbids_blocking", False):
        return

    @functools.wraps(get_connection)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if bridged():
            global refusals
            refusals += 1
            raise BlockingOnLoop("a database call on the event loop's thread: wrap it with "
                                 "service.bridge.off_loop")
        return get_connection(*args, **kwargs)

    guarded.forbids_blocking = True  # type: ignore[attr-defined]
    datastore.get_connection = guarded
