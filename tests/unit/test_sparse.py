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


def _random_cjk(n: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n))


@pytest.mark.parametrize("text", [
    "长江发源于青藏高原，流经十一个省级行政区，最后注入东海。",
    "中国人民大学文学院在哪里？居里夫人哪一年获得诺贝尔奖？",
    "When did Marie Curie win the Nobel Prize? 她在1934年去世。",
    "拉丹冬峰是唐古拉山脉的主峰，格拉丹东雪山群位于青海省。",
])
def test_ordinary_text_keeps_jiebas_search_mode_terms(text: str) -> None:
    """Ordinary text is tokenized by jieba's search mode with its HMM, as before."""
    import jieba

    from convrag.language import tokens

    expected: list[str] = []
    for segment in tokens._SEGMENTS.findall(text):
        if tokens.has_cjk(segment):
            expected += [w for w in jieba.lcut_for_search(segment) if w not in tokens.ZH_STOPWORDS]
        else:
            expected += [tokens._stem(w) for w in tokens.en_words(segment)
                         if w not in tokens.EN_STOPWORDS]
    assert search_terms(text) == expected


@pytest.mark.parametrize(
    "text", [_random_cjk(2000, 1), "长江" + _random_cjk(60, 4), _random_cjk(300, 2) + "长江"]
)
def test_long_unknown_runs_are_cut_by_the_dictionary_alone(text: str) -> None:
    """A run of unknown characters longer than LONG_RUN_CHARS: jieba's search mode
    without the HMM (dictionary words and their sub-words), stopwords dropped."""
    import jieba

    from convrag.language import tokens

    assert tokens.longest_single_char_run(tokens.zh_cut(text)) > tokens.LONG_RUN_CHARS
    expected = [w for w in jieba.lcut_for_search(text, HMM=False) if w not in tokens.ZH_STOPWORDS]
    assert search_terms(text) == expected


def test_search_terms_are_a_fresh_list_each_call() -> None:
    """Cached by text, but a caller may change its list without changing the next one's."""
    first = search_terms("长江有多长？")
    first.append("changed")
    assert "changed" not in search_terms("长江有多长？")
