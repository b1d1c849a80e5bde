"""The build-cost ledger: an append-only JSONL of what it cost to build each route.

Runtime cost lives on each Answer; this file holds the one-off costs (graph ingestion, data curation,
distillation, training runs including failed ones, expert hours) that eval amortizes over query volume.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kgft.contract import Cost


@dataclass(frozen=True)
class LedgerEntry:
    route: str  # "kg" or "ft"
    kind: str  # e.g. "kg_ingest", "distillation", "training_run", "expert_hours"
    description: str
    cost_usd: Decimal
    basis: str
    priced: bool
    seconds: float = 0.0
    tokens: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @classmethod
    def from_cost(cls, route: str, kind: str, description: str, cost: Cost, **extra: Any) -> LedgerEntry:
        return cls(route, kind, description, cost.runtime_usd, cost.basis, cost.priced, **extra)


class Ledger:
    """One JSON object a line; appends are single writes so a crash never leaves half an entry."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, entry: LedgerEntry) -> None:
        record = asdict(entry) | {"cost_usd": str(entry.cost_usd)}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                rows.append(LedgerEntry(**(record | {"cost_usd": Decimal(record["cost_usd"])})))
        return rows
