"""Snapshots in the typed format load to the same aggregates as the library's JSON snapshots;
events keep the library's bytes; state the typed layout does not describe stays in JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    TranscodingNotRegisteredError,
)

from domain.account import Account
from domain.initiative import ADAPT, STUDY, Cycle, Initiative
from domain.measure import ChartSettings, Measure
from domain.mission import Mission
from service.application import CQIApplication
from service.codec import SNAPSHOT_MAGIC, CQIMapper, CQITranscoder
from tests.unit.builders import KNOWN_VALUES, LEE, a_cycle_in, a_plan, an_initiative
from tests.unit.test_measure import a_measure

TODAY = date(2025, 6, 18)


def transcoder(cls: type[JSONTranscoder] = JSONTranscoder) -> JSONTranscoder:
    """The application's transcodings on a transcoder of class `cls`, without a database."""
    made = cls()
    CQIApplication.register_transcodings(object.__new__(CQIApplication), made)
    return made


LIBRARY = Mapper(transcoder=transcoder())  # what stored every event and snapshot so far
MAPPER = CQIMapper(transcoder=transcoder(CQITranscoder))


def a_long_initiative() -> Initiative:
    initiative = an_initiative()
    a_cycle_in(initiative, STUDY)
    initiative.decide_act(actor=LEE, number=1, decision=ADAPT, rationale="Try evenings")
    for number in range(2, 30):
        initiative.record_do(actor=LEE, number=number, observations=f"Visit {number} — ½ of them",
                             started_on=date(2025, 1, 1 + number % 28), today=TODAY)
        initiative.record_study(actor=LEE, number=number, result="Close", learning="Evenings",
                                today=TODAY)
        initiative.decide_act(actor=LEE, number=number, decision=ADAPT, rationale="Keep it")
    initiative.add_team_member(actor=LEE, name="Ana", kind="staff", role="supervisor")
    return initiative


def a_measure_with_data() -> Measure:
    measure = a_measure()
    for month in range(1, 7):
        measure.record_point(actor=LEE, period=date(2025, month, 1), numerator=month,
                             denominator=10, note=f"month {month}", today=TODAY)
    measure.freeze_baseline(actor=LEE, through=date(2025, 3, 1))
    measure.exclude_point(actor=LEE, period=date(2025, 2, 1), reason="a strike")
    measure.annotate(actor=LEE, on=date(2025, 4, 2), text="new form", today=TODAY)
    return measure


def a_mission() -> Mission:
    mission = Mission(actor=LEE)
    mission.write_statements(actor=LEE, mission="Safe children", vision="Families together",
                             revisit_every_months=12)
    mission.add_value(actor=LEE, value_id="v1", name="Family voice", description="Heard")
    mission.add_standard(actor=LEE, value_id="v1", standard_id="s1", text="Ask first")
    mission.add_value(actor=LEE, value_id="v2", name="Safety", description="")
    return mission


def an_account() -> Account:
    account = Account.register(actor=LEE, login="maria", display_name="Maria", role="member",
                               password_hash="x" * 20)
    account.issue_token(actor=LEE, token_id="t1", secret_hash="ab" * 32, label="laptop")
    return account


AGGREGATES: dict[str, Callable[[], Aggregate]] = {
    "initiative": a_long_initiative, "measure": a_measure_with_data, "mission": a_mission,
    "account": an_account,
}


def state_of(aggregate: Aggregate) -> dict[str, object]:
    return {k: v for k, v in sorted(vars(aggregate).items()) if k != "_pending_events"}


def loaded(stored: object) -> Aggregate:
    snapshot = MAPPER.to_domain_event(stored)  # type: ignore[arg-type]
    return snapshot.mutate(None)  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("make", AGGREGATES.values(), ids=AGGREGATES.keys())
def test_a_snapshot_is_written_typed_and_loads_to_the_same_aggregate(
    make: Callable[[], Aggregate],
) -> None:
    aggregate = make()
    stored = MAPPER.to_stored_event(Snapshot.take(aggregate))
    assert stored.state.startswith(SNAPSHOT_MAGIC)
    again = loaded(stored)
    assert type(again) is type(aggregate)
    assert state_of(again) == state_of(aggregate)
    assert repr(state_of(again)) == repr(state_of(aggregate))  # same types all the way down


@pytest.mark.parametrize("make", AGGREGATES.values(), ids=AGGREGATES.keys())
def test_a_snapshot_stored_in_the_librarys_format_still_loads_to_the_same_aggregate(
    make: Callable[[], Aggregate],
) -> None:
    aggregate = make()
    stored = LIBRARY.to_stored_event(Snapshot.take(aggregate))
    assert stored.state.startswith(b"{")
    assert repr(state_of(loaded(stored))) == repr(state_of(aggregate))


def test_events_keep_the_librarys_bytes_and_read_back_to_the_same_objects() -> None:
    initiative = a_long_initiative()
    measure = a_measure_with_data()
    events = [*initiative.collect_events(), *measure.collect_events(),
              *a_mission().collect_events(), *an_account().collect_events()]
    assert len(events) > 100
    for event in events:
        stored = MAPPER.to_stored_event(event)
        assert stored == LIBRARY.to_stored_event(event)
        again, before = MAPPER.to_domain_event(stored), LIBRARY.to_domain_event(stored)
        assert type(again) is type(before)
        assert repr(vars(again)) == repr(vars(before))
        assert vars(again) == vars(event)


@pytest.mark.parametrize("document", [
    {"a": [1, {"b": {"_type_": "date_iso", "_data_": "2025-01-02"}}], "c": None},
    {"_type_": "teammember", "_data_": {"name": "Ana", "kind": "staff", "role": "lead"}},
    {"_type_": "x", "_data_": 1, "more": True},  # not a transcoded object: three keys
    {"n": float("nan"), "inf": float("inf"), "big": 10**30, "s": "é\u2028"},
    [{"_type_": "uuid_hex", "_data_": "7f676b2b379e432a9a96e667af6f302c"}], "text", 3.5,
])
def test_the_transcoder_decodes_what_the_librarys_decodes(document: object) -> None:
    data = LIBRARY.transcoder.encode(document) if document != [] else b"[]"
    expected = LIBRARY.transcoder.decode(data)
    got = MAPPER.transcoder.decode(data)
    assert repr(got) == repr(expected)
    assert MAPPER.transcoder.encode(got) == data


def test_the_transcoder_refuses_an_unknown_transcoding_as_the_librarys_does() -> None:
    data = b'{"a":{"_type_":"nothing","_data_":1}}'
    with pytest.raises(TranscodingNotRegisteredError):
        LIBRARY.transcoder.decode(data)
    with pytest.raises(TranscodingNotRegisteredError):
        MAPPER.transcoder.decode(data)


def test_a_typed_snapshot_keeps_dates_and_unicode() -> None:
    initiative = a_long_initiative()
    again = loaded(MAPPER.to_stored_event(Snapshot.take(initiative)))
    assert isinstance(again, Initiative)
    assert again.cycles[2].started_on == date(2025, 1, 4)
    assert type(again.cycles[2].started_on) is date
    assert again.cycles[2].observations == "Visit 3 — ½ of them"
    assert again.cycles[0].started_on is None
    assert type(again.cycles[0]) is Cycle


@pytest.mark.parametrize("change", [
    "an attribute the layout does not name", "a tuple where a list is", "a float where an int is",
])
def test_state_the_typed_layout_does_not_describe_is_kept_in_the_librarys_format(
    change: str,
) -> None:
    mission = a_mission()
    if change == "an attribute the layout does not name":
        mission.motto = "Together"  # type: ignore[attr-defined]
    elif change == "a tuple where a list is":
        mission.values["v1"].standards = tuple(mission.values["v1"].standards)  # type: ignore[assignment]
    else:
        mission.revision = 2.0  # type: ignore[assignment]
    snapshot = Snapshot.take(mission)
    stored = MAPPER.to_stored_event(snapshot)
    assert stored == LIBRARY.to_stored_event(snapshot)
    assert state_of(loaded(stored)).keys() == state_of(mission).keys()


def test_a_typed_snapshot_that_lacks_an_attribute_is_upcast_by_its_aggregate() -> None:
    """A typed snapshot taken before Measure's version 2 has no chart settings: the aggregate's
    own upcaster adds them, as it does for the library's snapshots."""
    measure = a_measure_with_data()
    stored = MAPPER.to_stored_event(Snapshot.take(measure))
    document = json.loads(stored.state)
    assert document[3] == 2  # the class version
    document[3] = 1
    del document[4]["chart"]
    older = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                         json.dumps(document, separators=(",", ":")).encode())
    again = loaded(older)
    assert isinstance(again, Measure)
    assert again.chart == ChartSettings()
    assert again.points == measure.points


@pytest.mark.parametrize("damage", [
    lambda b: b[:-5], lambda b: b.replace(b'"title"', b'"titel"'),
    lambda b: b.replace(b"domain.initiative:Initiative", b"domain.account:Account", 1),
    lambda b: b.replace(b'"number":3', b'"number":"3"', 1),
])
def test_a_damaged_typed_snapshot_cannot_be_read(damage: Callable[[bytes], bytes]) -> None:
    stored = MAPPER.to_stored_event(Snapshot.take(a_long_initiative()))
    damaged = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                           damage(stored.state))
    assert damaged.state != stored.state
    with pytest.raises(MapperDeserialisationError):
        MAPPER.to_domain_event(damaged)


def test_a_plan_typed_snapshot_reads_the_plan_fields() -> None:
    initiative = an_initiative()
    initiative.plan_cycle(actor=LEE, plan=a_plan(logistics=""), known_value_ids=KNOWN_VALUES)
    again = loaded(MAPPER.to_stored_event(Snapshot.take(initiative)))
    assert isinstance(again, Initiative)
    assert again.cycles[0].plan() == initiative.cycles[0].plan()


def test_a_typed_snapshot_without_a_dataclass_field_that_has_a_default_reads_it_as_default(
) -> None:
    """Dataclasses are keyed by field name: a field added later (with a default) reads from a
    typed snapshot written before it, as from the library's format."""
    stored = MAPPER.to_stored_event(Snapshot.take(a_long_initiative()))
    document = json.loads(stored.state)
    for cycle in document[4]["cycles"]:
        del cycle["measure_id"]
    older = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                         json.dumps(document, separators=(",", ":")).encode())
    again = loaded(older)
    assert isinstance(again, Initiative)
    assert {cycle.measure_id for cycle in again.cycles} == {""}
    assert len(again.cycles) == 30


def mutable_parts(value: object, found: dict[int, object] | None = None) -> dict[int, object]:
    """Every list, dict and object with attributes reachable from `value`, by id."""
    found = {} if found is None else found
    if isinstance(value, (list, dict)) or hasattr(value, "__dict__"):
        if id(value) in found:
            return found
        found[id(value)] = value
        children = (value if isinstance(value, list) else value.values()
                    if isinstance(value, dict) else vars(value).values())
        for child in children:
            mutable_parts(child, found)
    return found


@pytest.mark.parametrize("make", AGGREGATES.values(), ids=AGGREGATES.keys())
def test_states_built_from_one_parsed_snapshot_share_nothing_mutable(
    make: Callable[[], Aggregate],
) -> None:
    # The snapshot cache builds every load's aggregate from one parsed layout: a command that
    # changes one loaded copy (a cycle's phase, a list of value ids, a chart's phases) must not
    # change the next one.
    aggregate = make()
    stored = MAPPER.to_stored_event(Snapshot.take(aggregate))
    parsed = MAPPER.parse_snapshot(stored)
    first = MAPPER.snapshot_event(stored, parsed).mutate(None)
    second = MAPPER.snapshot_event(stored, parsed).mutate(None)
    assert state_of(first) == state_of(second) == state_of(aggregate)
    ours = {k: v for k, v in vars(first).items() if k != "_pending_events"}
    theirs = {k: v for k, v in vars(second).items() if k != "_pending_events"}
    shared = set(mutable_parts(ours)) & set(mutable_parts(theirs))
    assert not shared, [mutable_parts(ours)[i] for i in shared]
    assert len(mutable_parts(ours)) > 1
