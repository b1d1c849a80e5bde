"""Linker inputs from graph node rows, so a link always lands on a node that ingestion wrote.

The rows come from ingestion's plans (`statute_nodes`, `cmekg_graph`) or, equally, from a graph
store: ids, kinds, names and props are the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from kg_route.ingest.legal import plan_legal
from kg_route.ingest.medical import plan_medical
from kg_route.linking.law_aliases import LawVersion, law_entries
from kg_route.linking.linker import ArticleKey, NameEntry
from kgft.graph_store import EdgeRow, NodeRow
from kgft.sources.cmekg import triple_files
from kgft.sources.statutes import read_statutes, statute_files

# Kinds a question names. Ingredient (水, 糖 ...), Cause, Category, Effect, Population, Examination and
# Treatment objects are mostly everyday words in running text and stay out.
LINKED_KINDS = frozenset({"Law", "Disease", "Drug", "Symptom", "Department", "Other"})
# CMeKG literal props that are other Chinese names of the node itself.
ALIAS_PROPS = ("别称", "又称", "同义词", "其他名称", "中文名", "中文学名")


def statute_nodes(statutes_dir: Path) -> Sequence[NodeRow]:
    return plan_legal(*read_statutes(statute_files(statutes_dir))).nodes


def cmekg_graph(cmekg_dir: Path) -> tuple[Sequence[NodeRow], Sequence[EdgeRow]]:
    plan = plan_medical(triple_files(cmekg_dir))
    return plan.nodes, plan.edges


def subject_ids(edges: Iterable[EdgeRow]) -> set[str]:
    """CMeKG subjects: the nodes facts hang from (27,120 of 119,621), the ones worth an embedding."""
    return {edge.src for edge in edges}


def linker_inputs(
    nodes: Iterable[NodeRow], kinds: frozenset[str] = LINKED_KINDS
) -> tuple[list[NameEntry], dict[tuple[str, ArticleKey], str]]:
    """Name entries for nodes of `kinds`, and the (law node id, article key) → article node id table.

    Article ids end in their key: 232, "17之一" (inserted articles), or 全文 / "7#2" (whole texts and
    repeated labels), which no "第X条" can name and so are left out.
    """
    entries: list[NameEntry] = []
    laws: list[LawVersion] = []
    articles: dict[tuple[str, ArticleKey], str] = {}
    for node in nodes:
        if node.kind == "Article":
            _, law_id, key = node.id.split(":", 2)
            if key.isdigit():
                articles[(f"law:{law_id}", int(key))] = node.id
            elif "之" in key and "#" not in key:
                articles[(f"law:{law_id}", key)] = node.id
        elif node.kind == "Law":
            props = json.loads(node.props)
            laws.append(LawVersion(node.id, node.name, props.get("status"), props.get("version_date")))
        elif node.kind in kinds:
            props = json.loads(node.props)
            aliases = tuple(dict.fromkeys(alias for prop in ALIAS_PROPS for alias in props.get(prop, ())))
            entries.append(NameEntry(node.id, node.kind, node.name, aliases))
    if "Law" in kinds:
        entries.extend(law_entries(laws))
    return entries, articles
