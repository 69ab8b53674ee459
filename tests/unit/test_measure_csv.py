"""CSV of data points: an upload read into a preview of every problem, and the export."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date

import pytest

from service.measure_csv import (
    MAX_BYTES,
    MAX_ROWS,
    Problem,
    export,
    guard_formula,
    number_text,
    parse,
)

TODAY = date(2025, 6, 18)
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


def read(text: str | bytes, unit: str = "proportion", frequency: str = "monthly",
         recorded: set[date] | None = None):
    data = text.encode() if isinstance(text, str) else text
    return parse(data, unit=unit, frequency=frequency, recorded=recorded or set(), today=TODAY)


def problems(text: str | bytes, **kwargs: object) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.reason) for p in read(text, **kwargs).problems]  # type: ignore[arg-type]


GOOD = (
    "period,value,numerator,denominator,note\n"
    "2025-01-01,,12,20,New survey form\n"
    "2025-02-01,,15,21,\n"
    "2025-03-01,,9,18,\"Snow, office closed\"\n"
)


# --- a good file -------------------------------------------------------------------------------


def test_a_good_file_previews_every_row_ready_to_import() -> None:
    preview = read(GOOD)
    assert preview.valid
    assert preview.problems == []
    assert preview.rows_read == 3
    assert [(r.line, r.period, r.numerator, r.denominator, r.note) for r in preview.rows] == [
        (2, JAN, 12, 20, "New survey form"), (3, FEB, 15, 21, ""),
        (4, MAR, 9, 18, "Snow, office closed")]
    assert preview.rows[0].point() == {"period": JAN, "value": None, "numerator": 12,
                                       "denominator": 20, "note": "New survey form"}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: codecs.BOM_UTF8 + t.encode(), id="utf-8 with a BOM"),
        pytest.param(lambda t: t.replace("\n", "\r\n").encode(), id="CRLF"),
        pytest.param(lambda t: (t + "\n").encode(), id="a trailing blank line"),
        pytest.param(lambda t: (t + "\r\n,,,,\r\n").encode(), id="a trailing row of empty cells"),
        pytest.param(lambda t: t.rstrip("\n").encode(), id="no newline at the end"),
        pytest.param(lambda t: t.replace("period,value,numerator,denominator,note",
                                         " Note ,DENOMINATOR,numerator,value,period")
                     .replace("2025-01-01,,12,20,New survey form",
                              "New survey form,20,12,,2025-01-01")
                     .replace("2025-02-01,,15,21,", ",21,15,,2025-02-01")
                     .replace('2025-03-01,,9,18,"Snow, office closed"',
                              '"Snow, office closed",18,9,,2025-03-01').encode(),
                     id="columns in another order, any case"),
    ],
)
def test_byte_order_marks_line_ends_blank_lines_and_column_order_do_not_matter(variant) -> None:
    preview = parse(variant(GOOD), unit="proportion", frequency="monthly", recorded=set(),
                    today=TODAY)
    assert preview.problems == []
    assert [(r.period, r.numerator, r.denominator, r.note) for r in preview.rows] == [
        (JAN, 12, 20, "New survey form"), (FEB, 15, 21, ""), (MAR, 9, 18, "Snow, office closed")]


def test_a_count_needs_only_period_and_value_columns() -> None:
    preview = read("period,value\n2025-01-06,4\n2025-01-13,0\n", unit="count",
                   frequency="weekly")
    assert preview.valid
    assert [(r.period, r.value) for r in preview.rows] == [
        (date(2025, 1, 6), 4), (date(2025, 1, 13), 0)]


def test_a_quoted_note_may_hold_commas_quotes_and_line_breaks_and_lines_still_count() -> None:
    text = ('period,value,note\n'
            '2025-01-01,1.5,"She said ""twice""\nand left"\n'
            '2025-02-01,x,\n')
    preview = read(text, unit="continuous")
    assert preview.rows[0].note == 'She said "twice"\nand left'
    assert problems(text, unit="continuous") == [(4, "value", "'x' is not a number")]


# --- bad rows ----------------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_its_line_and_reason_and_nothing_is_ready() -> None:
    text = (
        "period,value,numerator,denominator,note\n"
        "2025-01-01,,12,20,\n"
        "2025-13-01,,12,20,\n"  # 3: no 13th month
        "2025-02-01,,abc,20,\n"  # 4: not a number
        "\n"
        "2025-03-01,,25,20,\n"  # 6: numerator > denominator
        "2025-03-01,,2,20,\n"  # 7: the same period as line 6
        "01/04/2025,,1,2,\n"  # 8: not ISO
        "2025-04-15,,1,2,\n"  # 9: not the first of the month
        "2025-05-01,,1,0,\n"  # 10: denominator 0
        "2025-06-01,0.5,1,2,\n"  # 11: a value for a proportion
        "2025-07-01,,1,2,\n"  # 12: has not started yet
    )
    preview = read(text, recorded={JAN})
    assert not preview.valid
    assert preview.rows_read == 10
    assert problems(text, recorded={JAN}) == [
        (2, "period", "2025-01-01 already has a data point; correct it instead"),
        (3, "period", "2025-13-01 is not a date on the calendar"),
        (4, "numerator", "'abc' is not a number"),
        (6, "numerator", "cannot be more than the denominator (25 > 20)"),
        (7, "period", "2025-03-01 is also on line 6"),
        (8, "period", "'01/04/2025' is not a date; write it as YYYY-MM-DD"),
        (9, "period", "monthly data are dated by the first day of the month: 2025-04-01, "
                      "not 2025-04-15"),
        (10, "denominator", "must be more than 0"),
        (11, "value", "leave it out: a proportion is entered as numerator and denominator"),
        (12, "period", "2025-07-01 has not started yet (today is 2025-06-18)"),
    ]
    assert preview.rows == []


def test_a_row_with_several_problems_names_each_field() -> None:
    text = "period,value,numerator,denominator,note\n,,1.5,12%,\n"
    assert problems(text) == [
        (2, "period", "is required (YYYY-MM-DD)"),
        (2, "numerator", "must be a whole number (a proportion counts cases)"),
        (2, "denominator", "'12%' is not a number; write a proportion as numerator and "
                           "denominator"),
    ]
    assert read(text).errors() == {"line 2": "period: is required (YYYY-MM-DD); numerator: "
                                             "must be a whole number (a proportion counts "
                                             "cases); denominator: '12%' is not a number; "
                                             "write a proportion as numerator and denominator"}


@pytest.mark.parametrize(
    ("cell", "reason"),
    [("12,5", "'12,5' is not a number; use a point for decimals (12.5)"),
     ("1 000", "'1 000' is not a number"),
     ("nan", "'nan' is not a number"),
     ("inf", "'inf' is not a number"),
     ("1_000", "'1_000' is not a number"),
     ("0x10", "'0x10' is not a number")],
)
def test_only_plain_decimal_numbers_are_numbers(cell: str, reason: str) -> None:
    assert problems(f'period,value\n2025-01-01,"{cell}"\n', unit="continuous") == [
        (2, "value", reason)]


@pytest.mark.parametrize(("cell", "number"), [("-3.25", -3.25), ("+4", 4), (".5", 0.5),
                                              ("1e3", 1000), ("2.", 2), (" 7 ", 7)])
def test_numbers_may_be_signed_fractional_or_in_exponent_form(cell: str, number: float) -> None:
    preview = read(f"period,value\n2025-01-01,{cell}\n", unit="continuous")
    assert preview.valid, preview.problems
    assert preview.rows[0].value == number


def test_a_count_must_be_whole_and_a_continuous_value_is_required() -> None:
    assert problems("period,value\n2025-01-01,2.5\n2025-02-01,\n", unit="count") == [
        (2, "value", "must be a whole number, 0 or more"),
        (3, "value", "is required for a count")]


def test_a_row_with_too_many_or_too_few_cells_is_reported() -> None:
    text = "period,value\n2025-01-01,1,extra\n2025-02-01\n2025-03-01,3\n"
    assert problems(text, unit="count") == [
        (2, "file", "the row has 3 cells where the header names 2"),
        (3, "file", "the row has 1 cells where the header names 2")]


def test_a_broken_quote_is_reported_at_the_line_it_starts() -> None:
    text = 'period,value,note\n2025-01-01,1,ok\n2025-02-01,2,"never closed\n2025-03-01,3,\n'
    found = problems(text, unit="count")
    assert len(found) == 1
    assert found[0][:2] == (3, "file")
    assert "not valid CSV" in found[0][2]


# --- the file as a whole -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "reason"),
    [
        ("", "count", "is empty"),
        ("\n\n", "count", "is empty"),
        ("period,value\n", "count", "has a header but no data rows"),
        ("period,value\n\n", "count", "has a header but no data rows"),
        ("2025-01-01,12\n", "count", "unknown column '2025-01-01'"),
        ("period,value,comment\n2025-01-01,1,x\n", "count", "unknown column 'comment'"),
        ("period,value,value\n", "count", "the column value twice"),
        ("period,value\n", "proportion", "no numerator column, which a proportion needs"),
        ("period,note\n", "count", "no value column, which a count needs"),
    ],
)
def test_a_file_without_a_usable_header_or_rows_is_refused_in_plain_words(
    text: str, unit: str, reason: str
) -> None:
    preview = read(text, unit=unit)
    assert not preview.valid
    assert any(reason in p.reason for p in preview.problems), preview.problems
    assert all(p.field == "file" for p in preview.problems)


def test_a_file_that_is_not_utf8_is_refused_naming_the_line() -> None:
    text = "period,value,note\n2025-01-01,1,ok\n2025-02-01,2,Müller\n".encode("latin-1")
    assert problems(text, unit="count") == [
        (3, "file", 'is not UTF-8 text; save the file as "CSV UTF-8" and try again')]


def test_a_file_over_one_megabyte_is_refused_before_it_is_read() -> None:
    text = "period,value,note\n" + "2025-01-01,1," + "x" * MAX_BYTES + "\n"
    preview = read(text, unit="count")
    assert preview.rows_read == 0
    assert [(p.line, p.field) for p in preview.problems] == [(None, "file")]
    assert "larger than 1 MB" in preview.problems[0].reason
    assert preview.errors() == {"file": preview.problems[0].reason}


def months(count: int) -> str:
    return "period,value\n" + "".join(
        f"{1900 + i // 12:04d}-{i % 12 + 1:02d}-01,1\n" for i in range(count))


def test_ten_thousand_rows_are_fine_and_one_more_is_refused() -> None:
    preview = parse(months(MAX_ROWS).encode(), unit="count", frequency="monthly",
                    recorded=set(), today=None)
    assert preview.valid
    assert len(preview.rows) == MAX_ROWS
    preview = parse(months(MAX_ROWS + 1).encode(), unit="count", frequency="monthly",
                    recorded=set(), today=None)
    assert preview.problems == [
        Problem(None, "file", "has more than 10,000 data rows; split it into smaller files")]


# --- export ------------------------------------------------------------------------------------


def a_point(period: date, value: float | None = None, numerator: float | None = None,
            denominator: float | None = None, note: str = "") -> dict[str, object]:
    if value is None and numerator is not None and denominator:
        value = numerator / denominator
    return {"period": period, "value": value, "numerator": numerator,
            "denominator": denominator, "note": note}


def test_the_export_is_rfc_4180_with_a_header_and_crlf_line_ends() -> None:
    text = export([a_point(JAN, numerator=12.0, denominator=20.0, note='Said "hi", left'),
                   a_point(FEB, numerator=3.0, denominator=4.0, note="line\nbreak")])
    assert text == (
        "period,value,numerator,denominator,note\r\n"
        '2025-01-01,,12,20,"Said ""hi"", left"\r\n'
        '2025-02-01,,3,4,"line\nbreak"\r\n'
    )
    assert list(csv.reader(io.StringIO(text, newline="")))[1][4] == 'Said "hi", left'


def test_a_count_or_continuous_value_is_exported_as_the_value() -> None:
    assert export([a_point(JAN, value=7.0), a_point(FEB, value=-0.1)]).splitlines()[1:] == [
        "2025-01-01,7,,,", "2025-02-01,-0.1,,,"]


@pytest.mark.parametrize("note", ["=HYPERLINK(\"http://x\")", "+1", "-2 staff out", "@SUM(A1)"])
def test_a_note_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(note: str) -> None:
    assert guard_formula(note) == "'" + note
    row = list(csv.reader(io.StringIO(export([a_point(JAN, value=1, note=note)]))))[1]
    assert row[4] == "'" + note
    assert guard_formula("plain note") == "plain note"


@pytest.mark.parametrize(("number", "text"), [(12.0, "12"), (0.1, "0.1"), (-2, "-2"),
                                              (1 / 3, "0.3333333333333333"), (1e-7, "1e-07"),
                                              (999999999999.5, "999999999999.5")])
def test_numbers_are_written_as_short_as_they_read_back_exactly(number: float, text: str) -> None:
    assert number_text(number) == text
    assert read(f"period,value\n2025-01-01,{text}\n", unit="continuous").rows[0].value == number


def test_no_number_is_an_empty_cell() -> None:
    assert number_text(None) == ""


def test_an_export_reads_back_as_the_same_points() -> None:
    points = [a_point(JAN, numerator=12, denominator=20, note="=1+1"),
              a_point(FEB, numerator=0, denominator=7, note='a "quoted", note\nover lines'),
              a_point(MAR, numerator=7, denominator=7, note="'kept apostrophe")]
    preview = read(export(points))
    assert preview.valid, preview.problems
    assert [r.point() for r in preview.rows] == [
        {**p, "value": None} for p in points]


def test_a_refusal_at_import_time_names_the_files_lines() -> None:
    """A period recorded between the preview and the import: the domain names the point by
    its index; the answer names the line it came from."""
    from service.api_measures import errors_by_line

    rows = read("period,value\n2025-01-01,1\n\n2025-02-01,2\n", unit="count").rows
    assert errors_by_line({"points[1].period": "2025-02-01 already has a data point",
                           "points[1].value": "x", "points": "y"}, rows) == {
        "line 4": "period: 2025-02-01 already has a data point; value: x", "points": "y"}
