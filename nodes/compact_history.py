"""compact_history: keep the thread within its token budget.

When the messages pass `max_history_tokens`, every turn but the last
`keep_recent_turns` is folded into the running summary and removed from the thread
with RemoveMessage, so the checkpointed state stays bounded too. Turns are cut only at
a human message, which keeps the latest question and keeps an assistant's tool calls
together with their results. Entities live in their own field and are not touched.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from convrag.language.extractive import extractive_summary
from convrag.language.tokens import count_tokens, detect_lang
from graph.context import Context, get_context
from graph.state import State, dialogue_turns, message_text
from nodes import prompts
from nodes.models import chat_model


def history_tokens(messages: list[AnyMessage]) -> int:
    """Tokens of the messages' text, counted CJK-aware, plus a little per message."""
    return sum(count_tokens(message_text(m)) + 4 for m in messages)


def compaction_cut(messages: list[AnyMessage], keep_recent_turns: int) -> int:
    """Index of the first message to keep: the start of the last `keep_recent_turns` turns."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not starts:
        return 0
    keep = max(1, keep_recent_turns)
    return starts[-keep] if len(starts) >= keep else starts[0]


async def compact_history(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Fold old turns into the summary when the history is over budget."""
    context = get_context(runtime)
    messages = state.get("messages", [])
    # Per-turn counter starts here, on every turn.
    update: dict[str, Any] = {"llm_calls": Overwrite(0)}
    if history_tokens(messages) <= context.max_history_tokens:
        return update
    cut = compaction_cut(messages, context.keep_recent_turns)
    old = messages[:cut]
    if not old:
        return update
    turns = dialogue_turns(old)
    pairs = _pairs(turns)
    summary = state.get("summary", "")
    lang = detect_lang(" ".join(text for _, text in turns[-4:]))
    model = chat_model(context)
    calls = 0
    if model is not None:
        try:
            reply = await model.ainvoke(
                [
                    SystemMessage(prompts.SUMMARY_SYSTEM.format(
                        max_tokens=context.max_summary_tokens)),
                    HumanMessage(prompts.SUMMARY_USER.format(
                        summary=summary or "(none)",
                        turns="\n".join(f"{role}: {text}" for role, text in turns),
                    )),
                ]
            )
            calls = 1
            new_summary = message_text(reply).strip()
        except Exception:  # any model failure: fall back to the extractive summary
            calls = 1
            new_summary = ""
        if not new_summary or count_tokens(new_summary) > 2 * context.max_summary_tokens:
            new_summary = extractive_summary(
                summary, pairs, lang=lang, budget_tokens=context.max_summary_tokens
            )
    else:
        new_summary = extractive_summary(
            summary, pairs, lang=lang, budget_tokens=context.max_summary_tokens
        )
    update["llm_calls"] = Overwrite(calls)
    update["summary"] = new_summary
    update["messages"] = [RemoveMessage(id=m.id) for m in old if m.id]
    return update


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
