"""kgft's graph store as LangChain's graph: the schema of kgft's one shape, and validated reads only.

langchain-neo4j's own `Neo4jGraph` reads the schema through APOC (which ArcadeDB lacks) and runs
queries in auto-commit transactions; this adapter reads the schema with plain Cypher and sends every
query through `read_only_cypher` and then the store's read transaction.
"""

from __future__ import annotations

from typing import Any

from langchain_neo4j.graphs.graph_document import GraphDocument
from neo4j_graphrag.schema import format_schema

from kg_route.cypher_guard import read_only_cypher
from kgft.errors import UnsupportedError
from kgft.graph_store import GraphStore

_KINDS = "MATCH (n:Node) RETURN n.kind AS value, count(*) AS n ORDER BY n DESC, value LIMIT $limit"
_TYPES = "MATCH ()-[r:REL]->() RETURN r.type AS value, count(*) AS n ORDER BY n DESC, value LIMIT $limit"
# Every kind, and the common relation types, without flooding a small model's context.
SCHEMA_VALUES = 40
_NODE_PROPERTIES = ["id", "kind", "name", "text", "source", "props"]


class ReadOnlyGraph:
    """Satisfies langchain-neo4j's GraphStore protocol, so GraphCypherQAChain runs on any kgft store."""

    def __init__(self, store: GraphStore, schema_values: int = SCHEMA_VALUES) -> None:
        self.store = store
        self.schema_values = schema_values
        self._structured: dict[str, Any] = {}
        self._schema = ""
        self.refresh_schema()

    @property
    def get_schema(self) -> str:
        return self._schema

    @property
    def get_structured_schema(self) -> dict[str, Any]:
        return self._structured

    def query(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Raises UnsafeCypherError before anything runs when `query` is not one bounded read."""
        return self.store.read(read_only_cypher(query), params or {})

    def refresh_schema(self) -> None:
        limit = {"limit": self.schema_values}
        kinds = [row["value"] for row in self.store.read(_KINDS, limit)]
        types = [row["value"] for row in self.store.read(_TYPES, limit)]
        self._structured = {
            "node_props": {"Node": [{"property": p, "type": "STRING"} for p in _NODE_PROPERTIES]},
            "rel_props": {"REL": [{"property": "type", "type": "STRING"}]},
            "relationships": [{"start": "Node", "type": "REL", "end": "Node"}],
        }
        self._schema = "\n".join(
            [
                format_schema(self._structured, is_enhanced=False),
                "Every node has the one label Node; what it is lies in its `kind` property.",
                "Every relationship has the one type REL; its name lies in its `type` property.",
                f"Node kinds (n.kind): {', '.join(kinds)}",
                f"Relation names (r.type), most frequent first: {', '.join(types)}",
            ]
        )

    def add_graph_documents(self, graph_documents: list[GraphDocument], include_source: bool = False) -> None:
        raise UnsupportedError("the Text2Cypher graph is read-only; ingest with `kgft ingest`")
