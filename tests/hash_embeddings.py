"""A deterministic local embedding for tests and benchmarks only (never the product).

Hashed features: lower-cased Latin words and CJK character bigrams, each hashed (CRC32,
stable across processes) to a bucket and a sign, plus character trigrams at a tenth of the
weight, L2-normalised. Texts that share words or bigrams get a clearly positive cosine;
the trigrams give unrelated texts small, distinct cosines instead of exact ties at 0, which
engines would order arbitrarily. Nothing is downloaded and no model runs.
"""

from __future__ import annotations

import math
import re
import zlib

from langchain_core.embeddings import Embeddings

_LATIN = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def features(text: str) -> list[str]:
    """Latin words and CJK bigrams (a lone ideograph counts as itself)."""
    lowered = text.lower()
    found = _LATIN.findall(lowered)
    for run in _CJK_RUN.findall(lowered):
        found.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return found


class HashEmbeddings(Embeddings):
    """Feature-hashing embeddings of `dimension` floats."""

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.calls = 0

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        lowered = text.lower()
        trigrams = [lowered[i : i + 3] for i in range(len(lowered) - 2)]
        weighted = [(f, 1.0) for f in features(text)] + [(f"#{t}", 0.1) for t in trigrams]
        for feature, weight in weighted:
            code = zlib.crc32(feature.encode("utf-8"))
            vector[code % self.dimension] += weight if code & 0x80000000 else -weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._embed(text)
