"""A measure's data points as CSV: an upload parsed into a preview, and the current data written
out. Pure functions: no I/O, no clock (today comes in as an argument).

The format (RFC 4180):
- UTF-8, with or without a byte-order mark; CRLF or LF line ends; blank lines are skipped.
- The first line is a header naming the columns, in any order, from `period, value, numerator,
  denominator, note`. `period` is always required; counts and continuous measures need `value`,
  proportions and rates `numerator` and `denominator` (the other number columns may be present
  but must then be empty). `note` is optional.
- `period` is an ISO date (YYYY-MM-DD) dated like the measure's periods (see domain/measure.py);
  numbers use a point for decimals (12.5), with no thousands separators or percent signs.
- At most 1 MB and 10,000 data rows.

A preview lists every bad row with its line number (a header is line 1) and reason; a file with
any problem imports nothing. An export writes the same columns, so it imports again as it is.

Spreadsheets run a cell that starts with = + - or @ as a formula: an exported note that starts
with one gets a leading apostrophe, and an imported note loses an apostrophe put before one.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.measure import MAX_IMPORT, RATIOS, UNIT_NAMES, check_points

COLUMNS = ("period", "value", "numerator", "denominator", "note")
MAX_BYTES = 1_000_000
MAX_ROWS = MAX_IMPORT
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FILE = "file"  # the field of a problem with the whole file (or its header)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Problem:
    line: int | None
    """The line the row starts on (the header is line 1); None for the file as a whole."""
    field: str
    """period, value, numerator, denominator or note; `file` for the file or its header."""
    reason: str


@dataclass(frozen=True)
class Row:
    line: int
    period: date
    value: float | int | None
    numerator: float | int | None
    denominator: float | int | None
    note: str

    def point(self) -> dict[str, Any]:
        """The row as the domain takes a data point."""
        return {"period": self.period, "value": self.value, "numerator": self.numerator,
                "denominator": self.denominator, "note": self.note}


@dataclass(frozen=True)
class Preview:
    rows_read: int
    """Data rows in the file (blank lines not counted)."""
    rows: list[Row] = field(default_factory=list)
    """The rows that are fine, in file order."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when the whole file can be imported: at least one row and no problem."""
        return bool(self.rows) and not self.problems

    def errors(self) -> dict[str, str]:
        """The problems as the API's field errors: {"line 3": "period: ...; value: ..."}."""
        out: dict[str, str] = {}
        for problem in self.problems:
            key = FILE if problem.line is None else f"line {problem.line}"
            text = problem.reason if problem.field == FILE else f"{problem.field}: {problem.reason}"
            out[key] = f"{out[key]}; {text}" if key in out else text
        return out


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 40 else cell[:37] + "...")


def _period(cell: str) -> tuple[date | None, str | None]:
    if not cell:
        return None, "is required (YYYY-MM-DD)"
    if _DATE.fullmatch(cell):
        try:
            return date.fromisoformat(cell), None
        except ValueError:
            return None, f"{cell} is not a date on the calendar"
    return None, f"{_shown(cell)} is not a date; write it as YYYY-MM-DD"


def _number(cell: str) -> tuple[float | int | None, str | None]:
    if not cell:
        return None, None
    if _INTEGER.fullmatch(cell):
        return int(cell), None
    if _NUMBER.fullmatch(cell):
        return float(cell), None
    hint = ""
    if re.fullmatch(r"[+-]?\d+,\d+", cell):
        hint = "; use a point for decimals (12.5)"
    elif cell.endswith("%"):
        hint = "; write a proportion as numerator and denominator"
    return None, f"{_shown(cell)} is not a number{hint}"


def _note(cell: str) -> str:
    """Undo the export's guard: an apostrophe before = + - or @ was put there by us."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _decode(data: bytes) -> tuple[str | None, Problem | None]:
    if len(data) > MAX_BYTES:
        return None, Problem(None, FILE, f"is larger than 1 MB ({len(data):,} bytes); "
                                         "split it into smaller files")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, Problem(line, FILE, "is not UTF-8 text; save the file as "
                                         "\"CSV UTF-8\" and try again")


def _header(cells: list[str], unit: str, line: int) -> tuple[list[str], list[Problem]]:
    names = [cell.strip().lower() for cell in cells]
    problems = []
    for name in names:
        if name not in COLUMNS:
            problems.append(Problem(line, FILE, f"the header names an unknown column "
                                                f"{_shown(name)}; the columns are "
                                                + ", ".join(COLUMNS)))
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(line, FILE, f"the header names the column {name} twice"))
    required = ("period", "numerator", "denominator") if unit in RATIOS else ("period", "value")
    for name in required:
        if name not in names:
            problems.append(Problem(line, FILE, f"the header has no {name} column, which "
                                                f"{UNIT_NAMES.get(unit, 'this unit')} needs"))
    return names, problems


def parse(
    data: bytes, *, unit: str, frequency: str, recorded: Collection[date], today: date | None
) -> Preview:
    """Read an upload for a measure of `unit` and `frequency` whose periods `recorded` already
    have data; nothing in it is usable unless the preview is `valid`."""
    text, problem = _decode(data)
    if text is None:
        assert problem is not None
        return Preview(0, problems=[problem])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    names: list[str] | None = None
    points: list[dict[str, Any]] = []
    lines: list[int] = []
    found: dict[int, dict[str, str]] = {}
    problems: list[Problem] = []
    rows_read = 0
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(start, FILE, f"is not valid CSV from this line ({error}); "
                                                 "a quoted cell must end with a quote"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if names is None:
            names, header_problems = _header(cells, unit, start)
            if header_problems:
                return Preview(0, problems=header_problems)
            continue
        rows_read += 1
        if rows_read > MAX_ROWS:
            problems.append(Problem(None, FILE, f"has more than {MAX_ROWS:,} data rows; "
                                                "split it into smaller files"))
            break
        if len(cells) != len(names):
            problems.append(Problem(start, FILE, f"the row has {len(cells)} cells where the "
                                                 f"header names {len(names)}"))
            continue
        row = {name: cell.strip() for name, cell in zip(names, cells, strict=True)}
        errors: dict[str, str] = {}
        period, error = _period(row["period"])
        if error:
            errors["period"] = error
        numbers: dict[str, float | int | None] = {}
        for name in ("value", "numerator", "denominator"):
            numbers[name], error = _number(row.get(name, ""))
            if error:
                errors[name] = error
        if errors:
            found[len(points)] = errors
        points.append({"period": period, **numbers, "note": _note(row.get("note", ""))})
        lines.append(start)
    if names is None:
        return Preview(0, problems=problems or [Problem(
            None, FILE, "is empty; its first line must name the columns, e.g. "
                        + ",".join(COLUMNS))])
    clean, bad = check_points(unit, frequency, points, recorded, today, found=found,
                              label=lambda index: f"line {lines[index]}")
    for index, errors in bad.items():
        for name in COLUMNS:
            if name in errors:
                problems.append(Problem(lines[index], name, errors[name]))
    if not rows_read and not problems:
        problems.append(Problem(None, FILE, "has a header but no data rows"))
    problems.sort(key=lambda p: (p.line is not None, p.line or 0))
    rows = [Row(line=lines[i], **point) for i, point in enumerate(clean) if i not in bad]
    return Preview(rows_read, rows, problems)


# --- export ----------------------------------------------------------------------------------


def number_text(number: float | int | None) -> str:
    """As short as it can be while reading back as the same number; whole numbers without .0."""
    if number is None:
        return ""
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(float(number))


def guard_formula(cell: str) -> str:
    """A cell a spreadsheet would run as a formula is shown as text instead."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def export(points: Iterable[Mapping[str, Any]]) -> str:
    """The data points (period, value, numerator, denominator, note) as RFC 4180 CSV text: a
    header, CRLF line ends; the value only where no numerator and denominator were entered."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for point in points:
        ratio = point["numerator"] is not None
        writer.writerow([
            point["period"].isoformat(),
            "" if ratio else number_text(point["value"]),
            number_text(point["numerator"]),
            number_text(point["denominator"]),
            guard_formula(point["note"] or ""),
        ])
    return out.getvalue()
