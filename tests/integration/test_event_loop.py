"""Nothing the chat graph does blocks the event loop, in every retrieval mode that can run
here: blockbuster (what `langgraph dev` runs under) raises on any blocking call made in
the loop's thread while turns run with `ainvoke`.

The store, the embeddings client and the checkpointer's file are opened outside the
guarded section: what is checked is a turn, as a server runs it. CPU work in the language
layer is not something blockbuster can see (see DESIGN); this covers I/O.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from blockbuster import BlockBuster, blockbuster_ctx
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from convrag.graph.builder import build_graph, build_index_graph
from convrag.graph.context import Context
from convrag.knowledge.store import KnowledgeBase
from convrag.settings import Settings
from tests.conftest import sample_documents

from .openai_stub import OpenAIStub

pytestmark = pytest.mark.integration
# Read at import: the autouse fixture in conftest.py clears QDRANT_URL for each test.
SERVER_URL = os.environ.get("QDRANT_URL")
SERVER_KEY = os.environ.get("QDRANT_API_KEY")
QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
             "When did she die?", "谢谢！"]


def play(kb: KnowledgeBase, path: Path, guard: BlockBuster) -> list[dict[str, Any]]:
    """Index a document through the index graph, then play the questions on one thread."""
    context = Context(collection="docs")

    async def turns() -> list[dict[str, Any]]:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            graph = build_graph(saver, knowledge=kb)
            index = build_index_graph(knowledge=kb)
            guard.activate()
            try:
                await index.ainvoke({"collection": "docs", "documents": [
                    {"id": "zh-tea", "text": "龙井茶产于杭州西湖。", "title": "龙井茶"}]})
                return [await graph.ainvoke(
                    {"messages": [{"role": "user", "content": question}]},
                    {"configurable": {"thread_id": "loop"}}, context=context,
                ) for question in QUESTIONS]
            finally:
                guard.deactivate()

    return asyncio.run(turns())


@pytest.fixture
def guard_off() -> Iterator[BlockBuster]:
    """A blockbuster that is off until `play` switches it on around the turns."""
    with blockbuster_ctx() as blockbuster:
        blockbuster.deactivate()
        yield blockbuster


def check(results: list[dict[str, Any]]) -> None:
    assert [r["route"] for r in results] == ["retrieve"] * 5 + ["respond"]
    assert all(r["documents"] for r in results[:5])
    assert "Marie Curie" in results[4]["standalone_question"]


def test_sparse_embedded_store(tmp_path: Path, guard_off: BlockBuster) -> None:
    kb = KnowledgeBase.open(Settings.from_env())
    try:
        kb.ingest("docs", sample_documents())
        check(play(kb, tmp_path / "c.sqlite", guard_off))
    finally:
        kb.close()


def test_hybrid_with_an_http_embedding_server(tmp_path: Path, guard_off: BlockBuster,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("CONVRAG_EMBEDDINGS", "openai:stub-embed")
        kb = KnowledgeBase.open(Settings.from_env())
        try:
            kb.ingest("docs", sample_documents())
            stub.reset()
            check(play(kb, tmp_path / "c.sqlite", guard_off))
            # The dense side really went over HTTP during the guarded turns.
            assert stub.embedding_requests
        finally:
            kb.close()


@pytest.mark.qdrant_server
@pytest.mark.skipif(
    not SERVER_URL,
    reason="QDRANT_URL is not set: no Qdrant server to run turns against (start one, e.g. "
    "`docker run -p 6333:6333 qdrant/qdrant`, and set QDRANT_URL)",
)
def test_qdrant_server(tmp_path: Path, guard_off: BlockBuster,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_URL", SERVER_URL or "")
    if SERVER_KEY:
        monkeypatch.setenv("QDRANT_API_KEY", SERVER_KEY)
    kb = KnowledgeBase.open(Settings.from_env())
    try:
        kb.ingest("docs", sample_documents())
        check(play(kb, tmp_path / "c.sqlite", guard_off))
    finally:
        kb.backend.client.delete_collection("docs")  # type: ignore[attr-defined]
        kb.close()


def test_the_guard_catches_a_search_in_the_loop(tmp_path: Path, guard_off: BlockBuster,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: run the blocking requests in the loop's thread, and it does."""
    import time

    from convrag.nodes import models

    async def in_the_loop(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def slow_search(*args: Any, **kwargs: Any) -> list[Any]:
        time.sleep(0.001)  # what a blocking HTTP round trip looks like to blockbuster
        return []

    kb = KnowledgeBase.open(Settings.from_env())
    try:
        kb.ingest("docs", sample_documents())
        monkeypatch.setattr(kb, "search", slow_search)
        monkeypatch.setattr(models.asyncio, "to_thread", in_the_loop)
        with pytest.raises(Exception, match="Blocking call"):
            play(kb, tmp_path / "c.sqlite", guard_off)
    finally:
        kb.close()
