"""The graph store seam: one portable property-graph shape, real engines behind it.

Shape (the same on Ladybug and Neo4j, so ingestion and retrieval are one code path):
  (:Node {id, kind, name, text, source, props})  -- props is a JSON object as a string
  (:Node)-[:REL {type}]->(:Node)                 -- type is the relation's name, e.g. HAS_ARTICLE, 常见症状
`kind` carries the node type (Law, Chapter, Section, Article, Disease, Drug, Symptom, ...).

The engines live in kg_route; the core finds them through the `kgft.graph_stores` entry point, so a
part that only reads the graph (FT data, eval's KG-derived sets) needs the seam, not kg_route.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from kgft.errors import KgftError
from kgft.settings import Settings

GRAPH_STORES = "kgft.graph_stores"  # entry point group: name -> open_store(url, user, password)


@dataclass(frozen=True)
class NodeRow:
    id: str
    kind: str
    name: str
    text: str = ""
    source: str = ""
    props: str = "{}"


@dataclass(frozen=True)
class EdgeRow:
    src: str
    type: str
    dst: str


@runtime_checkable
class GraphStore(Protocol):
    url: str

    def ensure_schema(self) -> None:
        """Create tables/constraints if missing; safe to call every time."""
        ...

    def upsert_nodes(self, rows: Sequence[NodeRow]) -> int:
        """Insert new ids, update known ones; all-or-nothing per call. Returns how many were new."""
        ...

    def upsert_edges(self, rows: Sequence[EdgeRow]) -> int:
        """Insert (src, type, dst) edges not yet present; all-or-nothing. Returns how many were new."""
        ...

    def read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a parametrized read-only query; rows come back as dicts keyed by the RETURN aliases."""
        ...

    def counts(self) -> tuple[int, int]:
        """(nodes, edges): what ingestion tests and the idempotence check compare."""
        ...

    def close(self) -> None: ...


class GraphStoreError(KgftError):
    """A graph store URL is malformed, its engine cannot be reached, or a batch was refused."""


def open_graph(settings: Settings) -> GraphStore:
    """The graph `KGFT_GRAPH` names, opened by the installed engine package."""
    password = settings.graph_password.get_secret_value() if settings.graph_password else None
    return _store_opener()(settings.graph_url, settings.graph_user, password)


def _store_opener() -> Callable[[str, str | None, str | None], GraphStore]:
    found = list(entry_points(group=GRAPH_STORES))
    if len(found) != 1:
        names = ", ".join(sorted(point.value for point in found)) or "none"
        raise GraphStoreError(
            f"expected one graph store engine (entry point group {GRAPH_STORES}), found {names}"
        )
    opener: Callable[[str, str | None, str | None], GraphStore] = found[0].load()
    return opener
