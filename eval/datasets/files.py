"""A dataset named by its path: the row format is told apart by the keys of the first row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eval.datasets.base import DatasetError
from eval.datasets.generic import GenericRows
from eval.datasets.lawbench import LawBenchRows
from eval.datasets.lexeval import LexEvalRows
from eval.items import Dataset, EvalItem
from kgft.sources import SourceError
from kgft.sources.rows import Row, read_objects


class RowFormat(Protocol):
    """One file layout; `category` is what items fall under when the row names none (the file's stem)."""

    def accepts(self, keys: set[str]) -> bool: ...

    def item(self, row: Row, category: str) -> EvalItem: ...


# Most specific first: the generic schema takes whatever the benchmarks' layouts do not.
FORMATS: tuple[RowFormat, ...] = (LexEvalRows(), LawBenchRows(), GenericRows())


@dataclass(frozen=True)
class FileDataset:
    path: Path

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset:
        if not self.path.is_file():
            raise DatasetError(f"{self.path} is not a file; pass a JSONL, JSON or CSV file")
        try:
            rows = read_objects(self.path)
            layout = next(layout for layout in FORMATS if layout.accepts(set(rows[0].fields)))
            items = [layout.item(row, self.path.stem) for row in rows]
            _check_unique(rows, items)
        except SourceError as exc:  # a bad row, whether the reader or a format found it, is a dataset error
            raise DatasetError(str(exc)) from exc
        return Dataset(self.path.name, items)


def _check_unique(rows: list[Row], items: list[EvalItem]) -> None:
    """Results are keyed by item id, so a repeated id would silently merge two questions."""
    seen: set[str] = set()
    for row, item in zip(rows, items, strict=True):
        if item.id in seen:
            raise row.error(f"id {item.id!r} appears twice")
        seen.add(item.id)
