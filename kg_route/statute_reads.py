"""The statute graph's reads that retrieval, the crime layer and `--update` share, as parametrized Cypher.

A law's articles are the Article nodes up to three structure hops below it whose id carries the law's
id: since versions are chained (`SUPERSEDES` between Law nodes), a walk from the new version would
otherwise reach the old version's articles too.
"""

from __future__ import annotations

from typing import Any

from kgft.graph_store import GraphStore, NodeRow

_LAW_ARTICLES = (
    "MATCH (l:Node {id: $law})-[:REL*1..3]->(a:Node) WHERE a.kind = 'Article' AND a.id STARTS WITH $prefix "
    "RETURN a.id AS id, a.kind AS kind, a.name AS name, a.text AS text, a.source AS source, a.props AS props"
)
_LAW_FIELDS = "RETURN l.id AS id, l.name AS name, l.source AS source, l.props AS props"
_LAWS = f"MATCH (l:Node) WHERE l.kind = 'Law' {_LAW_FIELDS}"
_LAWS_NAMED = f"MATCH (l:Node) WHERE l.kind = 'Law' AND l.name = $name {_LAW_FIELDS}"


def law_articles(store: GraphStore, law_node_id: str) -> list[NodeRow]:
    """The law version's articles, in id order (engines return rows in their own order)."""
    prefix = "article:" + law_node_id.removeprefix("law:") + ":"
    rows = store.read(_LAW_ARTICLES, {"law": law_node_id, "prefix": prefix})
    return sorted((_node(row) for row in rows), key=lambda node: node.id)


def laws(store: GraphStore, name: str | None = None) -> list[NodeRow]:
    """Every Law node, or those with one full name (a law's versions), in id order."""
    rows = store.read(_LAWS, {}) if name is None else store.read(_LAWS_NAMED, {"name": name})
    return sorted((_node(row | {"kind": "Law", "text": ""}) for row in rows), key=lambda node: node.id)


def _node(row: dict[str, Any]) -> NodeRow:
    text, source, props = row["text"] or "", row["source"] or "", row["props"] or "{}"
    return NodeRow(row["id"], row["kind"], row["name"], text, source, props)
