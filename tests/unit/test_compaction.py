"""History compaction and bounded prompts: what survives, what it costs, what is sent."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.state import InputState, OutputState, State
from convrag.language.budget import clip_summary, fit_prompt
from convrag.language.tokens import count_tokens
from convrag.nodes import prompts
from convrag.nodes.answer import answer_prompt
from convrag.nodes.compact_history import compact_history, history_tokens
from convrag.nodes.models import register_chat_model, unregister_chat_model
from tests.conftest import COLLECTION, ScriptedChatModel, scripted_model, tool_reply


class FakeRuntime:
    def __init__(self, context: Any = None) -> None:
        self.context = context


def run(state: dict[str, Any], context: Context) -> dict[str, Any]:
    return asyncio.run(compact_history(state, FakeRuntime(context)))  # type: ignore[arg-type]


def removed(update: dict[str, Any]) -> set[str]:
    return {m.id for m in update.get("messages", []) if isinstance(m, RemoveMessage)}


LONG_ANSWER = "尼罗河流经埃及和苏丹等十一个国家，全长约6650公里。" * 4


def tool_thread() -> list[BaseMessage]:
    """Four turns, the first and third with a tool call, then the new question."""
    return [
        SystemMessage("You are helpful.", id="sys"),
        HumanMessage("尼罗河流经哪些国家？", id="h0"),
        AIMessage("", id="c0", tool_calls=[{"name": "search", "args": {}, "id": "k0"}]),
        ToolMessage(LONG_ANSWER, tool_call_id="k0", id="t0"),
        AIMessage(LONG_ANSWER, id="a0"),
        HumanMessage("长江有多长？", id="h1"),
        AIMessage(LONG_ANSWER, id="a1"),
        HumanMessage("亚马逊河在哪里？", id="h2"),
        AIMessage("", id="c2", tool_calls=[{"name": "search", "args": {}, "id": "k2"}]),
        ToolMessage(LONG_ANSWER, tool_call_id="k2", id="t2"),
        AIMessage(LONG_ANSWER, id="a2"),
        HumanMessage("那密西西比河呢？", id="latest"),
    ]


@pytest.mark.parametrize("keep", [0, 1, 2])
def test_latest_question_and_tool_pairs_survive(keep: int) -> None:
    ctx = Context(max_history_tokens=50, keep_recent_turns=keep, summary_every_turns=1)
    update = run({"messages": tool_thread()}, ctx)
    gone = removed(update)
    assert "latest" not in gone and "sys" not in gone
    # A tool call goes with its result: both or neither.
    for call, result in [("c0", "t0"), ("c2", "t2")]:
        assert (call in gone) == (result in gone)
    kept_turns = max(1, keep)
    assert ("h2" in gone) == (kept_turns < 2)
    assert {"h0", "c0", "t0", "a0"} <= gone
    assert "尼罗河流经哪些国家？" in update["summary"]
    assert update["summary_calls"] == 1


def test_summary_keeps_its_budget_with_a_huge_turn() -> None:
    messages = [HumanMessage("尼罗河流经哪些国家？" * 40, id="h0"),
                AIMessage(LONG_ANSWER * 10, id="a0"), HumanMessage("它有多长？", id="h1")]
    ctx = Context(max_history_tokens=50, keep_recent_turns=1, summary_every_turns=1,
                  max_summary_tokens=60)
    update = run({"messages": messages, "summary": "用户问：更早的问题 答：更早的回答。"}, ctx)
    assert 0 < count_tokens(update["summary"]) <= 60


def test_model_summary_is_used_and_clipped_to_its_budget() -> None:
    lines = "\n".join(f"- fact {i}: Marie Curie won prize number {i}." for i in range(60))
    register_chat_model("summarizer", scripted_model(lines))
    try:
        ctx = Context(chat_model="summarizer", max_history_tokens=50, keep_recent_turns=1,
                      summary_every_turns=1, max_summary_tokens=80)
        update = run({"messages": tool_thread()}, ctx)
    finally:
        unregister_chat_model("summarizer")
    assert update["llm_calls"].value == 1
    assert count_tokens(update["summary"]) <= 80
    # The newest lines of the model's summary are the ones kept.
    assert update["summary"].endswith("prize number 59.")


def test_model_failure_falls_back_to_the_extractive_summary() -> None:
    class Broken(ScriptedChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("down")

    register_chat_model("broken", Broken(messages=iter([])))
    try:
        ctx = Context(chat_model="broken", max_history_tokens=50, keep_recent_turns=1,
                      summary_every_turns=1)
        update = run({"messages": tool_thread()}, ctx)
    finally:
        unregister_chat_model("broken")
    assert update["llm_calls"].value == 1
    assert "长江有多长？" in update["summary"]


def test_summary_prompt_asks_to_keep_what_people_refer_back_to() -> None:
    text = prompts.SUMMARY_SYSTEM.lower()
    for kept in ["name", "number", "decision", "open question", "pronoun"]:
        assert kept in text


def test_too_few_turns_to_fold_waits() -> None:
    ctx = Context(max_history_tokens=50, keep_recent_turns=1, summary_every_turns=4)
    update = run({"messages": tool_thread()}, ctx)  # 3 turns to fold, fewer than 4
    assert set(update) == {"llm_calls", "model_seconds"}  # only the per-turn counters


# --- entities outlive compaction ------------------------------------------------------


def test_pronoun_after_compaction_resolves_to_an_entity_of_a_compacted_turn(kb) -> None:
    graph = build_graph(InMemorySaver(), knowledge=kb)
    tight = Context(collection=COLLECTION, max_history_tokens=80, keep_recent_turns=1,
                    summary_every_turns=2)
    config = {"configurable": {"thread_id": "curie"}}

    def ask(question: str) -> dict[str, Any]:
        return asyncio.run(graph.ainvoke(
            {"messages": [{"role": "user", "content": question}]}, config, context=tight))

    ask("居里夫人获得过哪些奖？")
    for question in ["尼罗河流经哪些国家？", "长江发源于哪里？", "珠穆朗玛峰有多高？"]:
        ask(question)
    state = asyncio.run(graph.aget_state(config)).values
    visible = " ".join(str(m.content) for m in state["messages"])
    assert "居里" not in visible  # her turn was compacted away
    assert state["summary_calls"] >= 1
    died = ask("她什么时候去世的？")
    assert "居里夫人" in died["standalone_question"]
    assert died["rewrite"]["mentions"] == [{"mention": "她", "antecedent": "居里夫人"}]
    assert "1934" in died["messages"][-1].content


# --- amortized cost -------------------------------------------------------------------


def _echo(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(LONG_ANSWER)]}


def _compaction_graph() -> Any:
    builder = StateGraph(State, context_schema=Context, input_schema=InputState,
                         output_schema=OutputState)
    builder.add_node("compact_history", compact_history)
    builder.add_node("echo", _echo)
    builder.add_edge(START, "compact_history")
    builder.add_edge("compact_history", "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("every", [2, 3, 5])
def test_summary_model_runs_at_most_once_every_k_turns(every: int) -> None:
    calls = 0

    def summaries() -> Any:
        nonlocal calls
        while True:
            calls += 1
            yield AIMessage(f"Summary {calls}: the user asked about rivers.")

    register_chat_model("counted", ScriptedChatModel(messages=summaries()))
    try:
        graph = _compaction_graph()
        # Every turn is over budget on its own: without amortization, 30 summary calls.
        ctx = Context(chat_model="counted", max_history_tokens=60, keep_recent_turns=2,
                      summary_every_turns=every)
        config = {"configurable": {"thread_id": "t"}}
        most = 0
        for turn in range(30):
            asyncio.run(graph.ainvoke({"messages": [HumanMessage(f"第{turn}个问题？")]}, config,
                                      context=ctx))
            values = asyncio.run(graph.aget_state(config)).values
            most = max(most, len(values["messages"]))
    finally:
        unregister_chat_model("counted")
    assert 1 <= calls <= math.ceil(30 / every)
    assert values["summary_calls"] == calls
    assert values["summary"].startswith(f"Summary {calls}:")
    # The thread never holds more than the kept turns plus those waiting to be folded.
    assert most <= 2 * (2 + every)


def test_offline_graph_summarizes_at_most_once_every_k_turns(kb) -> None:
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ctx = Context(collection=COLLECTION, max_history_tokens=300, keep_recent_turns=2,
                  summary_every_turns=3)
    config = {"configurable": {"thread_id": "long"}}
    questions = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
                 "When did she die?"]
    for turn in range(30):
        asyncio.run(graph.ainvoke(
            {"messages": [{"role": "user", "content": questions[turn % len(questions)]}]},
            config, context=ctx))
    values = asyncio.run(graph.aget_state(config)).values
    assert 1 <= values["summary_calls"] <= 10
    assert history_tokens(values["messages"]) <= 300 + 3 * 250


# --- bounded prompts ------------------------------------------------------------------


def test_fit_prompt_cuts_turns_then_summary_then_passages_least_relevant_first() -> None:
    summary = "\n".join(f"line {i} about the Nile" for i in range(10))
    turns = [f"turn {i} " + "word " * 20 for i in range(4)]
    passages = [f"passage {i} " + "word " * 40 for i in range(4)]

    def fit(budget: int, conversation: int | None = None) -> Any:
        return fit_prompt(budget, fixed=["question?"], summary=summary, turns=turns,
                          passages=passages, conversation_budget=conversation)

    full = fit(10_000)
    assert (full.summary, full.turns, full.passages) == (summary, 4, tuple(passages))

    tight = fit(full.tokens - 10)
    assert (tight.summary, tight.turns, tight.passages) == (summary, 3, tuple(passages))

    tighter = fit(full.tokens - 150)  # more than the four turns take
    assert tighter.turns == 0 and tighter.passages == tuple(passages)
    assert tighter.summary.endswith("line 9 about the Nile") and "line 0 " not in tighter.summary

    tightest = fit(150)
    assert (tightest.summary, tightest.turns) == ("", 0)
    assert tightest.passages == tuple(passages[:2]) and tightest.tokens <= 150

    tiniest = fit(30)
    assert len(tiniest.passages) == 1 and tiniest.passages[0].startswith("passage 0")
    assert tiniest.passages[0].endswith("…") and tiniest.tokens <= 30


def test_conversation_share_holds_summary_and_turns_together() -> None:
    summary = "\n".join(f"line {i} about the Nile" for i in range(10))
    turns = [f"turn {i} " + "word " * 20 for i in range(4)]
    plan = fit_prompt(10_000, fixed=["q?"], summary=summary, turns=turns, passages=["p"],
                      conversation_budget=count_tokens(summary) + 60)
    # The summary stays whole; only the newest turn fits beside it.
    assert (plan.summary, plan.turns, plan.passages) == (summary, 1, ("p",))


def test_clip_summary_keeps_the_newest_lines() -> None:
    summary = "old line one\nold line two\nnewest line"
    assert clip_summary(summary, 3) == "newest line"
    assert clip_summary(summary, 100) == summary


def _long_state(documents: int) -> dict[str, Any]:
    messages: list[BaseMessage] = []
    for i in range(3):
        messages += [HumanMessage(f"问题{i}：尼罗河流经哪些国家？"), AIMessage(LONG_ANSWER * 3)]
    messages.append(HumanMessage("它有多长？"))
    docs = [Document(page_content=LONG_ANSWER * 5, metadata={"id": f"d{i}", "title": f"T{i}"})
            for i in range(documents)]
    return {"messages": messages, "summary": "用户问：尼罗河是什么？ 答：一条河。\n" * 20,
            "standalone_question": "尼罗河有多长？", "documents": docs, "route": "retrieve"}


@pytest.mark.parametrize("budget", [600, 1500, 4000])
def test_answer_prompt_stays_within_its_budget(budget: int) -> None:
    state = _long_state(documents=10)
    messages = answer_prompt(state, Context(max_prompt_tokens=budget))  # type: ignore[arg-type]
    assert history_tokens(messages) <= budget
    data = str(messages[-1].content)  # the question and passages travel as data
    assert "<question>它有多长？</question>" in data
    assert "[1] T0" in data  # the most relevant passage is the last to go
    assert "[10] T9" not in data


def test_answer_prompt_keeps_everything_when_it_fits() -> None:
    state = _long_state(documents=2)
    everything = Context(max_prompt_tokens=100_000, max_history_tokens=100_000)
    messages = answer_prompt(state, everything)  # type: ignore[arg-type]
    data = str(messages[-1].content)
    assert "[2] T1" in data and data.count("用户问") == 20
    # The system prompt, every earlier message of the thread, and the data message.
    assert len(messages) == 1 + 6 + 1


def test_model_answer_and_rewrite_calls_send_bounded_prompts(kb) -> None:
    sent: list[list[BaseMessage]] = []

    class Recording(ScriptedChatModel):
        async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any
                             ) -> Any:
            sent.append(messages)
            return await super()._agenerate(messages, *args, **kwargs)

    rewrite = tool_reply("Rewrite", {
        "reasoning": "它 is the Nile.", "scenario": "pronoun", "mentions": [],
        "standalone_question": "尼罗河有多长？", "route": "retrieve"})
    replies = iter([rewrite, AIMessage("6650公里[1]。")])
    register_chat_model("recording", Recording(messages=replies))
    try:
        state = _long_state(documents=0)
        state["entities"] = [{"text": "尼罗河", "kind": "place", "turn": 3, "role": "subject",
                              "proper": True, "lang": "zh"}]
        state["turn"] = 3
        graph = build_graph(InMemorySaver(), knowledge=kb)
        config = {"configurable": {"thread_id": "bounded"}}
        ctx = Context(chat_model="recording", collection=COLLECTION, max_prompt_tokens=900,
                      max_history_tokens=100_000)
        asyncio.run(graph.aupdate_state(config, {**state, "messages": state["messages"][:-1]}))
        result = asyncio.run(graph.ainvoke({"messages": [HumanMessage("它有多长？")]}, config,
                                           context=ctx))
    finally:
        unregister_chat_model("recording")
    assert result["messages"][-1].content == "6650公里[1]。"
    assert len(sent) == 2  # the rewrite, then the answer
    for messages in sent:
        assert history_tokens(messages) <= 900
        assert "它有多长？" in str(messages[-1].content)
