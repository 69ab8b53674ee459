"""The snapshot cache keeps large parsed snapshots by (aggregate id, version), within a bound on
their stored size, dropping the least recently used first."""

from __future__ import annotations

from eventsourcing.persistence import StoredEvent

from service.codec import ParsedSnapshot, SnapshotCache


def snapshot(aggregate: str, version: int, size: int) -> tuple[StoredEvent, ParsedSnapshot]:
    stored = StoredEvent(originator_id=aggregate, originator_version=version, topic="t",
                         state=b"x" * 10)
    return stored, ParsedSnapshot(codec=None, envelope=(aggregate, version), size=size)  # type: ignore[arg-type]


def test_a_kept_snapshot_is_found_by_aggregate_and_version_and_keeps_no_state_bytes() -> None:
    cache = SnapshotCache(max_bytes=1000, min_size=100)
    cache.put(*snapshot("a", 100, 400))
    assert cache.holds_any("a") and not cache.holds_any("b")
    kept = cache.get("a", 100)
    assert kept is not None
    assert kept[1].envelope == ("a", 100) and kept[0].state == b""
    assert cache.get("a", 200) is None


def test_small_snapshots_and_ones_larger_than_the_whole_bound_are_not_kept() -> None:
    cache = SnapshotCache(max_bytes=1000, min_size=100)
    cache.put(*snapshot("a", 100, 99))
    cache.put(*snapshot("b", 100, 1001))
    assert len(cache) == 0 and not cache.holds_any("a") and not cache.holds_any("b")


def test_the_least_recently_used_is_dropped_when_the_bound_is_passed() -> None:
    cache = SnapshotCache(max_bytes=1000, min_size=100)
    cache.put(*snapshot("a", 100, 400))
    cache.put(*snapshot("b", 100, 400))
    assert cache.get("a", 100) is not None  # "a" is now the most recently used
    cache.put(*snapshot("c", 100, 400))
    assert cache.get("b", 100) is None and not cache.holds_any("b")
    assert cache.get("a", 100) is not None and cache.get("c", 100) is not None
    cache.put(*snapshot("a", 200, 900))  # drops everything older to fit
    assert len(cache) == 1 and cache.holds_any("a") and cache.get("a", 100) is None


def test_an_aggregate_stays_known_while_any_of_its_snapshots_is_kept() -> None:
    cache = SnapshotCache(max_bytes=1000, min_size=100)
    cache.put(*snapshot("a", 100, 300))
    cache.put(*snapshot("a", 200, 300))
    cache.put(*snapshot("a", 200, 300))  # the same one again is not counted twice
    cache.put(*snapshot("b", 100, 300))
    cache.put(*snapshot("c", 100, 300))  # drops a@100
    assert cache.holds_any("a")
    cache.put(*snapshot("d", 100, 300))  # drops a@200
    assert not cache.holds_any("a")
