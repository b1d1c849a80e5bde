"""What every ingestion shares: write a planned graph in batches, resume after a crash, price the run.

A domain module only turns its source into a `Plan` (every node and edge, in a fixed order). The
runner cuts the plan into batches, nodes before edges, and records the last committed batch in a
checkpoint; a re-run skips what was committed. The store's upserts are idempotent, so a checkpoint
that lags behind the store costs time, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kgft.errors import KgftError
from kgft.graph_store import EdgeRow, GraphStore, NodeRow
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.projects import graph_config
from kgft.settings import Settings
from kgft.sources.skipped_rows import SkippedRows

# Ladybug loads each call with COPY, so big batches pay its fixed per-call cost less often; Bolt
# stores split a call into 5,000-row statements inside one transaction anyway.
BATCH_ROWS = 50_000


class IngestSourceError(KgftError):
    """An ingestion source is missing, or holds none of the files it should."""


@dataclass(frozen=True)
class Plan:
    """A source read into graph rows; node ids are unique and edges point only at planned nodes."""

    nodes: Sequence[NodeRow]
    edges: Sequence[EdgeRow]
    rows_read: int
    skips: SkippedRows


@dataclass(frozen=True)
class IngestSummary:
    nodes_new: int
    edges_new: int
    rows_read: int
    rows_skipped: int
    skipped_reasons: tuple[str, ...]
    seconds: float
    batches: int
    batches_resumed: int  # committed by an earlier, interrupted run and skipped by this one


@dataclass(frozen=True)
class Source:
    """What is being ingested: a label for people and the files whose bytes identify it."""

    domain: str
    label: str
    files: Sequence[Path]
    kind: str = "kg_ingest"  # the ledger kind its runs are booked as
    verb: str = "ingest"  # how the ledger describes a run: "ingest legal from …"

    def digest(self) -> str:
        hasher = hashlib.sha256()
        for path in self.files:
            hasher.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    hasher.update(block)
        return hasher.hexdigest()


@dataclass(frozen=True)
class _Batch:
    index: int
    nodes: Sequence[NodeRow] = ()
    edges: Sequence[EdgeRow] = ()


def _batches(plan: Plan, batch_rows: int) -> list[_Batch]:
    """Node batches, then edge batches: an edge batch only names nodes an earlier batch wrote."""
    batches = [_Batch(i, nodes=chunk) for i, chunk in enumerate(_chunks(plan.nodes, batch_rows))]
    batches += [
        _Batch(len(batches) + i, edges=chunk) for i, chunk in enumerate(_chunks(plan.edges, batch_rows))
    ]
    return batches


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Checkpoint:
    """How many batches of one (source, store, batch size) build are committed, in a small JSON file.

    Alongside, the rows those batches hold: a store with fewer nodes or edges than that was wiped or
    replaced since, and the checkpoint no longer describes it.
    """

    def __init__(self, folder: Path, source: Source, store_url: str, batch_rows: int):
        key = hashlib.sha256(f"{source.digest()}\n{store_url}\n{batch_rows}".encode()).hexdigest()[:16]
        self.path = folder / f"{source.domain}-{key}.json"

    def committed(self, store: GraphStore) -> int:
        if not self.path.exists():
            return 0
        state = json.loads(self.path.read_text("utf-8"))
        nodes, edges = store.counts()
        if nodes < state["nodes_committed"] or edges < state["edges_committed"]:
            return 0
        return int(state["batches_committed"])

    def save(self, batches_committed: int, nodes_committed: int, edges_committed: int) -> None:
        state = {
            "batches_committed": batches_committed,
            "nodes_committed": nodes_committed,
            "edges_committed": edges_committed,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(state), "utf-8")
        os.replace(partial, self.path)  # a crash mid-write leaves the old checkpoint, never half a file

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def ingest(
    store: GraphStore,
    source: Source,
    make_plan: Callable[[], Plan],
    settings: Settings,
    prices: PriceBook,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Plan, write the batches not yet committed, and ledger the run's cost, finished or not."""
    started = time.perf_counter()
    nodes_new = edges_new = resumed = 0
    plan: Plan | None = None
    batches: list[_Batch] = []
    completed = False
    try:
        store.ensure_schema()
        with _progress_bar(progress) as bar:
            task = bar.add_task(f"{source.domain}: reading {source.label}", total=None)
            plan = make_plan()
            batches = _batches(plan, batch_rows)
            checkpoint = Checkpoint(settings.home / "ingest", source, store.url, batch_rows)
            resumed = checkpoint.committed(store)
            nodes_committed = sum(len(batch.nodes) for batch in batches[:resumed])
            edges_committed = sum(len(batch.edges) for batch in batches[:resumed])
            bar.update(
                task,
                description=f"{source.domain}: writing {store.url}",
                total=len(plan.nodes) + len(plan.edges),
                completed=nodes_committed + edges_committed,
            )
            for batch in batches[resumed:]:
                if batch.nodes:
                    nodes_new += store.upsert_nodes(batch.nodes)
                if batch.edges:
                    edges_new += store.upsert_edges(batch.edges)
                nodes_committed += len(batch.nodes)
                edges_committed += len(batch.edges)
                checkpoint.save(batch.index + 1, nodes_committed, edges_committed)
                bar.advance(task, len(batch.nodes) + len(batch.edges))
        checkpoint.clear()
        completed = True
    finally:
        seconds = time.perf_counter() - started
        summary = IngestSummary(
            nodes_new=nodes_new,
            edges_new=edges_new,
            rows_read=plan.rows_read if plan else 0,
            rows_skipped=plan.skips.skipped if plan else 0,
            skipped_reasons=tuple(plan.skips.skipped_where) if plan else (),
            seconds=seconds,
            batches=len(batches),
            batches_resumed=resumed,
        )
        _ledger(source, store.url, summary, completed, settings, prices)
    return summary


def _ledger(
    source: Source,
    store_url: str,
    summary: IngestSummary,
    completed: bool,
    settings: Settings,
    prices: PriceBook,
) -> None:
    """Every run costs compute, an interrupted one too; `completed` tells them apart."""
    cost = prices.compute_cost(settings.device, summary.seconds, cores=settings.threads)
    meta = {
        "domain": source.domain,
        "source": source.label,
        "store": store_url,
        "completed": completed,
        "nodes_new": summary.nodes_new,
        "edges_new": summary.edges_new,
        "rows_read": summary.rows_read,
        "rows_skipped": summary.rows_skipped,
        "batches": summary.batches,
        "batches_resumed": summary.batches_resumed,
    }
    entry = LedgerEntry.from_cost(
        "kg",
        source.kind,
        f"{source.verb} {source.domain} from {source.label}",
        cost,
        seconds=summary.seconds,
        meta=meta,
        domain=source.domain,
        config=graph_config(store_url),
    )
    Ledger(settings.ledger_path).append(entry)


def _progress_bar(shown: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        disable=not shown,
    )
