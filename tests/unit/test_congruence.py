"""Congruence: the same ingest and queries through Qdrant's ':memory:' and on-disk local modes.

The server comparison (tests/integration/test_qdrant_server.py) uses the same scenario;
this one runs everywhere, so the comparison itself is always exercised.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from convrag.knowledge.store import KnowledgeBase
from tests.congruence import run_scenario
from tests.hash_embeddings import HashEmbeddings


@pytest.mark.parametrize("hybrid", [False, True], ids=["sparse", "hybrid"])
def test_memory_and_path_modes_agree(tmp_path: Path, hybrid: bool) -> None:
    def embeddings() -> HashEmbeddings | None:
        return HashEmbeddings() if hybrid else None

    memory = KnowledgeBase(QdrantClient(":memory:"), embeddings=embeddings())
    on_disk = KnowledgeBase(QdrantClient(path=str(tmp_path / "qdrant")), embeddings=embeddings())
    try:
        expected = run_scenario(memory)
        assert run_scenario(on_disk) == expected
    finally:
        memory.close()
        on_disk.close()
    # The scenario must observe something, or agreeing would prove nothing.
    assert all(expected["rankings"][i] for i in (0, 3, 5))
    assert expected["tenant_a"] == ["private"]
    assert expected["reports"][1]["chunks_added"] == 0
