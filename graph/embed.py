"""Embed the chat graph in your own graph with a bounded thread.

Added as a node as it is, the compiled graph hands the parent only its output values:
the parent's `MessagesState` never sees the `RemoveMessage`s of a compaction, nor the
summary and entities, so the parent's thread grows every turn and compaction folds the
whole history again on every turn. The supported way is the parent state extending
`ConvragState` (messages plus the thread-level fields) and the node from `as_node()`,
which runs the chat graph on that state and returns what changed as updates: the new
answer, `RemoveMessage`s for compacted turns, the new summary and entities. The parent's
thread then stays as bounded as a standalone one, and the summary call stays amortized.

    class AppState(ConvragState):
        ...                                   # your own fields

    builder = StateGraph(AppState, context_schema=Context)
    builder.add_node("convrag", as_node())
"""

from __future__ import annotations

from typing import Any, NotRequired

from langchain_core.messages import AnyMessage, BaseMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import MessagesState
from langgraph.graph.state import CompiledStateGraph

from convrag.graph.builder import build_embedded_graph
from convrag.graph.context import Context

__all__ = ["ConvragState", "as_node"]


class ConvragState(MessagesState):
    """The state a parent graph extends to embed convrag: messages and the thread's memory.

    `summary`, `summary_calls`, `entities`, `turn` and `questions` are the chat graph's
    thread-level fields; `topic` is optional background; `standalone_question` and `route` are the
    last turn's rewrite and route, for the parent to read.
    """

    topic: NotRequired[str]
    summary: NotRequired[str]
    summary_calls: NotRequired[int]
    entities: NotRequired[list[dict[str, Any]]]
    turn: NotRequired[int]
    questions: NotRequired[list[dict[str, Any]]]
    standalone_question: NotRequired[str]
    route: NotRequired[str]


# `standalone_question` goes back in too: the resolver reads the previous turn's to carry
# its predicate over to "What about X?" (a standalone thread has it in its checkpoint).
_CARRIED = ("messages", "topic", "summary", "summary_calls", "entities", "turn", "questions",
            "standalone_question")
_RETURNED = ("summary", "summary_calls", "entities", "turn", "questions", "standalone_question",
             "route")


def as_node(
    graph: CompiledStateGraph[Any, Any, Any, Any] | None = None, *,
    context: Context | None = None,
) -> RunnableLambda[Any, dict[str, Any]]:
    """A node for a parent graph whose state extends `ConvragState`; sync and async.

    Args:
        graph: a graph from `build_embedded_graph()` (by default one over the process's
            knowledge base).
        context: the runs' settings; by default the parent run's Context.
    """
    chat: CompiledStateGraph[Any, Any, Any, Any] = (
        graph if graph is not None else build_embedded_graph())

    # context=None: the run inherits the parent run's context.
    def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return _changes(state, chat.invoke(_inputs(state), config, context=context))

    async def arun(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return _changes(state, await chat.ainvoke(_inputs(state), config, context=context))

    return RunnableLambda(run, afunc=arun, name="convrag")


def _inputs(state: dict[str, Any]) -> dict[str, Any]:
    return {key: state[key] for key in _CARRIED if key in state}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The run's result as updates to the parent's state: message deltas, thread fields."""
    old: list[AnyMessage] = before.get("messages", [])
    new: list[AnyMessage] = after.get("messages", [])
    kept = {m.id for m in new}
    seen = {m.id for m in old}
    messages: list[BaseMessage] = [RemoveMessage(id=m.id) for m in old
                                   if m.id and m.id not in kept]
    messages += [m for m in new if m.id not in seen]
    return {"messages": messages, **{key: after[key] for key in _RETURNED if key in after}}
