"""Batch hygiene both engines share, so a returned count means the same thing on each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from kgft.graph_store import EdgeRow, GraphStoreError, NodeRow

T = TypeVar("T")

# Named in a refused batch's message; the rest are only counted, to keep it one readable line.
_MISSING_SHOWN = 3


def last_per_id(rows: Sequence[NodeRow]) -> list[NodeRow]:
    """One row per id, the last one winning, as if the rows had been upserted one by one."""
    return list({row.id: row for row in rows}.values())


def distinct_edges(rows: Sequence[EdgeRow]) -> list[EdgeRow]:
    """Each (src, type, dst) once, in first-seen order."""
    return list(dict.fromkeys(rows))


def endpoint_ids(rows: Sequence[EdgeRow]) -> list[str]:
    return sorted({row.src for row in rows} | {row.dst for row in rows})


def refuse_missing_endpoints(url: str, wanted: Sequence[str], found: set[str]) -> None:
    """Edges to nodes that don't exist are an ingestion bug: refuse the whole batch and name them."""
    missing = [node_id for node_id in wanted if node_id not in found]
    if not missing:
        return
    shown = ", ".join(repr(node_id) for node_id in missing[:_MISSING_SHOWN])
    more = f" and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
    raise GraphStoreError(
        f"edge batch refused by {url}: no node with id {shown}{more}; upsert the nodes first"
    )


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
