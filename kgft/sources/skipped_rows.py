"""Malformed source rows: every one counted, the first few kept with their file and line, so a reader
can say what it dropped without flooding its report."""

from __future__ import annotations

from dataclasses import dataclass, field

SKIPS_KEPT = 5  # malformed rows beyond these are only counted


@dataclass(kw_only=True)
class SkippedRows:
    skipped: int = 0
    skipped_where: list[str] = field(default_factory=list)

    def skip(self, where: str, problem: str) -> None:
        self.skipped += 1
        if len(self.skipped_where) < SKIPS_KEPT:
            self.skipped_where.append(f"{where}: {problem}")

    def absorb(self, other: SkippedRows) -> None:
        """Another reader's skips: the counts add, the kept places fill up to SKIPS_KEPT."""
        self.skipped += other.skipped
        self.skipped_where += other.skipped_where[: max(0, SKIPS_KEPT - len(self.skipped_where))]
