"""Disease facts from the CMeKG triples (subject_type, subject, predicate, object), objects normalised."""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

from eval.datasets.base import DatasetError

HEADER = ["subject_type", "subject", "predicate", "object"]
# One object cell may hold several values ("妇产科；精神心理科"); fragments end in "等" ("排尿困难等").
_SEPARATORS = re.compile(r"[；;、，,]")
MIN_OBJECT_CHARS = 2  # single characters ("热", "眼") are fragments, not answers

Facts = dict[str, dict[str, set[str]]]  # predicate -> disease -> objects


def disease_facts(folder: Path, predicates: Collection[str]) -> Facts:
    paths = sorted(folder.glob("cmekg_triples.part*.tsv.gz"))
    if not paths:
        raise DatasetError(f"{folder} has no cmekg_triples.part*.tsv.gz")
    facts: Facts = {predicate: defaultdict(set) for predicate in predicates}
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            if handle.readline().rstrip("\n").split("\t") != HEADER:
                raise DatasetError(f"{path}: expected the header {' '.join(HEADER)}")
            for line in handle:
                kind, subject, predicate, value = line.rstrip("\n").split("\t")
                if kind == "disease" and predicate in facts:
                    facts[predicate][subject].update(normalize(value))
    return facts


def normalize(value: str) -> set[str]:
    parts = (part.strip().removesuffix("等").strip() for part in _SEPARATORS.split(value))
    return {part for part in parts if len(part) >= MIN_OBJECT_CHARS}
