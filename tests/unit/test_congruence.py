"""Congruence: the same ingest and queries through Qdrant Edge and qdrant-client's local mode.

Local mode is the reference (no Qdrant server can run everywhere tests run); the server
comparison (tests/integration/test_qdrant_server.py) uses the same scenario.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from convrag.knowledge import edge
from convrag.knowledge.edge import EdgeBackend
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from tests.congruence import assert_congruent, ranking, run_scenario
from tests.hash_embeddings import HashEmbeddings


def embeddings(hybrid: bool) -> HashEmbeddings | None:
    return HashEmbeddings() if hybrid else None


@pytest.mark.parametrize("hybrid", [False, True], ids=["sparse", "hybrid"])
def test_edge_and_local_mode_agree(tmp_path: Path, hybrid: bool) -> None:
    reference = KnowledgeBase.local_mode(embeddings=embeddings(hybrid))
    on_disk = KnowledgeBase.local_mode(tmp_path / "qdrant", embeddings(hybrid))
    embedded = KnowledgeBase(EdgeBackend(tmp_path / "edge"), embeddings=embeddings(hybrid))
    try:
        expected = run_scenario(reference)
        assert_congruent(run_scenario(on_disk), expected)
        assert_congruent(run_scenario(embedded), expected)
    finally:
        for kb in (reference, on_disk, embedded):
            kb.close()
    # The scenario must observe something, or agreeing would prove nothing.
    assert sum(len(ids) for ranked in expected["rankings"] for _, ids in ranked) > 15
    assert expected["tenant_a"] == ["private"]
    assert expected["reports"][1]["chunks_added"] == 0


WORDS = [f"w{i}" for i in range(400)]


def synthetic(count: int) -> list[SourceDocument]:
    """Documents of random words with a skewed (Zipf-like) frequency, so IDF matters."""
    rng = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    return [
        SourceDocument(
            id=f"d{i}", text=" ".join(rng.choices(WORDS, weights, k=rng.randint(10, 80)))
        )
        for i in range(count)
    ]


def test_sparse_rankings_agree_after_edge_builds_its_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large ingests end with optimize(); a small threshold makes this one count as large.
    monkeypatch.setattr(edge, "OPTIMIZE_AFTER", 100)
    documents = synthetic(1500)
    reference = KnowledgeBase.local_mode()
    embedded = KnowledgeBase(EdgeBackend(tmp_path / "edge"))
    reference.ingest("c", documents)
    embedded.ingest("c", documents)
    rng = random.Random(11)
    try:
        for _ in range(30):
            query = " ".join(rng.sample(WORDS[:200], 3))
            found = embedded.search("c", [query], k=10)
            expected = ranking(reference.search("c", [query], k=10), 10)
            assert_congruent(ranking(found, 10), expected, query)
            assert len(expected) > 5  # mostly distinct scores: ids are compared
    finally:
        reference.close()
        embedded.close()
