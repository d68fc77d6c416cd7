"""The chat graph as a LangChain tool, for tool-calling agents.

The tool takes just a question and returns the answer with its sources: the retrieved
passages stay inside the chat graph, so they never fill the calling agent's messages.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.state import message_text

DESCRIPTION = (
    "Answer a question from the knowledge base, with numbered sources. Ask one "
    "self-contained question (name the subject instead of saying 'it' or 'she')."
)


def as_tool(
    graph: CompiledStateGraph[Any, Any, Any, Any] | None = None,
    *,
    name: str = "ask_knowledge_base",
    description: str = DESCRIPTION,
    context: Context | None = None,
) -> BaseTool:
    """Expose the chat graph as a tool whose input is a question.

    Args:
        graph: a chat graph compiled without a checkpointer (each call stands alone);
            by default `build_graph()` over the process's knowledge base.
        name: the tool's name, as the agent's model sees it.
        description: what the agent's model is told the tool does.
        context: the runs' settings (collection, top_k, tenant, chat model, …).

    The tool message's content is the answer followed by its sources, one per line
    (`[n] title (id)`); its artifact is `{"answer", "standalone_question", "route",
    "sources": [{"id", "title", "score"}]}` for the application, not the model.
    """
    chat = graph if graph is not None else build_graph()
    settings = context or Context()

    def run(question: str) -> tuple[str, dict[str, Any]]:
        return _result(chat.invoke({"messages": [HumanMessage(question)]}, context=settings))

    async def arun(question: str) -> tuple[str, dict[str, Any]]:
        return _result(
            await chat.ainvoke({"messages": [HumanMessage(question)]}, context=settings)
        )

    return StructuredTool.from_function(
        func=run, coroutine=arun, name=name, description=description,
        args_schema=_Question, response_format="content_and_artifact",
    )


class _Question(BaseModel):
    """Ask the knowledge base one question."""

    question: str = Field(description="One self-contained question.")


def _result(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool message's content (answer and numbered sources) and its artifact."""
    reply = result["messages"][-1]
    answer = message_text(reply)
    sources = list(reply.response_metadata.get("sources", []))
    lines = [f"[{n}] {s.get('title') or s.get('id')} ({s.get('id')})"
             for n, s in enumerate(sources, start=1)]
    content = answer + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
    artifact = {
        "answer": answer,
        "standalone_question": result.get("standalone_question", ""),
        "route": result.get("route", "respond"),
        "sources": sources,
    }
    return content, artifact
