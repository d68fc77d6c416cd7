"""Hybrid search: dense + sparse prefetches fused with RRF in Qdrant; embeddings set-up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import models

from convrag.errors import UserError
from convrag.knowledge import dense
from convrag.knowledge.dense import load_embeddings
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import DENSE_VECTOR, SPARSE_VECTOR, KnowledgeBase, QueryLeg
from convrag.settings import Settings
from tests.conftest import sample_documents, spy_queries
from tests.hash_embeddings import HashEmbeddings

NAME = "hybrid"


@pytest.fixture
def hybrid_kb() -> KnowledgeBase:
    kb = KnowledgeBase.in_memory(HashEmbeddings(dimension=64))
    kb.ingest(NAME, sample_documents())
    return kb




def test_collection_gets_a_named_dense_vector(hybrid_kb: KnowledgeBase) -> None:
    assert hybrid_kb.backend.dense_size(NAME) == 64
    local = KnowledgeBase.local_mode(embeddings=HashEmbeddings(dimension=64))
    local.ingest(NAME, sample_documents()[:1])
    params = local.backend.client.get_collection(NAME).config.params  # type: ignore[attr-defined]
    assert isinstance(params.vectors, dict)
    assert params.vectors[DENSE_VECTOR].size == 64
    assert params.vectors[DENSE_VECTOR].distance == models.Distance.COSINE
    assert params.sparse_vectors is not None and SPARSE_VECTOR in params.sparse_vectors
    (point,), _ = local.backend.client.scroll(NAME, limit=1, with_vectors=True)  # type: ignore[attr-defined]
    assert isinstance(point.vector, dict) and set(point.vector) == {DENSE_VECTOR, SPARSE_VECTOR}


@pytest.mark.parametrize("queries", [["尼罗河有多长？"], ["它有多长？", "尼罗河有多长？"]])
def test_every_query_prefetches_dense_and_sparse_fused_by_rrf_in_one_call(
    hybrid_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, queries: list[str]
) -> None:
    calls = spy_queries(hybrid_kb, monkeypatch)
    hits = hybrid_kb.search(NAME, queries, k=3)
    assert hits[0].doc_id == "zh-nile"
    (call,) = calls
    legs = sorted(leg.using for leg in call["legs"])
    assert legs == sorted([DENSE_VECTOR, SPARSE_VECTOR] * len(queries))


def test_a_leg_weight_applies_to_its_dense_leg_too(
    hybrid_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_queries(hybrid_kb, monkeypatch)
    hybrid_kb.search(NAME, [QueryLeg("尼罗河有多长？", weight=2.0), QueryLeg(terms={"nile": 1.0})])
    (call,) = calls
    # The terms-only leg has no text to embed, so it has no dense leg.
    assert [leg.using for leg in call["legs"]] == [SPARSE_VECTOR, SPARSE_VECTOR, DENSE_VECTOR]
    assert [leg.weight for leg in call["legs"]] == pytest.approx([2.0, 1.0, 2.0], rel=1e-3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Who was Marie Curie?", "en-curie"),
        ("Where does the Mississippi flow?", "en-mississippi"),
        ("长江发源于哪里", "zh-yangtze"),
    ],
)
def test_hybrid_ranks_the_relevant_document_first(
    hybrid_kb: KnowledgeBase, query: str, expected: str
) -> None:
    assert hybrid_kb.search(NAME, [query], k=3)[0].doc_id == expected


def test_hybrid_keeps_tenants_apart() -> None:
    kb = KnowledgeBase.in_memory(HashEmbeddings(dimension=32))
    kb.ingest(NAME, [SourceDocument(id="a", text="Alpha owns the Nile notes.")], tenant="a")
    kb.ingest(NAME, [SourceDocument(id="b", text="Beta owns the Nile notes.")], tenant="b")
    for tenant in ("a", "b"):
        # The dense side would match both documents; the filter is on every prefetch.
        assert [h.doc_id for h in kb.search(NAME, ["Nile notes"], tenant=tenant)] == [tenant]


def test_reingesting_embeds_only_new_chunks(hybrid_kb: KnowledgeBase) -> None:
    embeddings = hybrid_kb.embeddings
    assert isinstance(embeddings, HashEmbeddings)
    before = embeddings.calls
    report = hybrid_kb.ingest(NAME, sample_documents())
    assert report.chunks_added == 0
    assert embeddings.calls == before


def test_sparse_collection_used_with_dense_is_a_user_error() -> None:
    sparse = KnowledgeBase.in_memory()
    sparse.ingest(NAME, sample_documents())
    hybrid = KnowledgeBase(sparse.backend, embeddings=HashEmbeddings(), embeddings_name="openai:m")
    for attempt in (
        lambda: hybrid.search(NAME, ["Nile"]),
        lambda: hybrid.ingest(NAME, sample_documents()),
    ):
        with pytest.raises(UserError) as error:
            attempt()
        assert str(error.value) == (
            f"The collection '{NAME}' was built for BM25 search only, but "
            "CONVRAG_EMBEDDINGS=openai:m asks for hybrid search: re-ingest your documents "
            "into a new collection (--collection NAME), or set CONVRAG_EMBEDDINGS=bm25 to use "
            "it as it is."
        )


def test_dense_collection_used_without_dense_is_a_user_error(hybrid_kb: KnowledgeBase) -> None:
    sparse = KnowledgeBase(hybrid_kb.backend)
    with pytest.raises(UserError, match="built for hybrid search.*new collection"):
        sparse.search(NAME, ["Nile"])
    with pytest.raises(UserError, match="CONVRAG_EMBEDDINGS=bm25"):
        sparse.ingest(NAME, sample_documents())
    # Deleting needs no embeddings, so it works whatever the mode.
    assert sparse.delete(NAME, ["en-curie"]).chunks_removed > 0


def test_another_dense_dimension_is_a_user_error(hybrid_kb: KnowledgeBase) -> None:
    other = KnowledgeBase(hybrid_kb.backend, embeddings=HashEmbeddings(dimension=32))
    with pytest.raises(UserError, match="64-dimensional dense vectors.*32-dimensional"):
        other.search(NAME, ["Nile"])


# --- load_embeddings -----------------------------------------------------------------------


def test_bm25_means_no_dense_model() -> None:
    assert load_embeddings("bm25") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [("cohere:embed", "is not supported"), ("openai:", "names no model")],
)
def test_unknown_embeddings_are_a_user_error(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_embeddings(spec)


def test_openai_embeddings_need_a_key() -> None:
    with pytest.raises(UserError, match="needs OPENAI_API_KEY"):
        load_embeddings("openai:text-embedding-3-small")


def test_openai_embeddings_do_not_tokenize_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    embeddings = load_embeddings("openai:text-embedding-3-small")
    assert embeddings is not None
    assert embeddings.check_embedding_ctx_length is False  # type: ignore[attr-defined]


def test_fastembed_missing_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastembed", None)  # import fails as if not installed
    with pytest.raises(UserError, match="needs the fastembed package"):
        load_embeddings("fastembed:BAAI/bge-small-en-v1.5")


def test_fastembed_model_not_on_disk_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoModel:
        def __init__(self, **kwargs: Any) -> None:
            assert kwargs["local_files_only"] is True  # never downloads
            raise ValueError("Could not load model from any source")

    module = type(sys)("fastembed")
    module.TextEmbedding = NoModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fastembed", module)
    with pytest.raises(UserError, match="'BAAI/bge-small-en-v1.5' is not on disk"):
        load_embeddings("fastembed:BAAI/bge-small-en-v1.5")


def test_fastembed_adapter_uses_query_embed_for_queries() -> None:
    class Model:
        def embed(self, texts: list[str]) -> Any:
            return (FakeArray([1.0, float(len(t))]) for t in texts)

        def query_embed(self, text: str) -> Any:
            return iter([[0.5, 0.5]])

    class FakeArray(list):
        def tolist(self) -> list[float]:
            return list(self)

    adapter = dense.FastEmbedEmbeddings(Model())
    assert adapter.embed_documents(["ab"]) == [[1.0, 2.0]]
    assert adapter.embed_query("q") == [0.5, 0.5]


def test_settings_embeddings_reach_the_knowledge_base(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dense, "_openai", lambda spec, model: HashEmbeddings(dimension=16))
    settings = Settings.from_env({"CONVRAG_EMBEDDINGS": "openai:m", "CONVRAG_HOME": str(tmp_path)})
    kb = KnowledgeBase.open(settings)
    try:
        assert kb.hybrid and kb.embeddings_name == "openai:m"
    finally:
        kb.close()
