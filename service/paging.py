"""Pages of a long list: which rows a page shows, its links, and how the `page` parameter is read.

Lists are read a page at a time (LIMIT/OFFSET over an order that ends in a unique key, so a row
is never shown twice or skipped while nothing changes) with the count of every matching row, so
a list of years of work costs what one page costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from domain.errors import ValidationError

PAGE_SIZE = 50
MAX_PAGE = 100_000
PAGE_RULE = "must be a whole page number, 1 or more"
MAX_OFFSET = 1_000_000_000
"""The API's `offset` goes no further (the database refuses one past 64 bits with an error)."""


def plain_digits(text: str, most: int = 18) -> bool:
    """Only the digits 0-9, at most `most` of them: what `int()` turns into a number the
    database takes (`str.isdigit` also accepts digits such as "²" that `int` refuses, and
    `int` refuses more than 4,300 digits)."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def page_number(raw: str | None) -> int:
    """The `page` parameter: absent or empty means the first; anything but 1, 2, ... is
    refused (the caller shows the first page with the reason)."""
    if raw is None or not raw.strip():
        return 1
    text = raw.strip()
    if not plain_digits(text) or not 1 <= int(text) <= MAX_PAGE:
        raise ValidationError({"page": PAGE_RULE})
    return int(text)


def last_page(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


@dataclass(frozen=True)
class Page:
    """Page `number` (1-based, already within 1..last) of `total` matching rows."""

    number: int
    total: int
    rows: list[Any]
    path: str
    filters: Mapping[str, str]  # kept in every link (empty ones left out)
    size: int = PAGE_SIZE

    @property
    def last(self) -> int:
        return last_page(self.total, self.size)

    @property
    def first_shown(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0

    @property
    def previous(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.last else None

    def url(self, number: int) -> str:
        params = {k: v for k, v in self.filters.items() if v}
        if number > 1:
            params["page"] = str(number)
        return f"{self.path}?{urlencode(params)}" if params else self.path


def offset_of(number: int, total: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """(page number, offset): a page past the last shows the last (a list that shrank while
    someone paged through it still shows its end)."""
    number = min(number, last_page(total, size))
    return number, (number - 1) * size
