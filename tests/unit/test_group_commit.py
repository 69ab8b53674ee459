"""Group commit: saves made at the same moment by threads of one process share a transaction,
and each still gets its own answer (its notification ids, or its own refusal)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid

import pytest
from eventsourcing.persistence import DataError, IntegrityError, OperationalError, StoredEvent

from service.idempotency import GroupCommit, KeyAlreadyUsed


def event(version: int = 1, size: int = 10, originator: uuid.UUID | None = None) -> StoredEvent:
    return StoredEvent(originator or uuid.uuid4(), version, "t", b"x" * size)


class FakeStore:
    """Numbers events in arrival order; refuses a group holding a 'refused' event; the first
    transaction is slow, so that the saves arriving meanwhile form one group."""

    def __init__(self, refused: set[uuid.UUID] = frozenset(), keys_used: set[str] = frozenset(),
                 slow_first: float = 0.0) -> None:
        self.refused, self.keys_used, self.slow_first = refused, keys_used, slow_first
        self.next_id = 1
        self.transactions: list[int] = []
        self.lock = threading.Lock()

    def insert(self, saves):
        with self.lock:  # one transaction at a time, as the table lock makes it
            if not self.transactions and self.slow_first:
                time.sleep(self.slow_first)
            events = [e for evs, _, _ in saves for e in evs]
            if any(e.originator_id in self.refused for e in events):
                raise IntegrityError("duplicate version")
            if any(claim is not None and claim in self.keys_used for _, claim, _ in saves):
                raise KeyAlreadyUsed("duplicate key")
            self.transactions.append(len(saves))
            answers = []
            for evs, _, _ in saves:
                answers.append(list(range(self.next_id, self.next_id + len(evs))))
                self.next_id += len(evs)
            return answers


def save_at_once(group: GroupCommit, saves, claims=None):
    """Each save from its own thread; the first starts alone, the others while it stores."""
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            results[i] = group.insert(saves[i], claims[i] if claims else None)
        except Exception as error:  # the answer under test
            results[i] = error

    first = threading.Thread(target=run, args=(0,))
    first.start()
    time.sleep(0.05)
    others = [threading.Thread(target=run, args=(i,)) for i in range(1, len(saves))]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(10)
    return results


def test_saves_arriving_while_one_is_stored_share_the_next_transaction():
    store = FakeStore(slow_first=0.3)
    group = GroupCommit(store.insert)
    saves = [[event()] if i % 2 else [event(), event(2)] for i in range(12)]
    results = save_at_once(group, saves)
    assert store.transactions == [1, 11]  # the first alone, the eleven others together
    ids = [n for i in range(12) for n in results[i]]
    assert sorted(ids) == list(range(1, store.next_id))  # each id given once
    for i in range(12):
        assert len(results[i]) == len(saves[i])
        assert results[i] == list(range(results[i][0], results[i][0] + len(saves[i])))


def test_a_refused_save_in_a_group_is_refused_alone_and_the_others_are_stored():
    stale = event()
    store = FakeStore(refused={stale.originator_id}, slow_first=0.3)
    group = GroupCommit(store.insert)
    saves = [[event()], [event()], [stale], [event()], [event()]]
    results = save_at_once(group, saves)
    assert isinstance(results[2], IntegrityError)
    assert all(isinstance(results[i], list) for i in (0, 1, 3, 4))
    # the group of four was refused as a whole, then each save was tried alone
    assert store.transactions == [1, 1, 1, 1]


class Diag:
    def __init__(self, detail: str) -> None:
        self.message_detail = detail


class UniqueViolation(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.diag = Diag(detail)


def test_a_refusal_that_names_its_save_refuses_it_and_stores_the_others_together():
    stale = event(version=7)

    class NamingStore(FakeStore):
        def insert(self, saves):
            if any(e is stale for evs, _, _ in saves for e in evs):
                error = IntegrityError("duplicate key value violates unique constraint")
                error.__cause__ = UniqueViolation(
                    "Key (originator_id, originator_version)="
                    f"({stale.originator_id}, 7) already exists.")
                raise error
            return super().insert(saves)

    store = NamingStore(slow_first=0.3)
    group = GroupCommit(store.insert)
    results = save_at_once(group, [[event()], [event()], [stale], [event()], [event()]])
    assert isinstance(results[2], IntegrityError)
    assert all(isinstance(results[i], list) for i in (0, 1, 3, 4))
    assert store.transactions == [1, 3]  # not one transaction per save


def test_a_key_already_used_in_a_group_refuses_only_its_own_save():
    store = FakeStore(keys_used={"used"}, slow_first=0.3)
    group = GroupCommit(store.insert)
    saves = [[event()] for _ in range(4)]
    results = save_at_once(group, saves, claims=[None, "fresh", "used", None])
    assert isinstance(results[2], KeyAlreadyUsed)
    assert [type(results[i]) for i in (0, 1, 3)] == [list, list, list]


def test_any_other_error_is_every_saves_answer_and_the_next_save_still_goes_through():
    calls = []

    def broken(saves):
        calls.append(len(saves))
        if len(calls) <= 2:
            time.sleep(0.2)
            raise OperationalError("the database went away")
        return [[1] for _ in saves]

    group = GroupCommit(broken)
    results = save_at_once(group, [[event()] for _ in range(5)])
    assert all(isinstance(r, OperationalError) for r in results.values())
    assert calls == [1, 4]  # not retried alone: nothing was stored
    assert group.insert([event()], None) == [1]  # the lead was handed back


def test_a_save_whose_own_data_fails_fails_alone_and_the_others_are_stored():
    bad = event()

    class PickyStore(FakeStore):
        def insert(self, saves):
            if any(e is bad for evs, _, _ in saves for e in evs):
                raise DataError("invalid input syntax for type json")
            return super().insert(saves)

    store = PickyStore(slow_first=0.3)
    group = GroupCommit(store.insert)
    results = save_at_once(group, [[event()], [event()], [bad], [event()]])
    assert isinstance(results[2], DataError)
    assert all(isinstance(results[i], list) for i in (0, 1, 3))
    assert store.transactions == [1, 1, 1]  # the first; then, after the group failed, each alone


def test_groups_stay_under_the_size_limit():
    store = FakeStore(slow_first=0.3)
    group = GroupCommit(store.insert)
    big = 100 * 1024
    saves = [[event(size=big)] for _ in range(7)]
    save_at_once(group, saves)
    assert store.transactions[0] == 1
    assert max(store.transactions) <= 2  # 256 KiB at most: two such saves per transaction
    assert sum(store.transactions) == 7


@pytest.mark.parametrize("threads", [32])
def test_many_threads_each_get_their_own_ids(threads):
    store = FakeStore()
    group = GroupCommit(store.insert)
    results = save_at_once(group, [[event(), event(2), event(3)] for _ in range(threads)])
    ids = sorted(n for r in results.values() for n in r)
    assert ids == list(range(1, 3 * threads + 1))


def test_a_save_the_store_answers_with_its_own_refusal_gets_it_and_the_others_are_stored():
    """The store may refuse one save of a group on its own (versions it expected have moved
    on) and store the rest: each thread gets its own answer."""
    from service.idempotency import ExpectationFailed

    inner = FakeStore(slow_first=0.3)
    stale = event()

    def insert(saves):
        kept = [s for s in saves if s[0][0] is not stale]
        stored = iter(inner.insert(kept)) if kept else iter(())
        return [ExpectationFailed("moved on") if evs[0] is stale else next(stored)
                for evs, _, _ in saves]

    group = GroupCommit(insert)
    results = save_at_once(group, [[event()], [event()], [stale], [event()]])
    assert isinstance(results[2], ExpectationFailed)
    assert sorted(r[0] for k, r in results.items() if k != 2) == [1, 2, 3]
    assert inner.transactions == [1, 2]


# --- saves made by commands on an event loop (service/bridge.py) ----------------------------


async def test_saves_waiting_on_the_loop_share_a_transaction_stored_off_the_loops_thread():
    from service import bridge

    store = FakeStore(slow_first=0.2)
    threads: set[int] = set()

    def insert(saves):
        threads.add(threading.get_ident())
        return store.insert(saves)

    group = GroupCommit(insert)
    saves = [[event()], [event(), event()], [event()], [event()]]

    async def save(k: int) -> object:
        if k:
            await asyncio.sleep(0.05)  # while the first is stored
        return await bridge.run_bridged(lambda: group.insert(saves[k], None))

    answers = await asyncio.wait_for(asyncio.gather(*(save(k) for k in range(4))), 10)
    assert store.transactions == [1, 3]
    assert answers == [[1], [2, 3], [4], [5]]
    assert threads and threading.get_ident() not in threads


async def test_a_refused_save_on_the_loop_gets_its_refusal_and_the_others_are_stored():
    from service import bridge

    refused = event()
    store = FakeStore(refused={refused.originator_id}, slow_first=0.2)
    group = GroupCommit(store.insert)
    saves = [[event()], [event()], [refused], [event()]]

    async def save(k: int) -> object:
        if k:
            await asyncio.sleep(0.05)
        try:
            return await bridge.run_bridged(lambda: group.insert(saves[k], None))
        except IntegrityError as error:
            return error

    answers = await asyncio.wait_for(asyncio.gather(*(save(k) for k in range(4))), 10)
    assert answers[0] == [1]
    assert isinstance(answers[2], IntegrityError)
    assert sorted(answers[1] + answers[3]) == [2, 3]


async def test_saves_on_the_loop_and_from_threads_are_all_stored_each_with_its_own_ids():
    from service import bridge

    store = FakeStore()
    group = GroupCommit(store.insert)
    from_threads: list[object] = []

    def thread_saves() -> None:
        for _ in range(20):
            from_threads.append(group.insert([event()], None))

    workers = [threading.Thread(target=thread_saves) for _ in range(3)]
    for worker in workers:
        worker.start()
    on_loop = await asyncio.wait_for(asyncio.gather(*(
        bridge.run_bridged(lambda: group.insert([event()], None)) for _ in range(60))), 20)
    for worker in workers:
        worker.join(20)
    ids = [i for answer in [*from_threads, *on_loop] for i in answer]
    assert sorted(ids) == list(range(1, 121))


async def test_when_the_store_thread_is_gone_every_waiting_save_fails_and_none_hangs():
    from service import bridge, idempotency

    group = GroupCommit(FakeStore().insert)
    groups = idempotency._LoopGroups()
    groups.thread.shutdown()  # as at a process's end: no group can be handed to it
    group._on_loops[asyncio.get_running_loop()] = groups
    results = await asyncio.wait_for(asyncio.gather(*(
        bridge.run_bridged(lambda: group.insert([event()], None)) for _ in range(3)),
        return_exceptions=True), 10)
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert groups.leader is None and not groups.waiting


async def test_a_leader_cancelled_while_its_group_is_stored_answers_it_with_what_was_stored():
    """As when the loop shuts down mid-save: the transaction goes on in its thread, and its
    saves are answered with its outcome, not with an interruption."""
    from service import bridge

    stored: list[object] = []

    def slow_insert(saves):
        time.sleep(0.3)
        stored.extend(e for evs, _, _ in saves for e in evs)
        return [[7] for _ in saves]

    group = GroupCommit(slow_insert)
    first = event()
    saving = asyncio.create_task(bridge.run_bridged(lambda: group.insert([first], None)))
    await asyncio.sleep(0.05)
    groups = group._on_loops[asyncio.get_running_loop()]
    later = asyncio.create_task(bridge.run_bridged(lambda: group.insert([event()], None)))
    await asyncio.sleep(0.05)  # waiting behind the group in flight
    groups.leader.cancel()
    assert await asyncio.wait_for(saving, 5) == [7]
    assert stored == [first]
    with pytest.raises(RuntimeError, match="not stored"):
        await asyncio.wait_for(later, 5)
    assert stored == [first]
    again = await asyncio.wait_for(
        bridge.run_bridged(lambda: group.insert([event()], None)), 5)
    assert again == [7]  # a new leader for a later save


async def test_a_leader_cancelled_before_it_began_leaves_no_save_waiting_forever():
    from service import bridge

    group = GroupCommit(FakeStore().insert)
    loop = asyncio.get_running_loop()
    create_task = loop.create_task

    def created_cancelled(coro, **kwargs):  # the leader, cancelled in the step it was made
        loop.create_task = create_task
        task = create_task(coro, **kwargs)
        task.cancel()
        return task

    loop.create_task = created_cancelled
    try:  # a task made without loop.create_task, so that only the leader is cancelled
        saving = asyncio.Task(bridge.run_bridged(lambda: group.insert([event()], None)))
        done, _ = await asyncio.wait({saving}, timeout=5)
    finally:
        loop.create_task = create_task
    assert done == {saving}
    with pytest.raises(RuntimeError, match="not stored"):
        saving.result()
    assert await asyncio.wait_for(
        bridge.run_bridged(lambda: group.insert([event()], None)), 5) == [1]


async def test_saves_waiting_when_a_cancelled_leader_ends_are_left_to_a_newer_live_leader():
    """A save arriving between a cancelled leader's end and its clean-up started a leader of
    its own: that one stores it, and the clean-up must not fail it."""
    from service import idempotency

    loop = asyncio.get_running_loop()
    groups = idempotency._LoopGroups()
    old = loop.create_task(asyncio.sleep(10))
    old.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await old
    newer = loop.create_task(asyncio.sleep(0.2))
    save = idempotency._Save([event()], None, None, loop.create_future())
    groups.waiting.append(save)
    groups.leader = newer
    idempotency._abandon(groups, old)
    assert groups.waiting == [save] and not save.answered.done() and groups.leader is newer
    newer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await newer
    idempotency._abandon(groups, newer)  # with no leader left, it fails what waits
    assert save.answered.done() and isinstance(save.error, RuntimeError)
    groups.thread.shutdown()
