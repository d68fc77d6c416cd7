"""What a conversation's state is: the input, the full state, the output, and reducers.

Per-turn fields (standalone_question, rewrite, route, documents, llm_calls) are written
on every turn, so nothing stale leaks into the next turn of a checkpointed thread.
Thread-long fields (messages, summary, summary_calls, entities, turn, questions) persist
and stay bounded: compact_history folds old messages into the summary, and entities and
questions are capped.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    convert_to_messages,
)
from langgraph.channels.ephemeral_value import EphemeralValue
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from convrag.errors import InvalidInput
from convrag.language.checks import clean_question
from convrag.language.resolver import REMEMBERED_QUESTIONS

Route = Literal["retrieve", "respond"]


def remember_questions(
    known: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Reducer of `questions`: add this turn's knowledge questions, keep the latest few.

    Entries are `{"turn", "question", "opens_topic"}` (`opens_topic`, whether the
    question started a new topic, is missing from entries written before 0.4; missing
    reads as false); one per turn (a later write for the same turn
    replaces the earlier one), in turn order. A thread checkpointed before this field
    existed starts from an empty record.
    """
    by_turn = {int(q["turn"]): q for q in [*(known or []), *(new or [])]}
    return [by_turn[t] for t in sorted(by_turn)][-REMEMBERED_QUESTIONS:]


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
    questions: Annotated[list[dict[str, Any]], remember_questions]
    """The thread's knowledge questions (standalone form), oldest first: what an
    ellipsis carries over and what the history-aware query is built from. Small talk,
    meta questions and rejected input never enter it."""
    standalone_question: str
    rewrite: dict[str, Any]
    route: Route
    documents: list[Document]
    llm_calls: Annotated[int, operator.add]
    model_seconds: Annotated[float, operator.add]
    """Model time this turn has used so far: the nodes share one budget per turn."""


class OutputState(TypedDict):
    """What a caller gets back."""

    messages: list[AnyMessage]
    standalone_question: str
    rewrite: dict[str, Any]
    route: Route
    documents: list[Document]
    llm_calls: int


def check_input(value: Any) -> Mapping[str, Any]:
    """The chat graph's input if it is well formed; otherwise one sentence naming the field.

    Runs before the graph writes anything, so a malformed input never reaches a thread.
    """
    if not isinstance(value, Mapping):
        raise InvalidInput(
            'The input must be a mapping such as {"messages": [{"role": "user", "content": '
            f'"..."}}]}}, not {type(value).__name__}.'
        )
    unknown = sorted(str(key) for key in value if key not in InputState.__annotations__)
    if unknown:
        raise InvalidInput(
            f"Unknown input key '{unknown[0]}': the input takes 'messages' and, optionally, "
            "'topic'."
        )
    if "topic" in value and not isinstance(value["topic"], str):
        raise InvalidInput(f"'topic' must be a string, not {type(value['topic']).__name__}.")
    if "messages" in value:
        messages = value["messages"]
        items = messages if isinstance(messages, list) else [messages]
        for number, item in enumerate(items):
            if isinstance(item, BaseMessage) or _plain_message(item):
                continue  # well formed as it is: no need to build a message to check it
            content = item.get("content") if isinstance(item, Mapping) else ""
            if not isinstance(content, str | list):
                raise InvalidInput(
                    f"'messages[{number}].content' must be a string or a list of content "
                    f"blocks, not {type(content).__name__}."
                )
            try:
                convert_to_messages([item])
            except Exception as exc:  # langchain raises several kinds for a bad message
                raise InvalidInput(
                    f"'messages[{number}]' must be a LangChain message or "
                    '{"role": "user"|"assistant", "content": "..."}.'
                ) from exc
    return value


def clean_input(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """The checked input with the user's messages cleaned (`clean_question`): escape
    sequences, zero-width and control characters removed before anything reads or stores
    them. Other messages (a client's assistant or system turns) are left as sent."""
    if "messages" not in value:
        return value
    messages = value["messages"]
    items = messages if isinstance(messages, list) else [messages]
    return {**value, "messages": [_clean_message(item) for item in items]}


_USER_ROLES = frozenset({"user", "human"})


def _clean_message(item: Any) -> Any:
    if isinstance(item, str):
        return clean_question(item)
    if isinstance(item, HumanMessage):
        return item.model_copy(update={"content": _clean_content(item.content)})
    if isinstance(item, tuple) and len(item) == 2 and item[0] in _USER_ROLES:
        return (item[0], _clean_content(item[1]))
    if isinstance(item, Mapping) and (item.get("role") in _USER_ROLES
                                      or item.get("type") in _USER_ROLES):
        return {**item, "content": _clean_content(item.get("content", ""))}
    return item


def _clean_content(content: Any) -> Any:
    if isinstance(content, str):
        return clean_question(content)
    if isinstance(content, list):
        return [
            {**block, "text": clean_question(block["text"])}
            if isinstance(block, dict) and isinstance(block.get("text"), str)
            else clean_question(block) if isinstance(block, str) else block
            for block in content
        ]
    return content


_ROLES = frozenset({"user", "human", "assistant", "ai", "system"})


def _plain_message(item: Any) -> bool:
    """A `{"role", "content"}` dict with a known role and string content, nothing else."""
    return (isinstance(item, dict) and set(item) == {"role", "content"}
            and item["role"] in _ROLES and isinstance(item["content"], str))


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
    """The cleaned text of the newest human message ('' when there is none).

    Cleaned here too (`clean_question`): a parent graph hands its messages in without
    the chat graph's input checks.
    """
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return clean_question(message_text(message))
    return ""


REPLY_KIND = "convrag_reply"
"""The key of the answer node's `response_metadata` that says what its reply is:
`"answer"` (from the knowledge base), `"not_found"` (the knowledge base had nothing),
`"respond"` (small talk, help, a recap) or `"error"` (the input was refused). Only an
answer introduces entities a later question can refer to."""
ANSWER = "answer"


def reply_kind(message: AnyMessage) -> str | None:
    """What an assistant message of this graph is (see `REPLY_KIND`); None for a message
    from elsewhere (an imported history, an older thread, a parent graph's own)."""
    kind = message.response_metadata.get(REPLY_KIND) if isinstance(message, AIMessage) else None
    return kind if isinstance(kind, str) else None


def dialogue_turns(messages: list[AnyMessage], *, answers_only: bool = False
                   ) -> list[tuple[str, str]]:
    """(role, text) pairs of user and assistant messages, oldest first.

    Tool calls and tool results are internal to an assistant turn and left out. With
    `answers_only`, a reply marked as no answer (`reply_kind`) reads as "": the turn
    stays, but what the assistant said in it is nothing to learn from.
    """
    turns: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            turns.append(("user", message_text(message)))
        elif isinstance(message, AIMessage) and not message.tool_calls:
            text = message_text(message)
            if text:
                kind = reply_kind(message) if answers_only else None
                turns.append(("assistant", text if kind in (None, ANSWER) else ""))
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


class IndexState(TypedDict):
    """Input and report together: the node reads the one and writes the other.

    `documents` holds the records going in and the report's count coming out (DESIGN's
    ingest object names that count "documents" too).

    Every field is an ephemeral channel: each call stands alone. With plain channels a
    field a call leaves out kept the value an earlier call on the same thread sent (a
    server run always has a thread), so a later call silently pruned, or wrote to the
    earlier call's collection, and after a refused `"tenant"` every call on the thread
    failed with the same refusal.
    """

    documents: Annotated[Any, EphemeralValue(Any)]
    collection: NotRequired[Annotated[str, EphemeralValue(str)]]
    tenant: NotRequired[Annotated[str, EphemeralValue(str)]]
    source: NotRequired[Annotated[str, EphemeralValue(str)]]
    prune: NotRequired[Annotated[bool, EphemeralValue(bool)]]
    chunks_added: NotRequired[Annotated[int, EphemeralValue(int)]]
    chunks_unchanged: NotRequired[Annotated[int, EphemeralValue(int)]]
    chunks_removed: NotRequired[Annotated[int, EphemeralValue(int)]]
    total_chunks: NotRequired[Annotated[int, EphemeralValue(int)]]
