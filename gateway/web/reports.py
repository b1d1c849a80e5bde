"""Eval report folders under one directory, and the only files of them the web page may serve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

REPORT_FILE = "report.html"
# What an HTML report can link to; anything else in a run folder (stores, logs) stays private.
SERVED_SUFFIXES = frozenset({".html", ".png", ".svg", ".css", ".js", ".json", ".csv", ".md"})


@dataclass(frozen=True)
class ReportFolder:
    name: str
    modified_at: str  # ISO 8601, UTC

    @property
    def url(self) -> str:
        return f"/reports/{quote(self.name)}/{REPORT_FILE}"


class ReportIndex:
    """Folders directly under `root` that hold a report.html; the listing is read afresh on each call."""

    def __init__(self, root: Path):
        self.root = root

    def folders(self) -> list[ReportFolder]:
        """Newest first, so the run just finished is on top."""
        if not self.root.is_dir():
            return []
        found = [
            (report.stat().st_mtime, folder.name)
            for folder in self.root.iterdir()
            if folder.is_dir() and (report := folder / REPORT_FILE).is_file()
        ]
        return [
            ReportFolder(name, datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds"))
            for mtime, name in sorted(found, reverse=True)
        ]

    def file(self, name: str, relative: str) -> Path | None:
        """The file to serve, or None: `name` must be a listed folder and the file must resolve inside it."""
        if name not in {folder.name for folder in self.folders()}:
            return None
        folder = (self.root / name).resolve()
        candidate = (folder / relative).resolve()
        if not candidate.is_relative_to(folder) or candidate.suffix.lower() not in SERVED_SUFFIXES:
            return None
        return candidate if candidate.is_file() else None
