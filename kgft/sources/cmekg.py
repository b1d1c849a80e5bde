"""CMeKG triples as shipped: *.tsv / *.tsv.gz parts of rows subject_type, subject, predicate, object."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from kgft.sources import SourceError

HEADER = ("subject_type", "subject", "predicate", "object")


def triple_files(source: Path) -> list[Path]:
    """A folder of *.tsv / *.tsv.gz parts (in name order), or one such file."""
    if not source.exists():
        raise SourceError(f"CMeKG source {source} does not exist")
    if source.is_file():
        return [source]
    files = sorted(path for path in source.iterdir() if path.name.endswith((".tsv", ".tsv.gz")))
    if not files:
        raise SourceError(f"no .tsv or .tsv.gz CMeKG triples in {source}")
    return files


def triple_rows(files: list[Path]) -> Iterator[tuple[str, list[str]]]:
    """(file:line, tab-separated fields) for every row but a file's header; the fields are not checked."""
    for path in files:
        try:
            with _open_text(path) as lines:
                for number, line in enumerate(lines, start=1):
                    fields = line.rstrip("\r\n").split("\t")
                    if number == 1 and tuple(fields) == HEADER:
                        continue
                    yield f"{path.name}:{number}", fields
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc


def _open_text(path: Path) -> TextIO:
    # "\n" only: a stray "\r" inside a CMeKG value is part of the value, not a line break.
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")
