"""Aggregates a process last saved, kept for its next command on them.

A command loads its aggregate, decides, saves. Loading costs two reads (the latest snapshot,
then the events after it) and decoding; the aggregate this process saved a moment ago is
already in memory, exactly as stored. The rules that make reusing it safe:

- An aggregate is *taken out* of the cache for a command (no other command can see it while
  it is decided on) and put back only once its events are stored, or when the command stored
  nothing and raised nothing. Any exception while deciding or saving leaves it out: a
  half-changed aggregate is never reused; the next command loads it from the database.
- A command's first attempt decides on it unread. Its save proves it current: if another
  process (or a repair) stored a version since, the unique (originator_id, version) key refuses
  the save, nothing is stored, and the command reads the latest version, loads the aggregate
  afresh and decides again. A refusal decided on an unread copy (a rule broken, a version named
  by If-Match that is not the copy's) is not reported until a decision on the latest version
  confirms it (CQIApplication._change).
- The save also carries the copy's version, and the mission version the command's value ids
  came from (the one this process last read); it is refused while the events table is locked
  if either is no longer the latest stored (service/idempotency.py `expecting`), and the
  command then reads and decides again. So a store that lost commits (a restore, a failover)
  is not saved over a gap, and values are checked against the current mission.
- Only commands use it. Pages, history and past versions read the database as before.

No copy is made (the library's own cache deep-copies, which for large aggregates costs more
than loading): the cache owns the object while it sits there, the command while it runs.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

DEFAULT_CAPACITY = 64
LARGEST_SIZE = 2_000
"""Aggregates holding more than this many items in their collections (a measure's data points,
an initiative's cycles and team) are not kept: that is the part of their memory that grows with
use (a 10,000-event initiative of 2,500 cycles has a ~2 MB snapshot), and one import can give a
measure 10,000 points in two events. 64 aggregates within this bound stay well inside a
worker's memory budget. A long history alone does not count: an initiative whose charter was
revised a thousand times is no larger than after its first revision. (Until 2026-12-04 more
than 1,000 events also excluded an aggregate, and a busy one was loaded again for every
command once it passed that.)"""


def size_of(aggregate: Any) -> int:
    """How many items the aggregate's collections hold (its state's lists, dicts and sets),
    the part of its memory that grows with use."""
    return sum(len(value) for value in vars(aggregate).values()
               if isinstance(value, (list, dict, set, frozenset, tuple)))


class CommandCache:
    """At most `capacity` aggregates, the least recently used dropped first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY,
                 largest_size: int = LARGEST_SIZE) -> None:
        self.capacity = capacity
        self.largest_size = largest_size
        self._items: OrderedDict[uuid.UUID, Any] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, aggregate_id: uuid.UUID) -> Any | None:
        """The aggregate, removed from the cache (None if it is not there)."""
        with self._lock:
            return self._items.pop(aggregate_id, None)

    def keep(self, aggregate: Any) -> None:
        """Keep an aggregate whose every event is stored (none pending)."""
        if (self.capacity <= 0 or aggregate.pending_events
                or size_of(aggregate) > self.largest_size):
            return
        with self._lock:
            self._items[aggregate.id] = aggregate
            self._items.move_to_end(aggregate.id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def drop(self, aggregate_id: uuid.UUID) -> None:
        with self._lock:
            self._items.pop(aggregate_id, None)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._items
