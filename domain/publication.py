"""What the agency shows the public: whether its public pages are open, and which measures and
initiatives they show.

Rules decided here:
- Off by default: nothing is public until a leader opens the public pages AND publishes items.
  Items may be published while the pages are closed (to prepare them); closing the pages hides
  every item at once without forgetting which were chosen.
- Publishing what is already published, withdrawing what is not, opening open pages and closing
  closed ones are refused, so that every stored event is a real change.
- Whether a published measure or initiative exists is for the application to check: the
  publication only holds ids.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, FieldErrors

PUBLICATION_NAMESPACE = uuid.UUID("0b7e4a2c-5d61-4f0e-a8b3-91c2d4e6f7a1")
PUBLICATION_ID = uuid.uuid5(PUBLICATION_NAMESPACE, "publication")
NOTE_LENGTH = 1000
MEASURE, INITIATIVE = "measure", "initiative"


class PublicationError(DomainError):
    """The change would not change what the public sees (already so)."""


class Publication(Aggregate):
    """There is one per agency (a fixed id)."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return PUBLICATION_ID

    @event("Started")
    def __init__(self, *, actor: str) -> None:
        self.open = False
        self.measure_ids: list[str] = []
        self.initiative_ids: list[str] = []

    # --- queries -------------------------------------------------------------------------

    def shows_measure(self, measure_id: uuid.UUID | str) -> bool:
        """Whether the public can read this measure now."""
        return self.open and str(measure_id) in self.measure_ids

    def shows_initiative(self, initiative_id: uuid.UUID | str) -> bool:
        return self.open and str(initiative_id) in self.initiative_ids

    # --- commands ------------------------------------------------------------------------

    def open_pages(self, *, actor: str, note: object = "") -> None:
        errors = FieldErrors()
        note = errors.text("note", note, required=False, max_length=NOTE_LENGTH)
        errors.raise_if_any()
        if self.open:
            raise PublicationError("The public pages are already open.")
        self._opened(actor=actor, note=note)

    @event("PublicPagesOpened")
    def _opened(self, *, actor: str, note: str) -> None:
        self.open = True

    def close_pages(self, *, actor: str, note: object = "") -> None:
        errors = FieldErrors()
        note = errors.text("note", note, required=False, max_length=NOTE_LENGTH)
        errors.raise_if_any()
        if not self.open:
            raise PublicationError("The public pages are already closed.")
        self._closed(actor=actor, note=note)

    @event("PublicPagesClosed")
    def _closed(self, *, actor: str, note: str) -> None:
        self.open = False

    def publish_measure(self, *, actor: str, measure_id: uuid.UUID) -> None:
        if str(measure_id) in self.measure_ids:
            raise PublicationError("This measure is already published.")
        self._measure_published(actor=actor, measure_id=str(measure_id))

    @event("MeasurePublished")
    def _measure_published(self, *, actor: str, measure_id: str) -> None:
        self.measure_ids.append(measure_id)

    def withdraw_measure(self, *, actor: str, measure_id: uuid.UUID) -> None:
        if str(measure_id) not in self.measure_ids:
            raise PublicationError("This measure is not published, so there is nothing to "
                                   "withdraw.")
        self._measure_withdrawn(actor=actor, measure_id=str(measure_id))

    @event("MeasureWithdrawn")
    def _measure_withdrawn(self, *, actor: str, measure_id: str) -> None:
        self.measure_ids.remove(measure_id)

    def publish_initiative(self, *, actor: str, initiative_id: uuid.UUID) -> None:
        if str(initiative_id) in self.initiative_ids:
            raise PublicationError("This initiative is already published.")
        self._initiative_published(actor=actor, initiative_id=str(initiative_id))

    @event("InitiativePublished")
    def _initiative_published(self, *, actor: str, initiative_id: str) -> None:
        self.initiative_ids.append(initiative_id)

    def withdraw_initiative(self, *, actor: str, initiative_id: uuid.UUID) -> None:
        if str(initiative_id) not in self.initiative_ids:
            raise PublicationError("This initiative is not published, so there is nothing to "
                                   "withdraw.")
        self._initiative_withdrawn(actor=actor, initiative_id=str(initiative_id))

    @event("InitiativeWithdrawn")
    def _initiative_withdrawn(self, *, actor: str, initiative_id: str) -> None:
        self.initiative_ids.remove(initiative_id)
