"""A bearer token's holder taken from this process's memory, and proven by the write itself.

Every API write used to ask the database who holds its bearer token before anything else: one
query per command, about a tenth of a command's cost under load. Now a process remembers, per
token, who held it and at which version of the holder's account it checked (every fact about a
token, its holder's role and standing comes from the account's events). A write whose token is
remembered is decided on that memory, unread, and the memory is proven where it matters:

- every save the request makes expects the account still at that version, checked in the
  save's own transaction while the events table is locked (the same mechanism as a command's
  unread copy, `service/idempotency.py` `expecting`). A token revoked, a role changed or an
  account deactivated since moves the account on, so the save stores nothing. The account is
  then checked afresh: if the token still gives the same holder (the account moved for another
  reason, such as a second token issued), the save is tried again expecting the new version;
  else the write fails with PrincipalChanged and nothing was saved;
- a response to a request none of whose saves proved the memory (a refusal, a no-op, a write
  that saves nothing) is held back until the token has been checked afresh (see
  `service/auth.py`): if it no longer gives the same holder, the answer is replaced by 401 (the
  token is no longer good) or 409 (the holder's role changed: send it again).

So no write is stored, and no answer given, on a token the database no longer honours, and a
write whose token is remembered costs no query of its own.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from domain.errors import DomainError

CHANGED_MESSAGE = ("Your account changed while this request ran (a token revoked, a role or "
                   "standing changed); nothing was saved. Send the request again.")


class PrincipalChanged(DomainError):
    """The token's holder no longer stands as the request assumed: nothing was saved."""

    def __init__(self) -> None:
        super().__init__(CHANGED_MESSAGE)


@dataclass(eq=False)
class Vouch:
    """The holder this request assumed for its token: its account at `version`."""

    account_id: uuid.UUID
    version: int
    recheck: Callable[[], int | None] = field(repr=False)
    """Run where the save runs (see service/bridge.py) when the account has moved on: the
    account's version now if the token still gives the same holder, else None."""
    confirmed: bool = False
    """A save expecting the account at `version` was stored: the memory held then."""


_vouch: ContextVar[Vouch | None] = ContextVar("cqi_vouch", default=None)


@contextmanager
def vouching(vouch: Vouch | None) -> Iterator[None]:
    """While open, this context's saves expect the vouched account at its version."""
    token = _vouch.set(vouch)
    try:
        yield
    finally:
        _vouch.reset(token)


def current() -> Vouch | None:
    return _vouch.get()


class TokenMemory:
    """Per process: token hash -> (principal, the holder's account version checked), the
    most recently used `limit` of them."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[bytes | str, tuple[Any, int]] = OrderedDict()

    def get(self, key: bytes | str) -> tuple[Any, int] | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: bytes | str, principal: Any, version: int) -> None:
        self._entries[key] = (principal, version)
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def drop(self, key: bytes | str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
