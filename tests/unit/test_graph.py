"""The compiled graph end to end: turns on a thread, thread isolation, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)


def ask(graph: Any, thread: str, question: str, context: Context = CTX) -> dict[str, Any]:
    return asyncio.run(
        graph.ainvoke(
            {"messages": [{"role": "user", "content": question}]},
            {"configurable": {"thread_id": thread}},
            context=context,
        )
    )


def doc_ids(result: dict[str, Any]) -> list[str]:
    return [d.metadata["id"] for d in result["documents"]]


def test_nile_follow_ups_on_one_thread(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    first = ask(graph, "t1", "尼罗河是什么？")
    assert first["route"] == "retrieve"
    assert doc_ids(first)[0] == "zh-nile"

    second = ask(graph, "t1", "它有多长？")
    assert "尼罗河" in second["standalone_question"]
    assert doc_ids(second)[0] == "zh-nile"
    answer = second["messages"][-1].content
    assert "6650" in answer and "[1]" in answer

    third = ask(graph, "t1", "那亚马逊河呢？")
    assert third["standalone_question"] == "亚马逊河有多长？"
    assert doc_ids(third)[0] == "zh-amazon"
    assert "6400" in third["messages"][-1].content
    assert third["llm_calls"] == 0


def test_english_follow_ups(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ask(graph, "en", "Who was Marie Curie?")
    died = ask(graph, "en", "When did she die?")
    assert died["standalone_question"] == "When did Marie Curie die?"
    assert "1934" in died["messages"][-1].content
    ask(graph, "en", "How long is the Nile?")
    other = ask(graph, "en", "What about the Mississippi?")
    assert other["standalone_question"] == "How long is the Mississippi?"
    assert doc_ids(other)[0] == "en-mississippi"


def test_threads_stay_apart(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ask(graph, "a", "尼罗河是什么？")
    fresh = ask(graph, "b", "它有多长？")
    assert fresh["standalone_question"] == "它有多长？"
    assert len(fresh["messages"]) == 2
    again = ask(graph, "a", "它有多长？")
    assert "尼罗河" in again["standalone_question"]


def test_small_talk_skips_retrieval_and_clears_documents(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ask(graph, "t", "尼罗河是什么？")
    thanks = ask(graph, "t", "谢谢！")
    assert thanks["route"] == "respond"
    assert thanks["documents"] == []
    recap = ask(graph, "t", "我刚才问了什么？")
    assert recap["route"] == "respond"
    assert "尼罗河是什么？" in recap["messages"][-1].content


def test_unanswerable_question_says_so(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    result = ask(graph, "t", "How do I bake sourdough bread?")
    assert "knowledge base has nothing" in result["messages"][-1].content


@pytest.mark.parametrize(
    ("question", "fragment"),
    [("   ", "The question is empty"), ("长" * 2001, "over the limit of 2000")],
)
def test_bad_questions_get_one_clear_sentence(kb, question, fragment):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ask(graph, "t", "尼罗河是什么？")
    result = ask(graph, "t", question)
    assert result["route"] == "respond"
    assert fragment in result["messages"][-1].content
    # The thread is intact: the next follow-up still resolves.
    follow = ask(graph, "t", "它有多长？")
    assert "尼罗河" in follow["standalone_question"]


def test_missing_collection_finds_nothing_instead_of_failing(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    result = ask(graph, "t", "尼罗河是什么？", Context(collection="nope"))
    assert result["documents"] == []


def test_conversation_resumes_from_sqlite_in_a_new_graph(kb, tmp_path: Path):
    path = str(tmp_path / "checkpoints.sqlite")

    async def turn(question: str) -> dict[str, Any]:
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            graph = build_graph(saver, knowledge=kb)
            return await graph.ainvoke(
                {"messages": [{"role": "user", "content": question}]},
                {"configurable": {"thread_id": "persisted"}},
                context=CTX,
            )

    asyncio.run(turn("尼罗河是什么？"))
    resumed = asyncio.run(turn("它有多长？"))
    assert "尼罗河" in resumed["standalone_question"]
    assert len(resumed["messages"]) == 4


def test_compaction_keeps_state_bounded_and_references_resolvable(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    tight = Context(collection=COLLECTION, max_history_tokens=150, keep_recent_turns=1)
    ask(graph, "long", "居里夫人获得过哪些奖？", tight)
    for question in ["尼罗河流经哪些国家？", "长江发源于哪里？", "珠穆朗玛峰有多高？"]:
        ask(graph, "long", question, tight)
    state = asyncio.run(graph.aget_state({"configurable": {"thread_id": "long"}})).values
    assert len(state["messages"]) <= 4
    assert "居里夫人" in state["summary"]
    texts = [e["text"] for e in state["entities"]]
    assert "居里夫人" in texts
    latest = ask(graph, "long", "她什么时候去世的？", tight)
    assert "居里夫人" in latest["standalone_question"]
    assert latest["messages"][-2].content == "她什么时候去世的？"
