"""Linker inputs read from the shared data files: statutes (laws + articles jsonl) and CMeKG triples.

Node ids follow the graph's fixed scheme (law:{law_id}, article:{law_id}:{n}, cmekg:{name}), so a
link from these entries lands on the node ingestion wrote.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from kg_route.linking.law_aliases import law_entries, law_node_id
from kg_route.linking.linker import NameEntry

CMEKG_SUBJECT_KINDS = {"disease": "Disease", "drug": "Drug", "other": "Other"}
# Objects that are entities a question names; the rest (成份, 用法用量, ICD10 ...) are attributes or text.
CMEKG_OBJECT_KINDS = {"常见症状": "Symptom", "相关症状": "Symptom", "临床症状及体征": "Symptom", "就诊科室": "Department"}
CMEKG_ALIAS_PREDICATE = "别称"


class Triple(NamedTuple):
    subject_type: str
    subject: str
    predicate: str
    object: str


def article_node_id(law_id: str, number: int) -> str:
    return f"article:{law_id}:{number}"


def cmekg_node_id(name: str) -> str:
    return f"cmekg:{name}"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def statute_inputs(statutes_dir: Path) -> tuple[list[NameEntry], dict[tuple[str, int], str]]:
    """Law name entries and the (law node id, article number) → article node id table.

    Rows without an Arabic number (25 修正案 "全文" rows) have no article node id and are left out.
    """
    entries = law_entries(read_jsonl(statutes_dir / "laws.jsonl"))
    articles = {
        (law_node_id(row["law_id"]), row["article_no_arabic"]): article_node_id(row["law_id"], row["article_no_arabic"])
        for path in sorted(statutes_dir.glob("articles.part*.jsonl"))
        for row in read_jsonl(path)
        if row["article_no_arabic"] is not None
    }
    return entries, articles


def read_cmekg(cmekg_dir: Path) -> Iterator[Triple]:
    """Triples from cmekg_triples.part*.tsv.gz, header skipped (some objects exceed csv's field limit)."""
    for path in sorted(cmekg_dir.glob("cmekg_triples.part*.tsv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            next(lines)
            for line in lines:
                yield Triple(*line.rstrip("\n").split("\t", 3))


def cmekg_entries(triples: Iterator[Triple]) -> list[NameEntry]:
    """Subjects (with their 别称 as aliases), then symptom and department objects that are not subjects.

    Objects cut from lists keep a trailing 等 ("排尿困难等"); the name without it is an alias.
    """
    subject_kinds: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    object_kinds: dict[str, str] = {}
    for triple in triples:
        subject_kinds.setdefault(triple.subject, CMEKG_SUBJECT_KINDS.get(triple.subject_type, "Other"))
        if triple.predicate == CMEKG_ALIAS_PREDICATE:
            aliases.setdefault(triple.subject, []).append(triple.object)
        elif triple.predicate in CMEKG_OBJECT_KINDS:
            object_kinds.setdefault(triple.object, CMEKG_OBJECT_KINDS[triple.predicate])
    entries = [
        NameEntry(cmekg_node_id(name), kind, name, tuple(dict.fromkeys(aliases.get(name, ()))))
        for name, kind in subject_kinds.items()
    ]
    for name, kind in object_kinds.items():
        if name not in subject_kinds:
            trimmed = name.removesuffix("等")
            entries.append(NameEntry(cmekg_node_id(name), kind, name, (trimmed,) if trimmed != name else ()))
    return entries
