"""`kgft ingest legal --update SOURCE`: apply new versions of laws the graph already holds.

The source holds the new versions' rows (a laws.db, or laws.jsonl + articles*.jsonl). Each new version
is added, the law's earlier versions get their validity closed, and the chain is linked (SUPERSEDES,
SUCCEEDS): the same nodes and edges a fresh ingest of every version writes, because both go through
`chain_versions`. Nothing outside those laws is touched. Everything is checked before anything is
written, so a refused update leaves the graph as it was; re-running an applied update writes nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from kg_route.ingest.law_versions import LawVersion
from kg_route.ingest.legal import LegalBuilder, law_node_id, read_legal, statute_source
from kg_route.ingest.runner import BATCH_ROWS, IngestSummary, Plan, Source, ingest
from kg_route.statute_reads import law_articles, laws
from kgft.errors import KgftError
from kgft.graph_store import GraphStore
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources.statutes import Record, read_statutes


class LawUpdateError(KgftError):
    """An update the graph cannot take: a law it does not hold, or a version not newer than its own."""


def plan_update(store: GraphStore, law_rows: Iterable[Record], article_rows: Iterable[Record]) -> Plan:
    """The new versions' nodes and edges, and the earlier versions' nodes with their validity closed."""
    builder, rows_read, skips = read_legal(law_rows, article_rows)
    if not builder.laws:
        raise LawUpdateError(f"the update holds no valid law rows ({skips.skipped} skipped)")
    by_name: dict[str, list[str]] = defaultdict(list)
    for law in builder.laws.values():
        by_name[law.law_name].append(law.law_id)
    for name, new_ids in by_name.items():
        builder.chain(_versions(store, builder, name, new_ids))
    return Plan(list(builder.nodes.values()), list(builder.edges), rows_read, skips)


def _versions(store: GraphStore, builder: LegalBuilder, name: str, new_ids: list[str]) -> list[LawVersion]:
    """The law's versions in the graph plus the update's; refuses an unknown law or an older version."""
    in_graph = laws(store, name)
    held = [node for node in in_graph if node.id not in {law_node_id(i) for i in new_ids}]
    already_applied = len(held) < len(in_graph)  # a re-run: the update's own version is in the graph
    if not held and not already_applied:
        raise LawUpdateError(
            f"unknown law {name!r}: the graph holds no version of it; ingest it with `kgft ingest legal`"
        )
    versions = [LawVersion(node, law_articles(store, node.id)) for node in held]
    newest_held = max((version.valid_from for version in versions), default="")
    for law_id in new_ids:
        update = builder.version(law_id)
        if not already_applied and update.valid_from <= newest_held:
            raise LawUpdateError(
                f"{name} version {law_id} starts {update.valid_from or 'on no date'}, not after the version "
                f"the graph holds ({newest_held}): an update must be newer"
            )
        versions.append(update)
    return versions


def update_legal(
    store: GraphStore,
    source: Path,
    settings: Settings,
    prices: PriceBook,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Apply the versions in `source` to the statute graph; ledgered as a kg_update of the legal graph."""
    files = statute_source(source)
    return ingest(
        store,
        Source("legal", str(source), files, kind="kg_update", verb="update"),
        lambda: plan_update(store, *read_statutes(files)),
        settings,
        prices,
        progress=progress,
        batch_rows=batch_rows,
    )
