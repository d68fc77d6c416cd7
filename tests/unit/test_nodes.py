"""Each node and route on its own, table-driven."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage

from convrag.graph.routing import after_decision
from convrag.language.intent import classify
from convrag.nodes.compact_history import compact_history, compaction_cut
from convrag.nodes.decide_retrieval import decide_retrieval
from convrag.nodes.resolve_coreference import resolve_coreference


class FakeRuntime:
    def __init__(self, context: Any = None) -> None:
        self.context = context


def run(node: Any, state: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return asyncio.run(node(state, FakeRuntime(context)))


@pytest.mark.parametrize(
    ("route", "expected"), [("retrieve", "retrieve"), ("respond", "answer"), (None, "answer")]
)
def test_route_after_decision(route, expected):
    assert after_decision({"route": route} if route else {}) == expected


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("你好", "greeting"), ("Hello!", "greeting"), ("谢谢！", "thanks"),
        ("thank you so much", "thanks"), ("再见", "farewell"), ("bye", "farewell"),
        ("我刚才问了什么？", "meta"), ("What did I ask first?", "meta"),
        ("你能做什么？", "help"), ("谢谢，那亚马逊河呢？", "knowledge"),
        ("hello, how long is the Nile?", "knowledge"), ("尼罗河有多长", "knowledge"),
    ],
)
def test_intent_rules(message, kind):
    assert classify(message) == kind


@pytest.mark.parametrize(
    ("state", "route"),
    [
        ({"messages": [HumanMessage("你好")], "rewrite": {"mode": "offline"}}, "respond"),
        ({"messages": [HumanMessage("尼罗河有多长")], "rewrite": {"mode": "offline"}}, "retrieve"),
        ({"messages": [HumanMessage("x")], "rewrite": {"mode": "model", "route": "respond"}},
         "respond"),
        ({"messages": [HumanMessage("hi")], "rewrite": {"mode": "model", "route": "retrieve"}},
         "retrieve"),
        ({"messages": [HumanMessage("")], "rewrite": {"error": "empty"}}, "respond"),
    ],
)
def test_decide_retrieval(state, route):
    update = run(decide_retrieval, state)
    assert update["route"] == route
    if route == "respond":
        assert update["documents"] == []


def test_resolve_node_writes_trace_and_entities():
    state = {
        "messages": [HumanMessage("尼罗河是什么？"), AIMessage("尼罗河是一条河。"),
                     HumanMessage("它有多长？")],
        "entities": [{"text": "尼罗河", "kind": "place", "turn": 1, "role": "subject",
                      "proper": True, "lang": "zh"}],
        "turn": 1,
        "standalone_question": "尼罗河是什么？",
    }
    update = run(resolve_coreference, state)
    assert update["standalone_question"] == "尼罗河有多长？"
    assert update["rewrite"]["mentions"] == [{"mention": "它", "antecedent": "尼罗河"}]
    assert update["rewrite"]["gate"] == ["pronoun"]
    assert update["turn"] == 2
    assert update["llm_calls"] == 0


def test_resolve_node_rebuilds_entities_for_a_foreign_history():
    # A parent graph's thread: no entities of ours, only messages.
    state = {"messages": [HumanMessage("Who was Marie Curie?"),
                          AIMessage("Marie Curie was a physicist. She was Polish."),
                          HumanMessage("When did she die?")]}
    update = run(resolve_coreference, state)
    assert update["standalone_question"] == "When did Marie Curie die?"


def _thread(turns: int) -> list[Any]:
    messages: list[Any] = []
    for i in range(turns):
        messages += [HumanMessage(f"问题{i}：尼罗河流经哪些国家？", id=f"h{i}"),
                     AIMessage(f"回答{i}：尼罗河流经埃及和苏丹等国家。" * 5, id=f"a{i}")]
    return messages


def test_compaction_removes_old_turns_into_the_summary():
    messages = _thread(6) + [HumanMessage("最新的问题", id="latest")]
    update = run(compact_history, {"messages": messages},
                 _ctx(max_history_tokens=100, keep_recent_turns=2))
    removed = {m.id for m in update["messages"] if isinstance(m, RemoveMessage)}
    assert "latest" not in removed and "h5" not in removed and "a5" not in removed
    assert {"h0", "a0", "h4", "a4"} <= removed
    assert "问题0" in update["summary"] or "问题4" in update["summary"]


def test_compaction_below_budget_changes_nothing():
    update = run(compact_history, {"messages": _thread(1)}, _ctx(max_history_tokens=10_000))
    assert set(update) == {"llm_calls", "model_seconds"}  # the per-turn counters restart


def test_compaction_never_splits_tool_calls_from_results():
    messages = [
        HumanMessage("q0", id="h0"),
        AIMessage("", id="a0", tool_calls=[{"name": "t", "args": {}, "id": "c1"}]),
        ToolMessage("result", tool_call_id="c1", id="t0"),
        AIMessage("answer0", id="a0b"),
        HumanMessage("q1", id="h1"),
        AIMessage("", id="a1", tool_calls=[{"name": "t", "args": {}, "id": "c2"}]),
        ToolMessage("result", tool_call_id="c2", id="t1"),
    ]
    cut = compaction_cut(messages, keep_recent_turns=1)
    assert messages[cut].id == "h1"


def _ctx(**overrides: Any) -> Any:
    from convrag.graph.context import Context

    return Context(**overrides)


def test_retrieve_node_returns_documents_with_ids(kb):
    from convrag.nodes.retrieve import retrieve
    from tests.conftest import COLLECTION

    state = {"messages": [HumanMessage("它有多长？")], "standalone_question": "尼罗河有多长？"}
    update = run(lambda s, r: retrieve(s, r, knowledge=kb), state,
                 _ctx(collection=COLLECTION, top_k=3))
    docs: list[Document] = update["documents"]
    # Only documents sharing a term with either query come back, best first.
    assert [d.metadata["id"] for d in docs] == ["zh-nile", "zh-amazon"]
    assert docs[0].metadata["score"] > 0
