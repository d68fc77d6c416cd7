"""Wire the graphs: the chat graph and the indexing graph.

`build_graph()` with no checkpointer is what the LangGraph server and parent graphs use;
the module-level `graph` (chat, `convrag` in langgraph.json) and `index_graph`
(`convrag_index`, documents in, the ingestion report out) are compiled that way.

Every node has a sync and an async form (see convrag/nodes/models.py), so the graphs run
with `invoke`/`stream` and `ainvoke`/`astream`, standalone and inside parent graphs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import get_runtime
from langgraph.types import Checkpointer, Command, Durability

from convrag.errors import InvalidInput
from convrag.graph.context import DEFAULT_CONTEXT, Context, context_from
from convrag.graph.retention import (
    TURN_DURABILITY,
    Retention,
    prunable,
    prune_thread,
    prune_thread_sync,
)
from convrag.graph.routing import after_decision
from convrag.graph.state import (
    IndexInput,
    IndexOutput,
    IndexState,
    InputState,
    OutputState,
    State,
    check_input,
    clean_input,
)
from convrag.knowledge.store import KnowledgeBase
from convrag.language.checks import thread_problem
from convrag.nodes.answer import answer, answer_sync
from convrag.nodes.compact_history import compact_history, compact_history_sync
from convrag.nodes.decide_retrieval import decide_retrieval, decide_retrieval_sync
from convrag.nodes.index_documents import index_documents, index_documents_sync
from convrag.nodes.resolve_coreference import resolve_coreference, resolve_coreference_sync
from convrag.nodes.retrieve import retrieve, retrieve_sync

NodeResult = dict[str, Any]


class _Node(Runnable[Any, NodeResult]):
    """One node with both forms: LangGraph calls the one that matches the API in use.

    A plain Runnable rather than RunnableLambda: LangGraph already runs a node inside its
    config's context (where `get_runtime()` reads the run's runtime), and RunnableLambda
    would add a traced child run and signature inspection to every call.
    """

    def __init__(self, sync_fn: Callable[..., NodeResult],
                 async_fn: Callable[..., Awaitable[NodeResult]], name: str,
                 *, runtime: bool = True) -> None:
        self.sync_fn, self.async_fn, self.name, self.runtime = sync_fn, async_fn, name, runtime

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
               ) -> NodeResult:
        return self.sync_fn(input, get_runtime()) if self.runtime else self.sync_fn(input)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
                      ) -> NodeResult:
        if self.runtime:
            return await self.async_fn(input, get_runtime())
        return await self.async_fn(input)


class ChatGraph(CompiledStateGraph[State, Context, InputState, OutputState]):
    """The compiled chat graph, with its boundary checks and default retention.

    - Input, Context and the thread id are checked before the run starts, so a malformed
      value is refused with one sentence naming the field and nothing of it reaches the
      thread; the user's messages are cleaned (`clean_input`).
    - With the checkpointer passed to `build_graph` (`retain`), a run saves once, when it
      ends (durability `"exit"`, unless the call says otherwise), and the thread is pruned
      to the newest `Context.keep_checkpoints` checkpoints (on its first turn in the
      process, then every `PRUNE_EVERY` turns): the storage of a thread stays bounded, and
      time travel reaches at least that many turns back. A checkpointer brought by
      someone else (the LangGraph server's, a parent graph's) is left alone.
    """

    def __init__(self, *, retain: Retention | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.retain = retain

    def _prepare(self, input: Any, config: RunnableConfig | None, context: Any,
                 durability: Durability | None, sync: bool
                 ) -> tuple[Any, Context | None, Durability | None, bool]:
        thread = _thread_id(config)
        problem = None if thread is None else thread_problem(thread)
        if problem:
            raise InvalidInput(problem)
        if input is not None and not isinstance(input, Command):
            input = clean_input(check_input(input))
        # None stays None: as a subgraph, the run inherits its parent's context.
        checked = None if context is None else context_from(context)
        retained = (self.retain is not None and self.checkpointer is self.retain.saver
                    and prunable(self.retain.saver, sync=sync))
        if retained and durability is None:
            durability = TURN_DURABILITY
        return input, checked, durability, retained

    def stream(
        self, input: Any, config: RunnableConfig | None = None, *, context: Any = None,
        durability: Durability | None = None, **kwargs: Any,
    ) -> Iterator[Any]:
        """`CompiledStateGraph.stream` with the checks and retention above."""
        input, checked, durability, retained = self._prepare(input, config, context,
                                                             durability, True)
        if retained and self.retain:
            self.retain.tune_sync()
        yield from super().stream(input, config, context=checked, durability=durability,
                                  **kwargs)
        thread = _thread_id(config)
        if retained and thread and self.retain and self.retain.due(thread):
            prune_thread_sync(self.retain.saver, thread, _keep(checked))

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, *, context: Any = None,
        durability: Durability | None = None, **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """`CompiledStateGraph.astream` with the checks and retention above."""
        input, checked, durability, retained = self._prepare(input, config, context,
                                                             durability, False)
        if retained and self.retain:
            await self.retain.tune()
        async for chunk in super().astream(input, config, context=checked,
                                           durability=durability, **kwargs):
            yield chunk
        thread = _thread_id(config)
        if retained and thread and self.retain and self.retain.due(thread):
            await prune_thread(self.retain.saver, thread, _keep(checked))


def _keep(context: Context | None) -> int:
    return (context or DEFAULT_CONTEXT).keep_checkpoints


def _thread_id(config: RunnableConfig | None) -> str | None:
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    return str(thread) if thread is not None else None


def _chat_builder(
    knowledge: KnowledgeBase | None, input_schema: type[Any], output_schema: type[Any]
) -> StateGraph[State, Context, Any, Any]:
    builder = StateGraph(
        State, context_schema=Context, input_schema=input_schema, output_schema=output_schema
    )
    bind: dict[str, Any] = {"knowledge": knowledge} if knowledge else {}
    builder.add_node("compact_history",
                     _Node(compact_history_sync, compact_history, "compact_history"))
    builder.add_node("resolve_coreference",
                     _Node(resolve_coreference_sync, resolve_coreference, "resolve_coreference"))
    builder.add_node("decide_retrieval",
                     _Node(decide_retrieval_sync, decide_retrieval, "decide_retrieval"))
    builder.add_node("retrieve", _Node(partial(retrieve_sync, **bind),
                                       partial(retrieve, **bind), "retrieve"))
    builder.add_node("answer", _Node(answer_sync, answer, "answer"))
    builder.add_edge(START, "compact_history")
    builder.add_edge("compact_history", "resolve_coreference")
    builder.add_edge("resolve_coreference", "decide_retrieval")
    builder.add_conditional_edges("decide_retrieval", after_decision)
    builder.add_edge("retrieve", "answer")
    builder.add_edge("answer", END)
    return builder


def build_graph(
    checkpointer: Checkpointer = None,
    *,
    knowledge: KnowledgeBase | None = None,
    name: str = "convrag",
) -> ChatGraph:
    """Compile the chat graph.

    Args:
        checkpointer: where threads persist (None for the server or a parent graph,
            which bring their own). A checkpointer passed here keeps each thread bounded
            by default: one checkpoint per turn, the newest `Context.keep_checkpoints`
            kept (InMemorySaver, SqliteSaver, AsyncSqliteSaver, AsyncPostgresSaver).
        knowledge: the knowledge base to search; by default the process's store opened
            from the environment (CONVRAG_HOME or QDRANT_URL) on first use.
        name: the compiled graph's name (as a subgraph or in traces).
    """
    compiled = _chat_builder(knowledge, InputState, OutputState).compile(
        checkpointer=checkpointer, name=name)
    attrs = {k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"}
    retain = Retention(checkpointer) if isinstance(checkpointer, BaseCheckpointSaver) else None
    return ChatGraph(retain=retain, **attrs)


def build_embedded_graph(
    *, knowledge: KnowledgeBase | None = None, name: str = "convrag"
) -> CompiledStateGraph[State, Context, State, State]:
    """The chat graph with its whole state in and out, for `convrag.graph.embed`.

    A parent graph keeps the thread-level fields (summary, entities, …) and hands them
    back in on every turn. `checkpointer=False`: it never saves (not even with the
    parent's checkpointer), so it leaves nothing behind in the parent's store.
    """
    return _chat_builder(knowledge, State, State).compile(checkpointer=False, name=name)


def build_rewrite_graph() -> CompiledStateGraph[State, Context, InputState, State]:
    """The front half of the chat graph: resolve_coreference → decide_retrieval.

    Evaluations use it to score the rewrite with the very nodes a conversation runs,
    without retrieving or answering.
    """
    builder = StateGraph(State, context_schema=Context, input_schema=InputState)
    builder.add_node("resolve_coreference",
                     _Node(resolve_coreference_sync, resolve_coreference, "resolve_coreference"))
    builder.add_node("decide_retrieval",
                     _Node(decide_retrieval_sync, decide_retrieval, "decide_retrieval"))
    builder.add_edge(START, "resolve_coreference")
    builder.add_edge("resolve_coreference", "decide_retrieval")
    builder.add_edge("decide_retrieval", END)
    return builder.compile(name="convrag_rewrite")


graph = build_graph()


def build_index_graph(
    *, knowledge: KnowledgeBase | None = None, name: str = "convrag_index"
) -> CompiledStateGraph[IndexState, None, IndexInput, IndexOutput]:
    """Compile the indexing graph.

    Args:
        knowledge: the knowledge base to write to; by default the process's store opened
            from the environment (CONVRAG_HOME or QDRANT_URL), shared with the chat graph.
        name: the compiled graph's name.
    """
    builder = StateGraph(IndexState, input_schema=IndexInput, output_schema=IndexOutput)
    bind: dict[str, Any] = {"knowledge": knowledge} if knowledge else {}
    builder.add_node("index_documents", _Node(
        partial(index_documents_sync, **bind), partial(index_documents, **bind),
        "index_documents",
    ))
    builder.add_edge(START, "index_documents")
    builder.add_edge("index_documents", END)
    return builder.compile(name=name)


index_graph = build_index_graph()
