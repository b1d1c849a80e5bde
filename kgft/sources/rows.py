"""Rows of a data file (a JSON list, JSON lines or CSV), each with the line it starts on.

Training sets, eval sets and statute exports are all rows of this kind; a row that cannot be read is
handed on with its problem, so each caller decides whether it skips the row or stops.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgft.sources import SourceError

_BLANK = " \t\n\r"  # JSON's own whitespace, the only kind allowed between list items


@dataclass(frozen=True)
class Row:
    """One row: its fields, or why it has none, and where it is, for any error or skip about it."""

    path: Path
    line: int  # the line the row starts on (where a CSV row with a quoted line break ends, as csv counts)
    item: int | None  # its position in a JSON list, which names it there; None in JSON lines and CSV
    fields: dict[str, Any] = field(default_factory=dict)  # empty when there is a problem
    problem: str | None = None  # "not valid JSON (Expecting value)", "expected a JSON object, got int"

    @property
    def number(self) -> int:
        """The line in JSON lines and CSV, the position in a JSON list: a row's default id."""
        return self.line if self.item is None else self.item

    @property
    def where(self) -> str:
        """The prefix of every error about this row: "path, line 3", or "path, item 3" in a JSON list."""
        return f"{self.path}, line {self.line}" if self.item is None else f"{self.path}, item {self.item}"

    def error(self, problem: str) -> SourceError:
        return SourceError(f"{self.where}: {problem}")


def read_rows(path: Path) -> Iterator[Row]:
    """Every row, a bad one with its problem; only an unreadable file or a broken JSON list stops."""
    text = _text(path)
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, text)
    if text.lstrip().startswith("["):
        return _json_list_rows(path, text)
    return _json_line_rows(path, text)


def read_objects(path: Path) -> list[Row]:
    """The rows of a file that must hold objects only, and at least one: the first bad row stops."""
    rows = list(read_rows(path))
    for row in rows:
        if row.problem is not None:
            raise row.error(row.problem)
    if not rows:
        raise SourceError(f"{path} holds no items")
    return rows


def _text(path: Path) -> str:
    try:
        return path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    for values in reader:
        if None in values:
            yield Row(path, reader.line_num, None, problem="more values than header columns")
            continue
        # Spreadsheets pad cells and leave whole rows blank; neither is data.
        fields = {key.strip(): value.strip() for key, value in values.items() if value and value.strip()}
        if fields:
            yield Row(path, reader.line_num, None, fields)


def _json_line_rows(path: Path, text: str) -> Iterator[Row]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(path, number, None, problem=f"not valid JSON ({exc.msg})")
            continue
        yield _json_row(path, number, None, value)


def _json_list_rows(path: Path, text: str) -> Iterator[Row]:
    """Item by item, so each row knows the line it starts on (json.loads of the whole list would not)."""
    decoder = json.JSONDecoder()
    position = _past_blanks(text, text.index("[") + 1)
    line = 1 + text.count("\n", 0, position)
    item = 0
    more = not text.startswith("]", position)
    while more:  # position is where an item starts: after "[" or a ","
        start = position
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise _invalid(path, exc) from exc
        item += 1
        yield _json_row(path, line, item, value)
        position = _past_blanks(text, end)
        more = text.startswith(",", position)
        if more:
            position = _past_blanks(text, position + 1)
        elif not text.startswith("]", position):
            raise _invalid(path, json.JSONDecodeError("Expecting ',' delimiter", text, position))
        line += text.count("\n", start, position)
    rest = _past_blanks(text, position + 1)
    if rest < len(text):
        raise _invalid(path, json.JSONDecodeError("Extra data", text, rest))


def _past_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in _BLANK:
        position += 1
    return position


def _invalid(path: Path, exc: json.JSONDecodeError) -> SourceError:
    return SourceError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})")


def _json_row(path: Path, line: int, item: int | None, value: Any) -> Row:
    if not isinstance(value, dict):
        return Row(path, line, item, problem=f"expected a JSON object, got {type(value).__name__}")
    return Row(path, line, item, value)
