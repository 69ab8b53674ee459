"""What every projection is: tables, event handlers that write them, and a tracking position.

The runner (service/projection_runner.py) calls `apply` for each event inside the same
transaction that records the view's tracking position, so every event is applied exactly once
and a view can be dropped and rebuilt from zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from psycopg import Cursor

Handler = Callable[[Any, Cursor[Any], Any], None]


def handles(*event_classes: type) -> Callable[[Handler], Handler]:
    """Mark a projection method as the handler of the given domain event classes."""

    def mark(method: Handler) -> Handler:
        method.__handles__ = event_classes  # type: ignore[attr-defined]
        return method

    return mark


class Projection:
    name: ClassVar[str]
    """Prefix of the view's tables; it carries the version (`cycle_board_v1`): a new table
    shape gets a new name and is built from zero instead of migrated."""
    tables: ClassVar[tuple[str, ...]]
    ddl: ClassVar[tuple[str, ...]]
    _handlers: ClassVar[dict[type, Handler]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for attribute in vars(cls).values():
            for event_class in getattr(attribute, "__handles__", ()):
                cls._handlers[event_class] = attribute

    @property
    def tracking_table(self) -> str:
        return f"{self.name}_tracking"

    def apply(self, curs: Cursor[Any], domain_event: Any) -> None:
        handler = self._handlers.get(type(domain_event))
        if handler is not None:
            handler(self, curs, domain_event)
