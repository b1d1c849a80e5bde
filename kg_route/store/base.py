"""The graph store seam: one portable property-graph shape, two real engines behind it.

Shape (the same on Ladybug and Neo4j, so ingestion and retrieval are one code path):
  (:Node {id, kind, name, text, source, props})  -- props is a JSON object as a string
  (:Node)-[:REL {type}]->(:Node)                 -- type is the relation's name, e.g. HAS_ARTICLE, 常见症状
`kind` carries the node type (Law, Chapter, Section, Article, Disease, Drug, Symptom, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


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
