"""BM25Encoder: stable term indices, the document-side BM25 weights, the query side."""

from __future__ import annotations

import zlib

import pytest

from convrag.knowledge import sparse
from convrag.knowledge.sparse import BM25Encoder, term_index
from convrag.language.tokens import search_terms


def weights(vector) -> dict[int, float]:
    return dict(zip(vector.indices, vector.values, strict=True))


def test_term_index_is_stable_crc32() -> None:
    # Pinned values: indices are stored in Qdrant, so they must never change across releases.
    assert term_index("river") == zlib.crc32(b"river") & 0x7FFFFFFF
    assert term_index("尼罗河") == zlib.crc32("尼罗河".encode()) & 0x7FFFFFFF
    assert 0 <= term_index("anything") < 2**31


@pytest.mark.parametrize(
    ("text", "expected_terms"),
    [
        ("How long is the Nile river?", ["long", "nile", "river"]),
        ("rivers river RIVER", ["river"]),
        ("尼罗河有多长？", search_terms("尼罗河有多长？")),
        ("the of and", []),
        ("", []),
    ],
)
def test_query_has_one_per_unique_term(text: str, expected_terms: list[str]) -> None:
    vector = BM25Encoder().encode_query(text)
    assert weights(vector) == {term_index(t): 1.0 for t in set(expected_terms)}
    assert vector.indices == sorted(vector.indices)


def test_document_weights_follow_bm25_saturation() -> None:
    k1, b, avgdl = 1.2, 0.75, 4.0
    vector = BM25Encoder(k1=k1, b=b, avgdl=avgdl).encode_document("river river delta")
    dl = 3  # river, river, delta

    def expected(tf: int) -> float:
        return tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

    got = weights(vector)
    assert got[term_index("river")] == pytest.approx(expected(2))
    assert got[term_index("delta")] == pytest.approx(expected(1))


def test_longer_documents_weigh_a_term_less_and_tf_saturates() -> None:
    encoder = BM25Encoder(avgdl=10)
    short = weights(encoder.encode_document("nile delta"))[term_index("nile")]
    long = weights(encoder.encode_document("nile " + "delta " * 30))[term_index("nile")]
    assert long < short
    many = weights(encoder.encode_document("nile " * 200))[term_index("nile")]
    assert many < encoder.k1 + 1


def test_empty_document_gives_empty_vector() -> None:
    vector = BM25Encoder().encode_document("  ，。 ")
    assert vector.indices == [] and vector.values == []


def test_colliding_terms_are_summed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sparse, "term_index", lambda term: 7)
    vector = BM25Encoder().encode_query("nile amazon yangtze")
    assert weights(vector) == {7: 3.0}


@pytest.mark.parametrize("params", [{"k1": -1}, {"b": 1.5}, {"avgdl": 0}])
def test_rejects_invalid_parameters(params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BM25Encoder(**params)
