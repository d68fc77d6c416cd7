"""answer: reply to the turn, grounded in this turn's documents.

Retrieve route: with a model, a streamed answer that cites passages as [n] and says so
when they lack the answer; offline, an extractive answer quoting the best passage
sentences with their citations. Respond route: small talk and questions about the
conversation, answered without the knowledge base. The reply carries its sources in
`response_metadata["sources"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from convrag.graph.context import Context, get_context
from convrag.graph.state import (
    ANSWER,
    REPLY_KIND,
    State,
    dialogue_turns,
    latest_question,
    message_text,
)
from convrag.language import intent
from convrag.language.budget import fit_prompt
from convrag.language.checks import question_problem
from convrag.language.extractive import extractive_answer
from convrag.language.tokens import detect_lang
from convrag.nodes import prompts
from convrag.nodes.models import Core, ModelCall, chat_model, run_async, run_sync

MAX_ANSWER_CHARS = 8000
"""Longest answer kept, in characters: about four times a long grounded answer (the
prompt asks for a concise one), far below what a runaway model can emit."""


def source_list(documents: list[Document]) -> list[dict[str, Any]]:
    """The sources of an answer: document id, title and score, in citation order."""
    return [
        {
            "id": doc.metadata.get("id"),
            "title": doc.metadata.get("title"),
            "score": doc.metadata.get("score"),
        }
        for doc in documents
    ]


def passage_blocks(documents: list[Document]) -> list[str]:
    """Numbered passages for the prompt, most relevant first, as retrieved, as data."""
    return [
        prompts.as_data(
            f"[{number}] {doc.metadata.get('title') or doc.metadata.get('id') or ''}\n"
            f"{doc.page_content}"
        )
        for number, doc in enumerate(documents, start=1)
    ]


def answer_prompt(state: State, context: Context) -> list[AnyMessage]:
    """The messages of the answer call on the retrieve route, within max_prompt_tokens."""
    raw = latest_question(state)
    standalone = state.get("standalone_question") or raw

    def data(summary: str, passages: str) -> str:
        return prompts.ANSWER_DATA.format(
            raw_question=prompts.as_data(raw), standalone_question=prompts.as_data(standalone),
            summary=summary, passages=passages,
        )

    return _fit(state, context, prompts.ANSWER_SYSTEM, data,
                passage_blocks(state.get("documents", [])))


def respond_prompt(state: State, context: Context) -> list[AnyMessage]:
    """The messages of the reply call on the respond route, within max_prompt_tokens."""
    raw = latest_question(state)

    def data(summary: str, passages: str) -> str:
        return prompts.RESPOND_DATA.format(raw_question=prompts.as_data(raw), summary=summary)

    return _fit(state, context, prompts.RESPOND_SYSTEM, data, [])


def _fit(
    state: State, context: Context, system: str, data: Callable[[str, str], str],
    passages: list[str],
) -> list[AnyMessage]:
    """System prompt + recent turns + the data message, cut to fit the prompt budget.

    The instructions and the question always go; the summary and turns share
    max_history_tokens; older turns, the summary and passages are cut in that order
    (see convrag.language.budget). The question itself travels inside the data message.
    """
    history = _recent(state)[:-1]
    plan = fit_prompt(
        context.max_prompt_tokens,
        fixed=[system, data("(none)", "(no passages found)")],
        summary=state.get("summary", ""),
        turns=[message_text(m) for m in history],
        passages=passages,
        conversation_budget=context.max_history_tokens,
    )
    message = data(prompts.as_data(plan.summary or "(none)"),
                   "\n\n".join(plan.passages) or "(no passages found)")
    return [SystemMessage(system), *history[len(history) - plan.turns:], HumanMessage(message)]


def _answer(state: State, context: Context) -> Core:
    raw = latest_question(state)
    lang = detect_lang(raw or state.get("summary", "") or "en")
    rewrite = state.get("rewrite", {})
    if rewrite.get("error"):
        return _reply(rewrite["error"], [], 0, kind="error")
    model = chat_model(context)
    if state.get("route") != "retrieve":
        if model is not None:
            try:
                reply = yield ModelCall(model, respond_prompt(state, context))
                return _reply(message_text(reply), [], 1, reply_id=reply.id, kind="respond")
            except Exception:  # fall back to the rule-based reply
                pass
        return _respond_by_rules(state, raw, lang)
    documents = state.get("documents", [])
    standalone = state.get("standalone_question") or raw
    if model is None:
        return _extractive(standalone, documents, lang, note=None)
    try:
        reply = yield ModelCall(model, answer_prompt(state, context))
    except Exception as exc:  # the user still gets an answer from the passages
        note = (
            f"(模型不可用：{type(exc).__name__}，以下为摘录。)" if lang == "zh"
            else f"(The model is unavailable: {type(exc).__name__}; quoting the passages.)"
        )
        update = _extractive(standalone, documents, lang, note=note)
        update["llm_calls"] = 1
        return update
    # With no passages the model can only say that the knowledge base lacks the answer.
    return _reply(message_text(reply), documents, 1, reply_id=reply.id,
                  kind=ANSWER if documents else "not_found")


async def answer(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the assistant's reply for this turn."""
    context = get_context(runtime)
    return await run_async(_answer(state, context), state, context)


def answer_sync(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """`answer` for the sync API (`invoke`, `stream`)."""
    context = get_context(runtime)
    return run_sync(_answer(state, context), state, context)


def _extractive(
    question: str, documents: list[Document], lang: str, note: str | None
) -> dict[str, Any]:
    result = extractive_answer(
        question, [d.page_content for d in documents], lang=lang,
        titles=[d.metadata.get("title") for d in documents],
    )
    cited = [documents[n - 1] for n in result.cited]
    text = f"{note}\n{result.text}" if note else result.text
    # Citation numbers refer to the turn's document list, so all documents are listed.
    return _reply(text, documents if cited else [], 0,
                  kind=ANSWER if result.found else "not_found")


def _respond_by_rules(state: State, raw: str, lang: str) -> dict[str, Any]:
    kind = intent.classify(raw)
    if kind == "meta":
        return _reply(_conversation_recap(state, lang), [], 0, kind="respond")
    if kind == "knowledge":
        kind = "help"
    return _reply(intent.canned_reply(kind, lang), [], 0, kind="respond")


def _conversation_recap(state: State, lang: str) -> str:
    # What the user asked: small talk ("thanks", "好的，再见"), other questions about the
    # chat and rejected input are no questions to list.
    questions = [text for role, text in dialogue_turns(state.get("messages", []))[:-1]
                 if role == "user" and intent.classify(text) == "knowledge"
                 and question_problem(text) is None]
    summary = state.get("summary", "")
    if not questions and not summary:
        return "这是我们对话的开始。" if lang == "zh" else "This is the start of our conversation."
    lines = []
    if summary:
        lines.append(("更早的对话摘要：\n" if lang == "zh" else "Earlier, in summary:\n") + summary)
    if questions:
        head = "你问过：" if lang == "zh" else "You asked:"
        lines.append(head + "\n" + "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1)))
    return "\n".join(lines)


def _recent(state: State) -> list[AnyMessage]:
    """The thread's user/assistant messages, the newest being the question itself.

    compact_history keeps them few; the prompt budget cuts the oldest when they are not.
    """
    return [
        m for m in state.get("messages", [])
        if isinstance(m, HumanMessage) or (isinstance(m, AIMessage) and not m.tool_calls)
    ]


def _reply(
    text: str, documents: list[Document], calls: int, reply_id: str | None = None, *,
    kind: str,
) -> dict[str, Any]:
    if len(text) > MAX_ANSWER_CHARS:
        # A runaway model must not fill the checkpoint; the cut is marked.
        text = text[:MAX_ANSWER_CHARS] + "…"
    # Keeping the model reply's id tells stream_mode="messages" it was already streamed.
    # The reply's kind travels with it (checkpoints, the servers' thread state), so the
    # next turn knows whether it answered anything (see REPLY_KIND).
    message = AIMessage(
        content=text, id=reply_id,
        response_metadata={"sources": source_list(documents), REPLY_KIND: kind},
    )
    return {"messages": [message], "llm_calls": calls}
