"""Shared fixtures: an isolated environment, a small knowledge base, scripted models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase

SAMPLES = Path(__file__).resolve().parents[1] / "convrag" / "samples" / "knowledge.jsonl"
COLLECTION = "test"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CONVRAG_HOME and the offline model unless it says otherwise."""
    home = tmp_path / "home"
    monkeypatch.setenv("CONVRAG_HOME", str(home))
    for name in ("CONVRAG_CHAT_MODEL", "CONVRAG_EMBEDDINGS", "QDRANT_URL", "QDRANT_API_KEY",
                 "CONVRAG_POSTGRES_URI", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


def sample_documents() -> list[SourceDocument]:
    """The bundled zh + en sample corpus."""
    rows = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()]
    return [SourceDocument(id=r["id"], text=r["text"], title=r.get("title")) for r in rows]


@pytest.fixture
def kb() -> Iterator[KnowledgeBase]:
    """An in-memory knowledge base holding the sample corpus in collection 'test'."""
    base = KnowledgeBase.in_memory()
    base.ingest(COLLECTION, sample_documents())
    yield base
    base.close()


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model that plays scripted replies and supports structured output.

    langchain-core's fakes lack `bind_tools`; returning self lets
    `with_structured_output` work, reading the tool call of the next scripted reply.
    """

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self


def tool_reply(name: str, arguments: dict[str, Any]) -> AIMessage:
    """A scripted AI message that calls `name` with `arguments` (structured output)."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": arguments, "id": "call_1"}])


def scripted_model(*replies: AIMessage | str) -> ScriptedChatModel:
    """A ScriptedChatModel that plays `replies` in order."""
    return ScriptedChatModel(
        messages=iter(r if isinstance(r, AIMessage) else AIMessage(content=r) for r in replies)
    )


def spy_queries(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record every query `kb` sends its backend: {"name", "legs", "tenant", "limit", ...}."""
    calls: list[dict[str, Any]] = []
    query = kb.backend.query

    def spy(name: str, legs: Any, **kwargs: Any) -> Any:
        calls.append({"name": name, "legs": list(legs), **kwargs})
        return query(name, legs, **kwargs)

    monkeypatch.setattr(kb.backend, "query", spy)
    return calls
