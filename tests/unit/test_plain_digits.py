"""Numbers typed into URLs and forms: only plain digits are numbers. "²" passes `str.isdigit` but
`int` refuses it, and `int` refuses more than 4,300 digits: either would be a 500, not a message."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from service.api_charts import _whole_number
from service.pages_base import form_version, whole_number
from service.paging import page_number, plain_digits

ODD = ["\u00b2", "\u0661", "9" * 5000, "1e3", "-1", " ", "", "1 2"]


@pytest.mark.parametrize("raw", ODD)
def test_only_plain_digits_are_numbers(raw):
    assert not plain_digits(raw)
    assert _whole_number(raw) is None
    assert form_version({"version": raw}) is None
    assert whole_number(raw) in (raw.strip(), None)


@pytest.mark.parametrize("raw", [r for r in ODD if r.strip()] + ["0", "100001"])
def test_a_page_number_that_is_not_one_is_refused_in_words(raw):
    with pytest.raises(ValidationError) as refused:
        page_number(raw)
    assert refused.value.errors == {"page": "must be a whole page number, 1 or more"}


def test_plain_numbers_are_read():
    assert plain_digits("42") and _whole_number(" 42 ") == 42
    assert form_version({"version": "7"}) == 7 and whole_number("12") == 12
    assert page_number("3") == 3 and page_number(None) == 1 and page_number("") == 1
    assert not plain_digits("1" * 19)  # past what a 64-bit column holds
