"""Congruence with a Qdrant server: the same ingest and queries as Qdrant Edge, same rankings.

Runs when QDRANT_URL (and QDRANT_API_KEY if the server needs one) is set in the environment
pytest starts with; otherwise every test here is reported as skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from convrag.knowledge.client import ClientBackend
from convrag.knowledge.store import KnowledgeBase
from tests import congruence
from tests.hash_embeddings import HashEmbeddings

# Read at import: the autouse fixture in conftest.py clears QDRANT_URL for each test.
SERVER_URL = os.environ.get("QDRANT_URL")
SERVER_KEY = os.environ.get("QDRANT_API_KEY")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.qdrant_server,
    pytest.mark.skipif(
        not SERVER_URL,
        reason="QDRANT_URL is not set: no Qdrant server to compare Qdrant Edge against "
        "(start one, e.g. `docker run -p 6333:6333 qdrant/qdrant`, and set QDRANT_URL)",
    ),
]


@pytest.fixture
def collection(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A collection name of its own on the shared server, dropped afterwards."""
    name = f"convrag-congruence-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(congruence, "COLLECTION", name)
    yield name
    assert SERVER_URL
    server = ClientBackend.connect(SERVER_URL, SERVER_KEY)
    server.client.delete_collection(name)
    server.close()


@pytest.mark.parametrize("hybrid", [False, True], ids=["sparse", "hybrid"])
def test_local_and_server_agree(collection: str, hybrid: bool) -> None:
    assert SERVER_URL
    local = KnowledgeBase.in_memory(HashEmbeddings() if hybrid else None)
    server = KnowledgeBase(
        ClientBackend.connect(SERVER_URL, SERVER_KEY),
        embeddings=HashEmbeddings() if hybrid else None,
    )
    try:
        expected = congruence.run_scenario(local)
        congruence.assert_congruent(congruence.run_scenario(server), expected)
    finally:
        local.close()
        server.close()
