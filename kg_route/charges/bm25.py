"""Okapi BM25 over character n-grams, as sparse matrices: Chinese needs no word segmenter for it.

Documents are weighted once at build time (k1, b from Robertson & Zaragoza's usual 1.2 / 0.75); a query
is the set of its n-grams, so scoring is one column slice and a row sum (about 0.5 ms over 6.5k cases).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

K1, B = 1.2, 0.75


def char_grams(text: str, n: int) -> list[str]:
    compact = "".join(text.split())
    return [compact[i : i + n] for i in range(len(compact) - n + 1)]


class CharBM25:
    """Documents × vocabulary BM25 weights; `scores(query)` is each document's BM25 score."""

    def __init__(self, documents: Sequence[str], n: int = 2, *, k1: float = K1, b: float = B):
        self.n, self.k1, self.b = n, k1, b
        self.vocabulary: dict[str, int] = {}
        indices: list[int] = []
        counts: list[int] = []
        pointers = [0]
        for document in documents:
            for gram, count in Counter(char_grams(document, n)).items():
                indices.append(self.vocabulary.setdefault(gram, len(self.vocabulary)))
                counts.append(count)
            pointers.append(len(indices))
        shape = (len(documents), max(1, len(self.vocabulary)))
        tf = sp.csr_matrix((np.asarray(counts, dtype=np.float64), indices, pointers), shape=shape).tocoo()
        lengths = np.bincount(tf.row, weights=tf.data, minlength=len(documents))
        frequency = np.bincount(tf.col, minlength=shape[1])
        self.idf = np.log1p((len(documents) - frequency + 0.5) / (frequency + 0.5))
        self.mean_length = max(lengths.mean(), 1e-9) if len(documents) else 1.0
        weights = self._weights(tf.data, lengths[tf.row], tf.col)
        self.weights = sp.csc_matrix((weights, (tf.row, tf.col)), shape=shape)

    def columns(self, query: str) -> np.ndarray:
        """The vocabulary columns of the query's distinct n-grams (unknown ones score nothing)."""
        found = {self.vocabulary.get(gram) for gram in char_grams(query, self.n)}
        found.discard(None)
        return np.fromiter(sorted(found), dtype=np.int64)  # type: ignore[arg-type]

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's columns and BM25 weights as if it were one more document (what a model fitted on
        `weights` rows reads); unknown n-grams are dropped."""
        counts = Counter(char_grams(text, self.n))
        known = sorted(
            (self.vocabulary[gram], count) for gram, count in counts.items() if gram in self.vocabulary
        )
        columns = np.fromiter((column for column, _ in known), dtype=np.int64, count=len(known))
        tf = np.fromiter((count for _, count in known), dtype=np.float64, count=len(known))
        return columns, self._weights(tf, np.full(tf.shape, float(sum(counts.values()))), columns)

    def _weights(self, tf: np.ndarray, lengths: np.ndarray, columns: np.ndarray) -> np.ndarray:
        norm = self.k1 * (1 - self.b + self.b * lengths / self.mean_length)
        return tf * (self.k1 + 1) / (tf + norm) * self.idf[columns]

    def scores(self, columns: np.ndarray) -> np.ndarray:
        if columns.size == 0:
            return np.zeros(self.weights.shape[0])
        return np.asarray(self.weights[:, columns].sum(axis=1)).ravel()
