"""What the agency shows the public: its public pages open or closed, and the measures and
initiatives a leader published."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import ValidationError
from domain.publication import PUBLICATION_ID, Publication, PublicationError
from tests.unit.builders import LEE, SAM, assert_versions_count_up_by_one, event_names, replay

HEARD = uuid.UUID("5a0d3c1e-8f2b-4c6d-9e7a-1b2c3d4e5f60")
MOVES = uuid.UUID("6b1e4d2f-9a3c-4d7e-8f6a-2c3d4e5f6a71")
TABLE = uuid.UUID("7c2f5e3a-0b4d-4e8f-9a7b-3d4e5f6a7b82")


def test_there_is_one_publication_per_agency_with_a_fixed_id() -> None:
    assert Publication(actor=LEE).id == PUBLICATION_ID
    assert Publication(actor=SAM).id == PUBLICATION_ID


def test_nothing_is_public_by_default() -> None:
    publication = Publication(actor=LEE)
    assert publication.open is False
    assert (publication.measure_ids, publication.initiative_ids) == ([], [])
    assert not publication.shows_measure(HEARD)
    assert not publication.shows_initiative(TABLE)


def test_a_published_measure_stays_hidden_until_the_pages_are_opened() -> None:
    publication = Publication(actor=LEE)
    publication.publish_measure(actor=LEE, measure_id=HEARD)
    assert not publication.shows_measure(HEARD)
    publication.open_pages(actor=LEE, note="Board approved")
    assert publication.shows_measure(HEARD)
    assert not publication.shows_measure(MOVES)


def test_open_pages_show_nothing_that_was_not_published() -> None:
    publication = Publication(actor=LEE)
    publication.open_pages(actor=LEE)
    assert not publication.shows_measure(HEARD)
    assert not publication.shows_initiative(TABLE)


def test_closing_the_pages_hides_everything_but_remembers_the_choice() -> None:
    publication = Publication(actor=LEE)
    publication.open_pages(actor=LEE)
    publication.publish_measure(actor=LEE, measure_id=HEARD)
    publication.publish_initiative(actor=LEE, initiative_id=TABLE)
    publication.close_pages(actor=SAM, note="Data under review")
    assert not publication.shows_measure(HEARD)
    assert not publication.shows_initiative(TABLE)
    publication.open_pages(actor=LEE)
    assert publication.shows_measure(HEARD) and publication.shows_initiative(TABLE)


def test_a_withdrawn_item_is_no_longer_shown() -> None:
    publication = Publication(actor=LEE)
    publication.open_pages(actor=LEE)
    publication.publish_measure(actor=LEE, measure_id=HEARD)
    publication.publish_initiative(actor=LEE, initiative_id=TABLE)
    publication.withdraw_measure(actor=LEE, measure_id=HEARD)
    publication.withdraw_initiative(actor=LEE, initiative_id=TABLE)
    assert not publication.shows_measure(HEARD)
    assert not publication.shows_initiative(TABLE)
    assert (publication.measure_ids, publication.initiative_ids) == ([], [])


def test_measures_and_initiatives_are_published_separately() -> None:
    publication = Publication(actor=LEE)
    publication.open_pages(actor=LEE)
    publication.publish_measure(actor=LEE, measure_id=HEARD)
    assert not publication.shows_initiative(HEARD)


@pytest.mark.parametrize("command, reason", [
    ("publish_measure", "This measure is already published."),
    ("publish_initiative", "This initiative is already published."),
])
def test_publishing_twice_is_refused_in_plain_words(command: str, reason: str) -> None:
    publication = Publication(actor=LEE)
    key = "measure_id" if "measure" in command else "initiative_id"
    getattr(publication, command)(actor=LEE, **{key: HEARD})
    with pytest.raises(PublicationError) as refused:
        getattr(publication, command)(actor=LEE, **{key: HEARD})
    assert refused.value.reason == reason
    assert len(publication.pending_events) == 2


@pytest.mark.parametrize("command, reason", [
    ("withdraw_measure", "This measure is not published, so there is nothing to withdraw."),
    ("withdraw_initiative",
     "This initiative is not published, so there is nothing to withdraw."),
])
def test_withdrawing_what_is_not_published_is_refused(command: str, reason: str) -> None:
    publication = Publication(actor=LEE)
    key = "measure_id" if "measure" in command else "initiative_id"
    with pytest.raises(PublicationError) as refused:
        getattr(publication, command)(actor=LEE, **{key: MOVES})
    assert refused.value.reason == reason
    assert len(publication.pending_events) == 1


def test_opening_open_pages_or_closing_closed_ones_is_refused() -> None:
    publication = Publication(actor=LEE)
    with pytest.raises(PublicationError, match="already closed"):
        publication.close_pages(actor=LEE)
    publication.open_pages(actor=LEE)
    with pytest.raises(PublicationError, match="already open"):
        publication.open_pages(actor=LEE)
    assert event_names(publication.pending_events) == ["Started", "PublicPagesOpened"]


def test_a_note_longer_than_a_thousand_characters_is_refused_and_changes_nothing() -> None:
    publication = Publication(actor=LEE)
    with pytest.raises(ValidationError) as refused:
        publication.open_pages(actor=LEE, note="x" * 1001)
    assert set(refused.value.errors) == {"note"}
    assert publication.open is False


def test_a_note_must_be_text() -> None:
    publication = Publication(actor=LEE)
    with pytest.raises(ValidationError) as refused:
        publication.close_pages(actor=LEE, note=42)
    assert refused.value.errors == {"note": "must be text"}


def test_every_change_is_an_intent_named_event_carrying_its_actor() -> None:
    publication = Publication(actor=LEE)
    publication.open_pages(actor=LEE, note=" Approved by the board ")
    publication.publish_measure(actor=SAM, measure_id=HEARD)
    publication.publish_initiative(actor=SAM, initiative_id=TABLE)
    publication.withdraw_measure(actor=LEE, measure_id=HEARD)
    publication.withdraw_initiative(actor=LEE, initiative_id=TABLE)
    publication.close_pages(actor=LEE, note="")
    events = publication.collect_events()
    assert event_names(events) == [
        "Started", "PublicPagesOpened", "MeasurePublished", "InitiativePublished",
        "MeasureWithdrawn", "InitiativeWithdrawn", "PublicPagesClosed",
    ]
    assert [e.actor for e in events] == [LEE, LEE, SAM, SAM, LEE, LEE, LEE]
    assert events[1].note == "Approved by the board"
    assert events[2].measure_id == str(HEARD) and events[3].initiative_id == str(TABLE)
    assert_versions_count_up_by_one(events)


def test_the_publication_replays_from_its_events() -> None:
    publication = Publication(actor=LEE)
    publication.publish_measure(actor=LEE, measure_id=HEARD)
    publication.publish_measure(actor=LEE, measure_id=MOVES)
    publication.withdraw_measure(actor=LEE, measure_id=HEARD)
    publication.publish_initiative(actor=LEE, initiative_id=TABLE)
    publication.open_pages(actor=LEE)
    copy = replay(publication.collect_events())
    assert isinstance(copy, Publication)
    assert copy.open is True
    assert copy.measure_ids == [str(MOVES)]
    assert copy.initiative_ids == [str(TABLE)]
