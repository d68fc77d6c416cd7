"""Per-run settings, shown as a form in LangGraph Studio.

Secrets and endpoints (API keys, QDRANT_URL, database URIs) come from the environment
only; these are the knobs a run may change. An explicit value here wins over the
environment's default (an empty `chat_model` means "use CONVRAG_CHAT_MODEL").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langgraph.runtime import Runtime


@dataclass(frozen=True)
class Context:
    """Settings of one run of the chat graph."""

    chat_model: str = field(
        default="",
        metadata={
            "description": "Chat model as 'provider:model' (e.g. 'openai:gpt-4.1-mini'), or "
            "'offline' for the rule-based mode. Empty: use CONVRAG_CHAT_MODEL."
        },
    )
    collection: str = field(
        default="convrag",
        metadata={"description": "Qdrant collection to retrieve from."},
    )
    top_k: int = field(
        default=5, metadata={"description": "How many documents to retrieve per turn."}
    )
    tenant: str = field(
        default="",
        metadata={"description": "Only retrieve documents ingested for this tenant (empty: all)."},
    )
    max_question_chars: int = field(
        default=2000,
        metadata={"description": "Longest question accepted, in characters."},
    )
    max_history_tokens: int = field(
        default=2000,
        metadata={
            "description": "When the thread's messages pass this many tokens, older turns are "
            "folded into the running summary."
        },
    )
    keep_recent_turns: int = field(
        default=3,
        metadata={"description": "Turns kept verbatim when the history is compacted."},
    )
    max_summary_tokens: int = field(
        default=400, metadata={"description": "Token budget of the running summary."}
    )
    model_timeout_s: float = field(
        default=60.0,
        metadata={"description": "Seconds to wait for a model call before falling back."},
    )


DEFAULT_CONTEXT = Context()


def get_context(runtime: Runtime[Context] | None) -> Context:
    """The run's Context, or the defaults when the caller passed none."""
    context = getattr(runtime, "context", None)
    if context is None:
        return DEFAULT_CONTEXT
    if isinstance(context, dict):
        # The server API passes context as a plain mapping.
        known = {k: v for k, v in context.items() if k in Context.__dataclass_fields__}
        return Context(**known)
    return context
