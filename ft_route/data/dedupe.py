"""Exact and near-duplicate prompts, found in near-linear time with MinHash and banded LSH.

Near-duplicate means character 5-gram Jaccard >= 0.8 on normalised prompts. It applies to written
prompts only: templated ones (from the graph) differ by design in one entity, and 《律师法》第十一条 vs
《教师法》第十一条 already scores 0.8, so those are deduplicated exactly. MinHash bands only
propose candidate pairs; every candidate is confirmed with the exact Jaccard, so nothing is dropped
on a hash collision. With 20 bands of 5 rows, a pair at Jaccard 0.8 becomes a candidate with
probability 1 - (1 - 0.8**5)**20 > 0.9996.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ft_route.data.kg_questions import is_generated
from ft_route.records import SFTExample
from kgft.comparable_text import normalize

SHINGLE_CHARS = 5
NEAR_DUPLICATE_JACCARD = 0.8
BANDS, ROWS = 20, 5
_PRIME = (1 << 31) - 1  # a·x stays below 2**63, so numpy does the hashing in uint64


@dataclass(frozen=True)
class Deduplicated:
    kept: list[SFTExample]
    exact: int
    near: int


def shingles(text: str, size: int = SHINGLE_CHARS) -> frozenset[str]:
    if len(text) <= size:
        return frozenset({text}) if text else frozenset()
    return frozenset(text[i : i + size] for i in range(len(text) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def deduplicate(examples: Sequence[SFTExample]) -> Deduplicated:
    """The first of every group of (near-)identical prompts, in input order."""
    seen: set[str] = set()
    unique: list[tuple[SFTExample, str]] = []
    for example in examples:
        key = normalize(example.prompt)
        if key not in seen:
            seen.add(key)
            unique.append((example, key))
    near = _near_duplicates([(example, key) for example, key in unique if not is_generated(example)])
    kept = [example for example, _ in unique if example.id not in near]
    return Deduplicated(kept, exact=len(examples) - len(unique), near=len(near))


def _near_duplicates(unique: list[tuple[SFTExample, str]]) -> set[str]:
    """Ids of prompts close to an earlier one."""
    hashing = _Permutations(BANDS * ROWS)
    buckets: dict[tuple[int, bytes], list[int]] = {}
    kept_sets: list[frozenset[str]] = []
    dropped: set[str] = set()
    for example, key in unique:
        grams = shingles(key)
        signature = hashing.signature(grams)
        bands = [(band, signature[band * ROWS : (band + 1) * ROWS].tobytes()) for band in range(BANDS)]
        candidates = {index for band in bands for index in buckets.get(band, ())}
        if any(_near(grams, kept_sets[index]) for index in candidates):
            dropped.add(example.id)
            continue
        for band in bands:
            buckets.setdefault(band, []).append(len(kept_sets))
        kept_sets.append(grams)
    return dropped


def _near(a: frozenset[str], b: frozenset[str]) -> bool:
    # Jaccard >= t needs min/max set size >= t: most candidates fail this before any intersection.
    small, large = sorted((len(a), len(b)))
    return small >= NEAR_DUPLICATE_JACCARD * large and jaccard(a, b) >= NEAR_DUPLICATE_JACCARD


class _Permutations:
    """Universal hashes h(x) = (a·x + b) mod p over crc32 shingle ids, seeded so runs agree."""

    def __init__(self, count: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, _PRIME, size=(count, 1), dtype=np.uint64)
        self._b = rng.integers(0, _PRIME, size=(count, 1), dtype=np.uint64)

    def signature(self, grams: frozenset[str]) -> np.ndarray:
        ids = np.array([zlib.crc32(gram.encode()) % _PRIME for gram in grams] or [0], dtype=np.uint64)
        return ((self._a * ids + self._b) % _PRIME).min(axis=1)
