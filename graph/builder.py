"""Wire the graphs: the chat graph and the indexing graph.

`build_graph()` with no checkpointer is what the LangGraph server and parent graphs use;
the module-level `graph` (chat, `convrag` in langgraph.json) and `index_graph`
(`convrag_index`, documents in, the ingestion report out) are compiled that way.
"""

from __future__ import annotations

from functools import partial

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from convrag.graph.context import Context
from convrag.graph.routing import after_decision
from convrag.graph.state import IndexInput, IndexOutput, IndexState, InputState, OutputState, State
from convrag.knowledge.store import KnowledgeBase
from convrag.nodes.answer import answer
from convrag.nodes.compact_history import compact_history
from convrag.nodes.decide_retrieval import decide_retrieval
from convrag.nodes.index_documents import index_documents
from convrag.nodes.resolve_coreference import resolve_coreference
from convrag.nodes.retrieve import retrieve


def build_graph(
    checkpointer: Checkpointer = None,
    *,
    knowledge: KnowledgeBase | None = None,
    name: str = "convrag",
) -> CompiledStateGraph[State, Context, InputState, OutputState]:
    """Compile the chat graph.

    Args:
        checkpointer: where threads persist (None for the server or a parent graph,
            which bring their own).
        knowledge: the knowledge base to search; by default the process's store opened
            from the environment (CONVRAG_HOME or QDRANT_URL) on first use.
        name: the compiled graph's name (as a subgraph or in traces).
    """
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("compact_history", compact_history)
    builder.add_node("resolve_coreference", resolve_coreference)
    builder.add_node("decide_retrieval", decide_retrieval)
    builder.add_node(
        "retrieve", partial(retrieve, knowledge=knowledge) if knowledge else retrieve
    )
    builder.add_node("answer", answer)
    builder.add_edge(START, "compact_history")
    builder.add_edge("compact_history", "resolve_coreference")
    builder.add_edge("resolve_coreference", "decide_retrieval")
    builder.add_conditional_edges("decide_retrieval", after_decision)
    builder.add_edge("retrieve", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=checkpointer, name=name)


def build_rewrite_graph() -> CompiledStateGraph[State, Context, InputState, State]:
    """The front half of the chat graph: resolve_coreference → decide_retrieval.

    Evaluations use it to score the rewrite with the very nodes a conversation runs,
    without retrieving or answering.
    """
    builder = StateGraph(State, context_schema=Context, input_schema=InputState)
    builder.add_node("resolve_coreference", resolve_coreference)
    builder.add_node("decide_retrieval", decide_retrieval)
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
    builder.add_node(
        "index_documents",
        partial(index_documents, knowledge=knowledge) if knowledge else index_documents,
    )
    builder.add_edge(START, "index_documents")
    builder.add_edge("index_documents", END)
    return builder.compile(name=name)


index_graph = build_index_graph()
