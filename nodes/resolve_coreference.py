"""resolve_coreference: rewrite the latest question into a standalone one.

The gate runs first and costs nothing: a question with no reference and a named subject
passes through unchanged, with no model call. Otherwise, with a model configured, one
structured-output call returns the rewrite, the scenario, the resolved mentions and the
route; on an error, a timeout or unusable output the rule-based resolver takes over. In
offline mode the rule-based resolver does the work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, cast

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from convrag.graph.context import Context, get_context
from convrag.graph.state import State, dialogue_turns, latest_question
from convrag.language import expansion, resolver
from convrag.language.budget import fit_prompt
from convrag.language.checks import question_problem
from convrag.language.entities import Entity
from convrag.nodes import prompts
from convrag.nodes.models import Core, ModelCall, chat_model, run_async, run_sync
from convrag.nodes.resources import load_language

MIN_REWRITE_CHARS = 200
"""A rewrite may always be this long: a short follow-up ("它呢？") can need a long name."""
REWRITE_GROWTH = 4
"""Otherwise at most this many times the question's length (one or two names added)."""
MAX_REASONING_CHARS = 1000
MAX_MENTIONS = 10
MAX_MENTION_CHARS = 100
"""Caps on what of the model's trace is checkpointed with the thread."""


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
    if not remembered and state.get("entities"):
        # A thread checkpointed before `questions` existed (it reads as empty): its last
        # standalone question is the best record it has. A thread of this version has
        # entities only once it has had a knowledge question, which it also recorded.
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
    # A reply that answered nothing ("The knowledge base has nothing that answers …")
    # reads as "": its words are the assistant's, not the conversation's subject.
    turns = dialogue_turns(state.get("messages", []), answers_only=True)
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
        # to "谢谢", an error message or a not-found reply does not.
        resolver.absorb_answer(dialogue, turns[-1][1])
    return dialogue


def _resolve_coreference(state: State, context: Context) -> Core:
    question = latest_question(state).strip()
    problem = question_problem(question, context.max_question_chars)
    if problem:
        return {
            "standalone_question": "",
            "rewrite": {"raw": question[:200], "error": problem, "mode": "rejected"},
            "llm_calls": 0,
        }
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
            call, parse = structured_rewriter(model)
            reply = yield ModelCall(call, rewrite_prompt(state, dialogue, question, context))
            decision = _decision(parse(reply), question, context)
            result = resolver.Resolution(
                standalone=decision.standalone_question.strip(),
                scenario=decision.scenario,
                mentions=tuple(
                    resolver.Mention(m.mention[:MAX_MENTION_CHARS],
                                     m.antecedent[:MAX_MENTION_CHARS])
                    for m in decision.mentions[:MAX_MENTIONS]
                ),
                gate_reasons=offline.gate_reasons,
            )
            trace.update(mode="model", route=decision.route,
                         reasoning=decision.reasoning[:MAX_REASONING_CHARS])
        except Exception as exc:  # timeouts, HTTP errors, unusable output: rules take over
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
    if not resolver.is_knowledge_turn(question):
        # Small talk and meta questions count as a turn (older entities grow less
        # salient) but leave no entity and no question behind.
        update["turn"] = dialogue.turn + 1
        return update
    earlier = dialogue.questions
    resolver.note_question(dialogue, result.standalone, result.mentions)
    known = list(state.get("questions") or [])
    if not known and earlier:
        # Replayed from the messages (or an old thread): number them just before this
        # turn, and mark where topics opened as if they had been asked here one by one.
        opened = expansion.topic_openings(list(zip(earlier, _raw_questions(state, earlier),
                                                   strict=True)))
        known = [{"turn": dialogue.turn - len(earlier) + i, "question": q, "opens_topic": o}
                 for i, (q, o) in enumerate(zip(earlier, opened, strict=True))]
    topic = expansion.current_topic(
        [(str(q["question"]), bool(q.get("opens_topic"))) for q in known])
    update.update(
        entities=[e.to_dict() for e in dialogue.entities],
        turn=dialogue.turn,
        questions=[*known, {"turn": dialogue.turn, "question": result.standalone,
                            "opens_topic": expansion.opens_topic(result.standalone, question,
                                                                 topic)}],
    )
    return update


def _raw_questions(state: State, standalone: list[str]) -> list[str]:
    """The user's own words of the `standalone` questions (the thread's last knowledge
    questions before this turn), oldest first; a question whose message was compacted
    away stands for itself."""
    turns = dialogue_turns(state.get("messages", []))
    if turns and turns[-1][0] == "user":
        turns = turns[:-1]  # the question of this turn
    asked = [text for role, text in turns if role == "user" and resolver.is_knowledge_turn(text)]
    asked = asked[-len(standalone):] if standalone else []
    return standalone[:len(standalone) - len(asked)] + asked


async def resolve_coreference(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write this turn's standalone question, its trace, and the updated entities."""
    context = get_context(runtime)
    # The text the resolver will cut: jieba's dictionary loads off the event loop, and
    # only for a thread that has Chinese in it.
    await load_language(" ".join([latest_question(state), state.get("topic") or "", *(
        text for _, text in dialogue_turns(state.get("messages", [])))]))
    return await run_async(_resolve_coreference(state, context), state, context)


def resolve_coreference_sync(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """`resolve_coreference` for the sync API (`invoke`, `stream`)."""
    context = get_context(runtime)
    return run_sync(_resolve_coreference(state, context), state, context)


Parse = Callable[[Any], Any]
_rewriters: dict[int, tuple[Any, Any, Parse]] = {}


def structured_rewriter(model: Any) -> tuple[Any, Parse]:
    """The model call that returns a Rewrite, and the parse of its reply.

    The provider's own `with_structured_output` decides how (tool calling, a JSON schema);
    when it is the usual model-then-parser sequence, the model is called alone and its
    reply parsed here, which skips the chain's per-call bookkeeping (several times the
    cost of the call itself with a fast model). Binding converts the schema to a tool
    definition, so it is done once per model object.
    """
    cached = _rewriters.get(id(model))
    if cached is None or cached[0] is not model:  # an id may be reused by a new object
        # Imported here: the offline mode never builds a rewriter, so `ask` skips them.
        from langchain_core.output_parsers import BaseGenerationOutputParser, BaseOutputParser
        from langchain_core.runnables import RunnableSequence

        chain = model.with_structured_output(Rewrite)
        call, parse = chain, cast(Parse, _as_is)
        if (isinstance(chain, RunnableSequence) and len(chain.steps) == 2
                and isinstance(chain.last, BaseOutputParser | BaseGenerationOutputParser)):
            call, parse = _traced_schema_once(chain.first), _parser(chain.last)
        if len(_rewriters) >= 64:  # a process uses a few models; tests register many
            _rewriters.clear()
        cached = (model, call, parse)
        _rewriters[id(model)] = cached
    return cached[1], cached[2]


def _traced_schema_once(call: Any) -> Any:
    """The bound model with its tracing copy of the schema already in JSON schema form.

    LangChain converts the pydantic schema it records for tracing on every call (about
    half a millisecond); converting an already converted one is free, and equal.
    """
    from langchain_core.runnables import RunnableBinding
    from langchain_core.utils.function_calling import convert_to_json_schema

    traced = call.kwargs.get("ls_structured_output_format") if isinstance(
        call, RunnableBinding) else None
    if not traced or isinstance(traced.get("schema"), dict):
        return call
    return call.bind(ls_structured_output_format={
        **traced, "schema": convert_to_json_schema(traced["schema"])})


def _as_is(reply: Any) -> Any:
    return reply


def _parser(parser: Any) -> Parse:
    from langchain_core.outputs import ChatGeneration

    def parse(reply: Any) -> Any:
        return parser.parse_result([ChatGeneration(message=reply)])

    return parse


def _decision(parsed: Any, question: str, context: Context) -> Rewrite:
    """The model's decision if it is usable: a Rewrite with a sane standalone question."""
    if not isinstance(parsed, Rewrite):
        raise ValueError(f"the model returned no usable rewrite (got {type(parsed).__name__})")
    problem = rewrite_problem(parsed.standalone_question, question, context)
    if problem:
        raise ValueError(f"the model's rewrite is not usable: {problem}")
    return parsed


def rewrite_problem(rewrite: str, question: str, context: Context) -> str | None:
    """Why a model's standalone question cannot be used, or None.

    A rewrite resolves a few references, so it is about as long as the question plus the
    names it adds: past `REWRITE_GROWTH` times the question (at least `MIN_REWRITE_CHARS`),
    on several lines, or empty, it is an answer, an essay or noise, and the rule-based
    rewrite is used instead.
    """
    text = rewrite.strip()
    limit = min(context.max_question_chars,
                max(MIN_REWRITE_CHARS, REWRITE_GROWTH * len(question)))
    if not text:
        return "it is empty"
    if "\n" in text:
        return "it spans several lines"
    if len(text) > limit:
        return f"it has {len(text)} characters, more than the {limit} allowed for this question"
    return None


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
            topic=prompts.as_data(state.get("topic") or "(none)"),
            summary=prompts.as_data(summary),
            entities=prompts.as_data(", ".join(e.text for e in dialogue.entities) or "(none)"),
            history=prompts.as_data(history),
            question=prompts.as_data(question),
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
