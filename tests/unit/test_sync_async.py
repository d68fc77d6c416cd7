"""Every graph with the sync and the async API, standalone and inside parent graphs, and
the bounded ways to run it: retention by default, and the embedding recipe."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState, StateGraph

from convrag.graph.builder import build_embedded_graph, build_graph, build_index_graph
from convrag.graph.context import Context
from convrag.graph.embed import ConvragState, as_node
from convrag.graph.retention import PRUNE_EVERY
from convrag.graph.tools import as_tool
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)
QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
             "When did she die?", "谢谢！"]


def user(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


def config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def test_chat_graph_invoke_and_stream(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    graph.invoke(user("尼罗河是什么？"), config("s"), context=CTX)
    updates = list(graph.stream(user("它有多长？"), config("s"), context=CTX))
    nodes = [node for update in updates for node in update]
    assert nodes == ["compact_history", "resolve_coreference", "decide_retrieval", "retrieve",
                     "answer"]
    values = graph.get_state(config("s")).values
    assert values["standalone_question"] == "尼罗河有多长？"
    assert "6650" in values["messages"][-1].content


def test_chat_graph_ainvoke_and_astream(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)

    async def scenario() -> list[Any]:
        await graph.ainvoke(user("Who was Marie Curie?"), config("a"), context=CTX)
        return [u async for u in graph.astream(user("When did she die?"), config("a"),
                                               context=CTX, stream_mode="values")]

    last = asyncio.run(scenario())[-1]
    assert last["standalone_question"] == "When did Marie Curie die?"
    assert "1934" in last["messages"][-1].content


def test_index_graph_sync_and_async(kb):
    graph = build_index_graph(knowledge=kb)
    record = {"id": "zh-tea", "text": "龙井茶产于杭州西湖。", "title": "龙井茶"}
    first = graph.invoke({"documents": [record], "collection": "tea"})
    again = asyncio.run(graph.ainvoke({"documents": [record], "collection": "tea"}))
    assert first["chunks_added"] == 1 and first["total_chunks"] == 1
    assert again["chunks_added"] == 0 and again["chunks_unchanged"] == 1


def test_tool_sync_and_async(kb):
    ask = as_tool(build_graph(knowledge=kb), context=CTX)
    sync_text = ask.invoke({"question": "尼罗河有多长？"})
    async_text = asyncio.run(ask.ainvoke({"question": "尼罗河有多长？"}))
    assert sync_text == async_text
    assert "6650" in sync_text and "(zh-nile)" in sync_text


def plain_parent(kb: Any) -> Any:
    """The graph added as it is to a MessagesState parent (grows; kept working)."""
    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("convrag", build_graph(knowledge=kb))
    builder.add_edge(START, "convrag")
    return builder.compile(checkpointer=InMemorySaver())


def bounded_parent(kb: Any) -> Any:
    """The supported recipe: the parent's state extends ConvragState, the node is as_node()."""
    builder = StateGraph(ConvragState, context_schema=Context)
    builder.add_node("convrag", as_node(build_embedded_graph(knowledge=kb)))
    builder.add_edge(START, "convrag")
    return builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("make_parent", [plain_parent, bounded_parent])
def test_sync_parent_graph(kb, make_parent):
    parent = make_parent(kb)
    parent.invoke(user("尼罗河是什么？"), config("p"), context=CTX)
    out = parent.invoke(user("它有多长？"), config("p"), context=CTX)
    assert "6650" in out["messages"][-1].content


@pytest.mark.parametrize("make_parent", [plain_parent, bounded_parent])
def test_async_parent_graph(kb, make_parent):
    parent = make_parent(kb)

    async def scenario() -> dict[str, Any]:
        await parent.ainvoke(user("Who was Marie Curie?"), config("p"), context=CTX)
        return await parent.ainvoke(user("When did she die?"), config("p"), context=CTX)

    assert "1934" in asyncio.run(scenario())["messages"][-1].content


def test_embedded_thread_stays_bounded_and_compacts(kb):
    parent = bounded_parent(kb)
    sizes = []
    for turn in range(1, 91):
        out = parent.invoke(user(QUESTIONS[turn % len(QUESTIONS)]), config("b"), context=CTX)
        sizes.append(len(out["messages"]))
    # Compaction removes the folded turns from the parent's own thread too...
    assert max(sizes[60:]) <= max(sizes[:40])
    assert min(sizes[40:]) < sizes[39]
    # ...keeps the summary and entities there, and folds several turns at a time.
    assert out["summary"] and out["entities"]
    assert 1 <= out["summary_calls"] <= 90 // CTX.summary_every_turns
    # The subgraph itself saves nothing in the parent's checkpointer.
    namespaces = parent.checkpointer.storage["b"]
    assert set(namespaces) == {""}


def test_default_retention_bounds_a_sqlite_thread(kb, tmp_path: Path):
    path = tmp_path / "checkpoints.sqlite"
    # As the README shows it: a plain SqliteSaver, build_graph, invoke.
    graph = build_graph(SqliteSaver(sqlite3.connect(path, check_same_thread=False)),
                        knowledge=kb)
    for turn in range(200):
        graph.invoke(user(QUESTIONS[turn % len(QUESTIONS)]), config("long"), context=CTX)
    history = list(graph.get_state_history(config("long")))
    size = sum(p.stat().st_size for p in tmp_path.glob("checkpoints.sqlite*"))
    # Pruned on the first turn, then every PRUNE_EVERY turns: here on turns 1, 11, …, 191.
    assert len(history) == CTX.keep_checkpoints + (200 - 191)
    assert size < 2_000_000
    # Time travel inside the kept window: fork from the oldest kept turn.
    oldest = history[-1]
    forked = graph.invoke(user("尼罗河是什么？"), oldest.config, context=CTX)
    assert forked["route"] == "retrieve"


def test_retention_is_the_default_with_ainvoke_too(kb):
    saver = InMemorySaver()
    graph = build_graph(saver, knowledge=kb)
    keep_three = Context(collection=COLLECTION, keep_checkpoints=3)

    async def scenario() -> list[Any]:
        for turn in range(PRUNE_EVERY + 1):  # pruned on the first turn and this last one
            await graph.ainvoke(user(QUESTIONS[turn % len(QUESTIONS)]), config("r"),
                                context=keep_three)
        return [s async for s in graph.aget_state_history(config("r"))]

    kept = asyncio.run(scenario())
    assert len(kept) == 3  # one checkpoint per turn, the newest three
    assert kept[0].values["turn"] == PRUNE_EVERY + 1


def test_a_checkpointer_brought_by_someone_else_is_not_pruned(kb):
    saver = InMemorySaver()
    graph = build_graph(knowledge=kb).copy({"checkpointer": saver})  # as the server does
    for question in QUESTIONS[:2]:
        graph.invoke(user(question), config("server"), context=CTX)
    assert len(list(graph.get_state_history(config("server")))) > 2 * 2


def test_sync_and_async_runs_agree(kb):
    sync_graph = build_graph(InMemorySaver(), knowledge=kb)
    async_graph = build_graph(InMemorySaver(), knowledge=kb)
    for question in QUESTIONS:
        sync_out = sync_graph.invoke(user(question), config("x"), context=CTX)
        async_out = asyncio.run(async_graph.ainvoke(user(question), config("x"), context=CTX))
        assert sync_out["standalone_question"] == async_out["standalone_question"]
    sync_messages = sync_graph.get_state(config("x")).values["messages"]
    async_messages = async_graph.get_state(config("x")).values["messages"]
    assert [m.content for m in sync_messages] == [m.content for m in async_messages]


def test_sync_stream_yields_the_models_answer_token_by_token(kb):
    from convrag.nodes.models import register_chat_model, unregister_chat_model
    from tests.conftest import scripted_model

    register_chat_model("tokens", scripted_model("尼罗河 全长 约 6650 公里 [1]。"))
    try:
        graph = build_graph(InMemorySaver(), knowledge=kb)
        parts = [chunk for mode, chunk in graph.stream(
            user("尼罗河有多长？"), config("tok"),
            context=Context(collection=COLLECTION, chat_model="tokens"),
            stream_mode=["messages", "values"]) if mode == "messages"]
    finally:
        unregister_chat_model("tokens")
    answer = [message.content for message, meta in parts if meta["langgraph_node"] == "answer"]
    assert len(answer) > 3 and "".join(answer) == "尼罗河 全长 约 6650 公里 [1]。"


def test_embedded_follow_up_resolves_as_a_standalone_one_does():
    # "What about X?" takes the predicate of the previous standalone question, which a
    # standalone thread keeps in its checkpoint; the parent must hand it back in as well.
    from convrag.knowledge.store import KnowledgeBase, SourceDocument

    rivers = KnowledgeBase.in_memory()
    rivers.ingest("rivers", [
        SourceDocument(id="danube", title="Danube",
                       text="The Danube is about 2,850 kilometres long and ends in the Black Sea."),
        SourceDocument(id="rhine", title="Rhine",
                       text="The Rhine is about 1,230 kilometres long and ends in the North Sea."),
    ])
    settings = Context(collection="rivers")
    builder = StateGraph(ConvragState, context_schema=Context)
    builder.add_node("convrag", as_node(build_embedded_graph(knowledge=rivers)))
    builder.add_edge(START, "convrag")
    parent = builder.compile(checkpointer=InMemorySaver())
    alone = build_graph(InMemorySaver(), knowledge=rivers)
    dialogue = ["How long is the Danube?", "What about the Rhine?"]
    for graph in (alone, parent):
        for question in dialogue:
            out = graph.invoke(user(question), config("rivers"), context=settings)
        assert out["standalone_question"] == "How long is the Rhine?"
        assert "1,230" in out["messages"][-1].content
    rivers.close()
