"""The command cache keeps only aggregates of modest size: few events AND few items in their
collections (one import gives a measure thousands of points in two events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from service.command_cache import CommandCache, size_of


@dataclass
class Stored:
    version: int
    points: dict[str, int] = field(default_factory=dict)
    team: list[str] = field(default_factory=list)
    title: str = "a title is not a collection"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    pending_events: list[object] = field(default_factory=list)


def test_size_counts_the_items_of_the_aggregates_collections():
    assert size_of(Stored(2, points={"a": 1, "b": 2}, team=["Ann"])) == 3


def test_a_young_aggregate_holding_many_items_is_not_kept():
    cache = CommandCache(largest_size=100)
    small = Stored(2, points={str(n): n for n in range(90)})
    big = Stored(2, points={str(n): n for n in range(10_000)})
    cache.keep(small)
    cache.keep(big)
    assert small.id in cache and big.id not in cache
