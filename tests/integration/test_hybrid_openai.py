"""Hybrid search with real OpenAI-compatible embeddings: langchain-openai against the stub."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convrag.errors import UserError
from convrag.knowledge.store import KnowledgeBase
from convrag.settings import Settings
from tests.conftest import SAMPLES, sample_documents

from .openai_stub import EMBEDDING_DIM, OpenAIStub

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("CONVRAG_EMBEDDINGS", "openai:stub-embed")
        yield running


def test_ingest_and_search_are_hybrid_through_the_endpoint(stub: OpenAIStub) -> None:
    kb = KnowledgeBase.open(Settings.from_env())
    try:
        report = kb.ingest("docs", sample_documents(), batch_size=4)
        assert kb.backend.dense_size("docs") == EMBEDDING_DIM
        embedded = [r for r in stub.embedding_requests if isinstance(r["input"], list)]
        assert sum(len(r["input"]) for r in embedded) >= report.chunks_added
        assert all(r["model"] == "stub-embed" for r in stub.embedding_requests)
        # Plain strings go out: no local tokenizer (it would need a download).
        assert all(isinstance(t, str) for r in embedded for t in r["input"])
        stub.reset()
        hits = kb.search("docs", ["How long is the Mississippi?", "What about the Mississippi?"])
        assert hits[0].doc_id == "en-mississippi"
        assert len(stub.embedding_requests) == 2  # one dense query per question
    finally:
        kb.close()


def test_cli_ingest_twice_adds_nothing_with_dense_vectors(stub: OpenAIStub) -> None:
    def ingest() -> dict[str, int]:
        result = subprocess.run(
            [sys.executable, "-m", "convrag.cli", "ingest", "--json", str(SAMPLES)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    first, second = ingest(), ingest()
    assert first["chunks_added"] == first["total_chunks"] > 0
    assert (second["chunks_added"], second["chunks_unchanged"]) == (0, first["total_chunks"])


def test_unreachable_endpoint_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("CONVRAG_EMBEDDINGS", "openai:stub-embed")
    kb = KnowledgeBase.open(Settings.from_env())
    try:
        with pytest.raises(UserError, match="Cannot reach the embeddings endpoint"):
            kb.ingest("docs", sample_documents())
    finally:
        kb.close()
