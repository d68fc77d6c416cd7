"""resolve_coreference: rewrite the latest question into a standalone one.

The gate runs first and costs nothing: a question with no reference and a named subject
passes through unchanged, with no model call. Otherwise, with a model configured, one
structured-output call returns the rewrite, the scenario, the resolved mentions and the
route; on an error, a timeout or unusable output the rule-based resolver takes over. In
offline mode the rule-based resolver does the work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from convrag.graph.context import Context, get_context
from convrag.graph.state import State, dialogue_turns, latest_question
from convrag.language import resolver
from convrag.language.budget import fit_prompt
from convrag.language.checks import question_problem
from convrag.language.entities import Entity
from convrag.nodes import prompts
from convrag.nodes.models import chat_model
from convrag.nodes.resources import load_language


class ResolvedMention(BaseModel):
    """One reference in the latest message and what it stands for."""

    mention: str = Field(description="The words in the latest message, e.g. '它' or 'she'.")
    antecedent: str = Field(description="What they refer to, e.g. '尼罗河' or 'Marie Curie'.")


class Rewrite(BaseModel):
    """The structured decision of the resolve call."""

    reasoning: str = Field(description="Brief step-by-step reasoning about the references.")
    scenario: Literal[
        "none", "pronoun", "ellipsis", "comparison", "topic_return", "clarification",
        "relative_date", "no_subject",
    ] = Field(description="Which reference scenario applies.")
    mentions: list[ResolvedMention] = Field(default_factory=list)
    standalone_question: str = Field(description="The rewritten, standalone question.")
    route: Literal["retrieve", "respond"] = Field(
        description="'retrieve' if answering needs the knowledge base, else 'respond'."
    )


def build_dialogue(state: State) -> resolver.Dialogue:
    """The resolver's view of the thread before the latest question."""
    entities = [Entity.from_dict(e) for e in state.get("entities", [])]
    remembered = state.get("questions")
    if not remembered and state.get("turn", 0) > 0:
        # A thread checkpointed before `questions` existed (it reads as empty): its last
        # standalone question is the best record it has. Threads of this version count
        # only knowledge turns, so an empty record with a turn is always an old thread.
        previous = state.get("standalone_question")
        questions = [previous] if previous else []
    else:
        questions = [str(q["question"]) for q in remembered or []]
    dialogue = resolver.Dialogue(
        entities=entities,
        questions=questions,
        turn=state.get("turn", 0),
        topic=state.get("topic") or None,
    )
    turns = dialogue_turns(state.get("messages", []))
    if turns and turns[-1][0] == "user":
        turns = turns[:-1]
    if not entities and turns:
        # A thread that arrived without our state (a parent graph, an imported history):
        # rebuild the entities from the visible turns.
        rebuilt = resolver.replay(turns, dialogue.topic)
        rebuilt.turn += dialogue.turn
        return rebuilt
    if (len(turns) >= 2 and turns[-1][0] == "assistant" and turns[-2][0] == "user"
            and resolver.is_knowledge_turn(turns[-2][1])):
        # Only an answer to a knowledge question introduces entities; a canned reply
        # to "谢谢" or an error message does not.
        resolver.absorb_answer(dialogue, turns[-1][1])
    return dialogue


async def resolve_coreference(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write this turn's standalone question, its trace, and the updated entities."""
    context = get_context(runtime)
    question = latest_question(state).strip()
    problem = question_problem(question, context.max_question_chars)
    if problem:
        return {
            "standalone_question": "",
            "rewrite": {"raw": question[:200], "error": problem, "mode": "rejected"},
            "llm_calls": 0,
        }
    await load_language(" ".join([question, state.get("topic") or "", *(
        text for _, text in dialogue_turns(state.get("messages", [])))]))
    dialogue = build_dialogue(state)
    offline = resolver.resolve(question, dialogue)
    trace: dict[str, Any] = {
        "raw": question,
        "gate": list(offline.gate_reasons),
        "mode": "offline",
    }
    calls = 0
    result = offline
    model = chat_model(context)
    if model is not None and offline.gate_reasons:
        calls = 1
        try:
            decision = await asyncio.wait_for(
                _ask_model(model, state, dialogue, question, context),
                timeout=context.model_timeout_s,
            )
            result = resolver.Resolution(
                standalone=decision.standalone_question.strip() or question,
                scenario=decision.scenario,
                mentions=tuple(
                    resolver.Mention(m.mention, m.antecedent) for m in decision.mentions
                ),
                gate_reasons=offline.gate_reasons,
            )
            trace.update(mode="model", route=decision.route, reasoning=decision.reasoning)
        except Exception as exc:  # timeouts, HTTP errors, unparsable output: rules take over
            trace.update(mode="fallback", model_error=f"{type(exc).__name__}: {exc}"[:300])
    trace.update(
        standalone=result.standalone,
        scenario=result.scenario,
        mentions=[{"mention": m.mention, "antecedent": m.antecedent} for m in result.mentions],
    )
    update: dict[str, Any] = {
        "standalone_question": result.standalone,
        "rewrite": trace,
        "llm_calls": calls,
    }
    if resolver.is_knowledge_turn(question):
        resolver.note_question(dialogue, result.standalone)
        update.update(
            entities=[e.to_dict() for e in dialogue.entities],
            turn=dialogue.turn,
            questions=[{"turn": dialogue.turn - len(dialogue.questions) + 1 + i, "question": q}
                       for i, q in enumerate(dialogue.questions)],
        )
    return update


async def _ask_model(
    model: Any, state: State, dialogue: resolver.Dialogue, question: str, context: Context
) -> Rewrite:
    structured = model.with_structured_output(Rewrite, include_raw=True)
    messages = rewrite_prompt(state, dialogue, question, context)
    reply = await structured.ainvoke(messages)
    parsed = reply.get("parsed") if isinstance(reply, dict) else reply
    if not isinstance(parsed, Rewrite):
        error = reply.get("parsing_error") if isinstance(reply, dict) else None
        raise ValueError(f"the model returned no usable rewrite ({error})")
    return parsed


def rewrite_prompt(
    state: State, dialogue: resolver.Dialogue, question: str, context: Context
) -> list[SystemMessage | HumanMessage]:
    """The rewrite call's messages, within max_prompt_tokens.

    The instructions, entities and question always go; the oldest turns and then the
    summary's oldest lines are cut to fit, the two together within max_history_tokens.
    """
    system = prompts.RESOLVE_SYSTEM.format(today=dt.date.today().isoformat())
    lines = _history_lines(dialogue_turns(state.get("messages", []))[:-1])

    def user(summary: str, history: str) -> str:
        return prompts.RESOLVE_USER.format(
            topic=state.get("topic") or "(none)",
            summary=summary,
            entities=", ".join(e.text for e in dialogue.entities) or "(none)",
            history=history,
            question=question,
        )

    plan = fit_prompt(context.max_prompt_tokens, fixed=[system, user("(none)", "(none)")],
                      summary=state.get("summary", ""), turns=lines, passages=[],
                      conversation_budget=context.max_history_tokens)
    history = "\n".join(lines[len(lines) - plan.turns:])
    return [
        SystemMessage(system),
        HumanMessage(user(plan.summary or "(none)", history or "(none)")),
    ]


def _history_lines(turns: list[tuple[str, str]]) -> list[str]:
    """One line per turn, oldest first; long answers clipped."""
    return [f"{role}: {text if len(text) <= 600 else text[:600] + '…'}" for role, text in turns]
