"""Model mode through the real langchain-openai client against a loopback server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.nodes.models import unregister_chat_model
from tests.conftest import COLLECTION

from .openai_stub import OpenAIStub, Reply, Text

MODEL = "openai:stub-model"
pytestmark = pytest.mark.integration

REWRITE = {
    "reasoning": "它 is the Nile, named in the previous question.",
    "scenario": "pronoun",
    "mentions": [{"mention": "它", "antecedent": "尼罗河"}],
    "standalone_question": "尼罗河有多长？",
    "route": "retrieve",
}
ANSWER = "尼罗河全长约6650公里，是世界上最长的河流之一 [1]。"


def responder(request: dict[str, Any]) -> Reply:
    """Structured requests get the rewrite; everything else the grounded answer."""
    if request.get("response_format") or request.get("tools"):
        if request.get("tools"):
            from .openai_stub import ToolCall

            return ToolCall(request["tools"][0]["function"]["name"], REWRITE)
        return Text(json.dumps(REWRITE, ensure_ascii=False))
    return Text(ANSWER)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    with OpenAIStub(responder) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("CONVRAG_CHAT_MODEL", MODEL)
        unregister_chat_model(MODEL)
        yield server
        unregister_chat_model(MODEL)


def test_model_mode_through_the_openai_client(kb, stub):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    config = {"configurable": {"thread_id": "srv"}}
    context = Context(collection=COLLECTION)

    async def conversation() -> tuple[dict[str, Any], list[str]]:
        await graph.ainvoke({"messages": [{"role": "user", "content": "尼罗河是什么？"}]},
                            config, context=context)
        tokens: list[str] = []
        final: dict[str, Any] = {}
        async for mode, chunk in graph.astream(
            {"messages": [{"role": "user", "content": "它有多长？"}]}, config,
            context=context, stream_mode=["messages", "values"],
        ):
            if mode == "messages":
                message, metadata = chunk
                if metadata.get("langgraph_node") == "answer" and message.content:
                    tokens.append(message.content)
            else:
                final = chunk
        return final, tokens

    final, tokens = asyncio.run(conversation())
    assert final["standalone_question"] == "尼罗河有多长？"
    assert final["rewrite"]["mode"] == "model"
    assert final["llm_calls"] == 2
    assert len(tokens) > 1 and "".join(tokens) == ANSWER
    assert final["messages"][-1].content == ANSWER
    # Turn 1 (standalone) made one call; turn 2 a structured call and a streamed answer.
    chats = stub.chat_requests
    assert len(chats) == 3
    assert any(r.get("response_format") or r.get("tools") for r in chats)
    # The questions and passages travel as data in the user message, not in the system one.
    system, data = chats[-1]["messages"][0]["content"], chats[-1]["messages"][-1]["content"]
    assert "<resolved_question>尼罗河有多长？</resolved_question>" in data
    assert "<question>它有多长？</question>" in data and "[1]" in data
    assert "它有多长" not in system
