"""compact_history: keep the thread within its token budget, at an amortized cost.

When the messages pass `max_history_tokens`, every turn but the last
`keep_recent_turns` is folded into the running summary and removed from the thread
with RemoveMessage, so the checkpointed state stays bounded too. Turns are cut only at
a human message, which keeps the latest question and keeps an assistant's tool calls
together with their results; system messages stay. The summary has its own budget,
`max_summary_tokens`, and is extended at most once every `summary_every_turns` turns:
a compaction folds at least that many turns at once and cuts back to the recent ones,
so the next one waits for that many new turns instead of firing on every turn once
the budget is reached.
Entities live in their own field and are not touched, so references to what was
compacted away still resolve.
"""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from convrag.graph.context import Context, get_context
from convrag.graph.state import State, dialogue_turns, message_text
from convrag.language.budget import PER_MESSAGE_TOKENS, clip_summary
from convrag.language.extractive import extractive_summary
from convrag.language.tokens import count_tokens, detect_lang
from convrag.nodes import prompts
from convrag.nodes.models import Core, ModelCall, chat_model, run_async, run_sync


def history_tokens(messages: list[AnyMessage]) -> int:
    """Tokens of the messages' text, counted CJK-aware, plus a little per message."""
    return sum(_tokens(message_text(m)) + PER_MESSAGE_TOKENS for m in messages)


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> int:
    # Every turn counts the whole thread again, and a thread's messages change only at
    # its end: remembering the counts saves most of that work.
    return count_tokens(text)


def compaction_cut(messages: list[AnyMessage], keep_recent_turns: int) -> int:
    """Index of the first message to keep: the start of the last `keep_recent_turns` turns.

    A turn starts at a human message, so the latest question is always kept (even with
    `keep_recent_turns=0`) and tool calls are never parted from their results.
    """
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not starts:
        return 0
    keep = max(1, keep_recent_turns)
    return starts[-keep] if len(starts) >= keep else starts[0]


def _compact_history(state: State, context: Context) -> Core:
    messages = state.get("messages", [])
    # Per-turn counter starts here, on every turn.
    update: dict[str, Any] = {"llm_calls": Overwrite(0)}
    if history_tokens(messages) <= context.max_history_tokens:
        return update
    cut = compaction_cut(messages, context.keep_recent_turns)
    old: list[AnyMessage] = [m for m in messages[:cut] if not isinstance(m, SystemMessage)]
    folded = sum(1 for m in old if isinstance(m, HumanMessage))
    if not old or folded < max(1, context.summary_every_turns):
        # Too few turns to fold: wait, so the summary is not rewritten every turn.
        return update
    turns = dialogue_turns(old)
    summary = state.get("summary", "")
    lang = detect_lang(" ".join(text for _, text in turns[-4:]))
    model = chat_model(context)
    new_summary = ""
    if model is not None:
        update["llm_calls"] = Overwrite(1)
        try:
            reply = yield ModelCall(model, summary_prompt(summary, turns, context))
            new_summary = message_text(reply).strip()
        except Exception:  # any model failure: the extractive summary takes over
            new_summary = ""
    if not new_summary:
        new_summary = extractive_summary(
            summary, _pairs(turns), lang=lang, budget_tokens=context.max_summary_tokens
        )
    update["summary"] = clip_summary(new_summary, context.max_summary_tokens)
    update["summary_calls"] = state.get("summary_calls", 0) + 1
    update["messages"] = [RemoveMessage(id=m.id) for m in old if m.id]
    return update


async def compact_history(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Fold old turns into the summary when the history is over budget."""
    context = get_context(runtime)
    return await run_async(_compact_history(state, context), state, context, starts_turn=True)


def compact_history_sync(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """`compact_history` for the sync API (`invoke`, `stream`)."""
    context = get_context(runtime)
    return run_sync(_compact_history(state, context), state, context, starts_turn=True)


def summary_prompt(
    summary: str, turns: list[tuple[str, str]], context: Context
) -> list[AnyMessage]:
    """The summary call's messages: the turns to fold in go as delimited data."""
    return [
        SystemMessage(prompts.SUMMARY_SYSTEM.format(max_tokens=context.max_summary_tokens)),
        HumanMessage(prompts.SUMMARY_USER.format(
            summary=prompts.as_data(summary or "(none)"),
            turns=prompts.as_data("\n".join(f"{role}: {text}" for role, text in turns)),
        )),
    ]


def _pairs(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(question, answer) pairs; a question without an answer gets an empty one."""
    pairs: list[tuple[str, str]] = []
    for role, text in turns:
        if role == "user":
            pairs.append((text, ""))
        elif pairs:
            question, answer = pairs[-1]
            pairs[-1] = (question, f"{answer} {text}".strip())
    return pairs
