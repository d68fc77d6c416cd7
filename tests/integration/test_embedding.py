"""The chat graph inside other agents: as a subgraph node, and as a tool."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.tools import as_tool
from tests.conftest import COLLECTION, scripted_model, tool_reply

CTX = Context(collection=COLLECTION)


def parent_graph(kb: Any) -> Any:
    """An application's own graph: MessagesState, its own checkpointer, convrag as a node."""
    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("convrag", build_graph(knowledge=kb))
    builder.add_edge(START, "convrag")
    return builder.compile(checkpointer=InMemorySaver())


def turn(graph: Any, thread: str, question: str) -> list[Any]:
    result = asyncio.run(graph.ainvoke(
        {"messages": [HumanMessage(question)]},
        {"configurable": {"thread_id": thread}},
        context=CTX,
    ))
    return result["messages"]


def test_follow_ups_resolve_across_the_parents_turns(kb):
    parent = parent_graph(kb)
    first = turn(parent, "p1", "尼罗河是什么？")
    assert [type(m) for m in first] == [HumanMessage, AIMessage]
    second = turn(parent, "p1", "它有多长？")
    # The subgraph keeps no state of its own between the parent's turns: it rebuilds the
    # discourse entities from the parent's messages, so 它 still resolves to the Nile.
    assert len(second) == 4
    assert "6650" in second[-1].content
    assert second[-1].response_metadata["sources"][0]["id"] == "zh-nile"

    english = parent_graph(kb)
    turn(english, "p2", "Who was Marie Curie?")
    died = turn(english, "p2", "When did she die?")
    assert "1934" in died[-1].content


def test_parent_state_holds_only_messages(kb):
    parent = parent_graph(kb)
    turn(parent, "p", "尼罗河是什么？")
    state = asyncio.run(parent.aget_state({"configurable": {"thread_id": "p"}}))
    assert set(state.values) == {"messages"}
    threads_apart = turn(parent, "q", "它有多长？")
    assert "6650" not in threads_apart[-1].content


def test_graph_as_a_tool_of_an_agent(kb):
    model = scripted_model(
        tool_reply("ask_knowledge_base", {"question": "尼罗河有多长？"}),
        "尼罗河全长约6650公里。",
    )
    agent = create_agent(model, tools=[as_tool(build_graph(knowledge=kb), context=CTX)])
    result = asyncio.run(agent.ainvoke({"messages": [HumanMessage("尼罗河有多长？")]}))
    messages = result["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    tool_message = messages[2]
    answer, _, sources = tool_message.content.partition("\n\nSources:\n")
    assert "6650" in answer and "[1]" in answer
    assert sources.splitlines()[0] == "[1] 尼罗河 (zh-nile)"
    artifact = tool_message.artifact
    assert artifact["standalone_question"] == "尼罗河有多长？"
    assert artifact["sources"][0]["id"] == "zh-nile"
    # Only the answer and the source list reach the agent, never the retrieved passages.
    assert set(result) == {"messages"}
    assert "documents" not in artifact
    assert len(tool_message.content) < 400


def test_tool_schema_is_just_the_question(kb):
    ask = as_tool(build_graph(knowledge=kb), context=CTX)
    assert ask.name == "ask_knowledge_base"
    assert set(ask.tool_call_schema.model_json_schema()["properties"]) == {"question"}
    text = asyncio.run(ask.ainvoke({"question": "Who was Marie Curie?"}))
    assert "Marie Curie" in text and "(en-curie)" in text
    call = {"type": "tool_call", "id": "c1", "name": ask.name,
            "args": {"question": "When did Marie Curie die?"}}
    message = asyncio.run(ask.ainvoke(call))
    assert "1934" in message.content and message.artifact["route"] == "retrieve"
