"""Rows of a user's file (JSON list, JSON lines or CSV), each with where it came from for error messages."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.datasets.base import DatasetError


@dataclass(frozen=True)
class Row:
    number: int  # line in JSONL/CSV, position in a JSON list; the default item id
    where: str  # "path, line 3": the prefix of every error about this row
    fields: dict[str, Any]

    def error(self, problem: str) -> DatasetError:
        return DatasetError(f"{self.where}: {problem}")


def read_rows(path: Path) -> list[Row]:
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path, text)
    elif text.lstrip().startswith("["):
        rows = _json_list_rows(path, text)
    else:
        rows = _json_line_rows(path, text)
    if not rows:
        raise DatasetError(f"{path} holds no items")
    return rows


def _csv_rows(path: Path, text: str) -> list[Row]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    rows = []
    for fields in reader:
        if None in fields:
            raise DatasetError(f"{path}, line {reader.line_num}: more values than header columns")
        cleaned = {key.strip(): value.strip() for key, value in fields.items() if value and value.strip()}
        if cleaned:
            rows.append(Row(reader.line_num, f"{path}, line {reader.line_num}", cleaned))
    return rows


def _json_list_rows(path: Path, text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    return [_row(path, number, f"item {number}", value) for number, value in enumerate(data, start=1)]


def _json_line_rows(path: Path, text: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path}, line {number}: not valid JSON ({exc.msg}); expected one JSON object per line"
            ) from exc
        rows.append(_row(path, number, f"line {number}", value))
    return rows


def _row(path: Path, number: int, place: str, value: Any) -> Row:
    if not isinstance(value, dict):
        raise DatasetError(f"{path}, {place}: expected a JSON object, got {type(value).__name__}")
    return Row(number, f"{path}, {place}", value)
