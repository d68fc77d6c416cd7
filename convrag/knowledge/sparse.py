"""Sparse BM25 vectors whose IDF half is computed by Qdrant.

BM25 splits into a per-document part (term-frequency saturation and length normalisation)
and a per-corpus part (IDF). The document side is fixed at ingestion, so it is encoded
here; IDF changes with every document added, so it is left to Qdrant's `Modifier.IDF`,
which keeps it current without re-encoding anything.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from convrag.language.tokens import search_terms


class SparseVector(NamedTuple):
    """A sparse vector, indices ascending; each backend converts it to its own type."""

    indices: list[int]
    values: list[float]


def term_index(term: str) -> int:
    """Index of `term` in the sparse vector space: stable across processes and machines.

    Python's `hash` is salted per process, so a CRC is used; 31 bits keeps the value a
    valid non-negative index on every Qdrant backend.
    """
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def _to_vector(weights: dict[str, float]) -> SparseVector:
    by_index: dict[int, float] = {}
    for term, weight in weights.items():
        index = term_index(term)
        # Qdrant rejects repeated indices; summing keeps a rare collision harmless.
        by_index[index] = by_index.get(index, 0.0) + weight
    indices = sorted(by_index)
    return SparseVector(indices, [by_index[i] for i in indices])


class BM25Encoder:
    """Sparse BM25 vectors for Qdrant's IDF modifier.

    The document side carries the BM25 term-frequency saturation
    tf*(k1+1)/(tf+k1*(1-b+b*dl/avgdl)); the query side carries 1.0 per unique term;
    Qdrant (Modifier.IDF on the sparse vector) supplies IDF. `dl` and `avgdl` are counted
    in search terms (content words after stopword removal).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, avgdl: float = 120.0) -> None:
        """Set the BM25 parameters; `avgdl` is the expected chunk length in search terms."""
        if k1 < 0 or not 0 <= b <= 1 or avgdl <= 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and avgdl > 0")
        self.k1 = k1
        self.b = b
        self.avgdl = avgdl

    def encode_document(self, text: str) -> SparseVector:
        """The document-side vector of `text` (empty when it has no search terms)."""
        counts = Counter(search_terms(text))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.avgdl)
        return _to_vector({term: tf * (self.k1 + 1) / (tf + norm) for term, tf in counts.items()})

    def encode_query(
        self, text: str, terms: Mapping[str, float] | None = None
    ) -> SparseVector:
        """The query-side vector of `text`: 1.0 per unique search term.

        `terms` are extra search terms (already in the token space of `search_terms`) with
        their own weights, added to those of the text; terms with a weight of 0 or less are
        left out, since a negative weight would turn BM25 into a penalty.
        """
        weights = dict.fromkeys(search_terms(text), 1.0)
        for term, weight in (terms or {}).items():
            if weight > 0:
                weights[term] = weights.get(term, 0.0) + weight
        return _to_vector(weights)
