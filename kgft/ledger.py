"""The build-cost ledger: an append-only JSONL of what it cost to build each route.

Runtime cost lives on each Answer; this file holds the one-off costs (graph ingestion, data curation,
distillation, training runs including failed ones, expert hours) that eval amortizes over query volume.
Each entry has a stable id, so a cost booked from a card or a route is booked once however often the
route is served or evaluated, and a project (domain + build config), so two projects in one home do not
mix. Lines written before ids and projects existed still read: their id is derived from the line.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kgft.contract import Cost
from kgft.ledger_kinds import check_entry
from kgft.projects import Project, graph_config, model_config

_LEGACY_ID = "line-"


def new_entry_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LedgerEntry:
    route: str  # "kg", "ft", ... (kgft.routes.route_names())
    kind: str  # one of kgft.ledger_kinds.KINDS
    description: str
    cost_usd: Decimal
    basis: str
    priced: bool
    seconds: float = 0.0
    tokens: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    id: str = field(default_factory=new_entry_id)
    # The project: None means "any" (a cost shared by every domain, or by every build of the route).
    domain: str | None = None
    config: str | None = None  # what was built, e.g. kgft.builds.graph_config(url)

    @property
    def project(self) -> Project:
        return Project(self.domain, self.config)

    @classmethod
    def from_cost(cls, route: str, kind: str, description: str, cost: Cost, **extra: Any) -> LedgerEntry:
        return cls(route, kind, description, cost.runtime_usd, cost.basis, cost.priced, **extra)


class Ledger:
    """One JSON object a line; appends are single writes so a crash never leaves half an entry."""

    _lock = threading.Lock()  # eval and the gateway book from threads of one process

    def __init__(self, path: Path):
        self.path = path

    def append(self, entry: LedgerEntry) -> None:
        """Refuses an entry of an unknown kind or an inconsistent one (kgft.ledger_kinds)."""
        check_entry(entry)
        record = asdict(entry) | {"cost_usd": str(entry.cost_usd)}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def book(self, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        """Appends the entries whose id the ledger lacks; returns those it appended (idempotent)."""
        with self._lock:
            held = self.entries()
            known = {entry.id for entry in held}
            # A line from before ids is the same cost when its kind, config and amount agree.
            legacy = {_legacy_key(entry) for entry in held if entry.id.startswith(_LEGACY_ID)} - {None}
            fresh = []
            for entry in entries:
                if entry.id not in known and _legacy_key(entry) not in legacy:
                    self.append(entry)
                    known.add(entry.id)
                    fresh.append(entry)
            return fresh

    def entries(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text("utf-8").splitlines():
            if line.strip():
                rows.append(_from_line(line))
        return rows


def _from_line(line: str) -> LedgerEntry:
    record = json.loads(line)
    record["cost_usd"] = Decimal(record["cost_usd"])
    if "id" not in record:
        # A line from before ids: the same line always gets the same id.
        record["id"] = _LEGACY_ID + hashlib.sha256(line.strip().encode("utf-8")).hexdigest()[:16]
    if record.get("domain") is None and isinstance(record.get("meta", {}).get("domain"), str):
        record["domain"] = record["meta"]["domain"]  # older ingest and curation entries said it in meta
    if record.get("config") is None:
        record["config"] = _legacy_config(record)
    known = LedgerEntry.__dataclass_fields__
    return LedgerEntry(**{name: value for name, value in record.items() if name in known})


def _legacy_config(record: dict[str, Any]) -> str | None:
    """What an entry from before projects built, where its meta says (ingest: the store; training: data)."""
    meta = record.get("meta", {})
    if record.get("kind") == "kg_ingest" and isinstance(meta.get("store"), str):
        return graph_config(meta["store"])
    if record.get("kind") == "training_run" and isinstance(meta.get("data_hash"), str):
        return model_config(meta["data_hash"])
    return None


def _legacy_key(entry: LedgerEntry) -> tuple[str, str, Decimal] | None:
    return None if entry.config is None else (entry.kind, entry.config, entry.cost_usd)
