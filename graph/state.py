"""What a conversation's state is: the input, the full state, the output, and reducers.

Per-turn fields (standalone_question, rewrite, route, documents, llm_calls) are written
on every turn, so nothing stale leaks into the next turn of a checkpointed thread.
Thread-long fields (messages, summary, summary_calls, entities, turn) persist and stay
bounded: compact_history folds old messages into the summary, and entities are capped.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Route = Literal["retrieve", "respond"]


class InputState(TypedDict):
    """What a caller sends: the new message(s) of this turn.

    `topic` is optional background the conversation is about (the page or subject it
    happens on); it is kept for the thread and helps resolve references.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    topic: NotRequired[str]


class State(InputState):
    """Everything the nodes read and write."""

    summary: str
    summary_calls: int
    entities: list[dict[str, Any]]
    turn: int
    standalone_question: str
    rewrite: dict[str, Any]
    route: Route
    documents: list[Document]
    llm_calls: Annotated[int, operator.add]


class OutputState(TypedDict):
    """What a caller gets back."""

    messages: list[AnyMessage]
    standalone_question: str
    rewrite: dict[str, Any]
    route: Route
    documents: list[Document]
    llm_calls: int


def message_text(message: AnyMessage) -> str:
    """The plain text of a message whose content may be a list of content blocks."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def latest_question(state: State) -> str:
    """The text of the newest human message ('' when there is none)."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def dialogue_turns(messages: list[AnyMessage]) -> list[tuple[str, str]]:
    """(role, text) pairs of user and assistant messages, oldest first.

    Tool calls and tool results are internal to an assistant turn and left out.
    """
    turns: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            turns.append(("user", message_text(message)))
        elif isinstance(message, AIMessage) and not message.tool_calls:
            text = message_text(message)
            if text:
                turns.append(("assistant", text))
    return turns


# --- the indexing graph (convrag_index) -------------------------------------------


class IndexInput(TypedDict):
    """What the convrag_index graph takes."""

    documents: list[dict[str, Any]]
    """`[{"id", "text", "title"?, "metadata"?}]`, the records of a .jsonl file."""
    collection: NotRequired[str]
    """The Qdrant collection (default `convrag`)."""
    tenant: NotRequired[str]
    """Tag the documents with this tenant; only runs with this tenant retrieve them. With
    auth on, the caller's own tenant, whatever is given here."""
    source: NotRequired[str]
    """The label these documents are ingested under (default `api`)."""
    prune: NotRequired[bool]
    """Also remove this tenant's documents of the collection that came under the same
    `source` and are not in `documents`."""


class IndexOutput(TypedDict):
    """The `convrag ingest --json` object."""

    collection: str
    documents: int
    chunks_added: int
    chunks_unchanged: int
    chunks_removed: int
    total_chunks: int


class IndexState(IndexInput):
    """Input and report together: the node reads the one and writes the other.

    `documents` holds the records going in and the report's count coming out (DESIGN's
    ingest object names that count "documents" too).
    """

    chunks_added: NotRequired[int]
    chunks_unchanged: NotRequired[int]
    chunks_removed: NotRequired[int]
    total_chunks: NotRequired[int]
