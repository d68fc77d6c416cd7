"""Per-run settings, shown as a form in LangGraph Studio.

Secrets and endpoints (API keys, QDRANT_URL, database URIs) come from the environment
only; these are the knobs a run may change. An explicit value here wins over the
environment's default (an empty `chat_model` means "use CONVRAG_CHAT_MODEL").
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, get_type_hints

from langgraph.runtime import Runtime

from convrag.errors import InvalidInput


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
    score_threshold: float = field(
        default=0.0,
        metadata={
            "description": "Minimum BM25 score a passage must reach for the question to be "
            "retrieved (0: off). In hybrid search it applies to the BM25 side; dense matches "
            "are kept by rank."
        },
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
        default=1200,
        metadata={
            "description": "When the thread's messages pass this many tokens, older turns are "
            "folded into the running summary (about what the rewrite prompt shows of them)."
        },
    )
    keep_recent_turns: int = field(
        default=3,
        metadata={"description": "Turns kept verbatim when the history is compacted."},
    )
    max_summary_tokens: int = field(
        default=400, metadata={"description": "Token budget of the running summary."}
    )
    summary_every_turns: int = field(
        default=3,
        metadata={
            "description": "A compaction folds at least this many turns, so the summary (a "
            "model call) runs at most once every this many turns; meanwhile the history may "
            "pass max_history_tokens by a few turns (prompts stay within max_prompt_tokens)."
        },
    )
    max_prompt_tokens: int = field(
        default=4000,
        metadata={
            "description": "Token budget of the rewrite and answer prompts: summary, recent "
            "turns and passages are cut in that order to fit (passages last, least "
            "relevant first)."
        },
    )
    keep_checkpoints: int = field(
        default=20,
        metadata={
            "description": "Checkpoints kept per thread after each turn of the CLI (one per "
            "turn: the window time travel can reach); 0 keeps all."
        },
    )
    model_timeout_s: float = field(
        default=0.0,
        metadata={
            "description": "Seconds of model time a turn may use, shared by the rewrite, "
            "summary and answer calls; when they are spent the turn falls back to the rules. "
            "0: use CONVRAG_MODEL_TIMEOUT (default 60)."
        },
    )


    def __post_init__(self) -> None:
        for name, kind in _FIELD_TYPES.items():
            problem = _field_problem(name, getattr(self, name), kind)
            if problem:
                raise InvalidInput(problem)


_FIELD_TYPES: dict[str, type] = get_type_hints(Context)
_AT_LEAST_ONE = {"top_k", "max_question_chars", "max_prompt_tokens"}
_KINDS = {str: "a string", int: "a whole number", float: "a number"}


def _field_problem(name: str, value: Any, kind: type) -> str | None:
    """One sentence saying what Context field `name` must be, or None when `value` fits."""
    fits = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if isinstance(value, bool) and kind is not bool:
        fits = False
    low = 1 if name in _AT_LEAST_ONE else 0
    if fits and kind in (int, float) and not low <= value < float("inf"):
        fits = False
    if fits:
        return None
    what = _KINDS[kind] + (f" of at least {low}" if kind in (int, float) else "")
    return f"Context field '{name}' must be {what}, not {value!r}."


def context_from(value: Context | Mapping[str, Any] | None) -> Context:
    """A checked Context from what a caller passed (None: the defaults).

    A mapping (the server API, a dict passed to invoke) may only name Context's fields;
    an unknown key or a wrong type is refused with one sentence naming the field.
    """
    if value is None:
        return DEFAULT_CONTEXT
    if isinstance(value, Context):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"The context must be a Context or a mapping of its fields, not {type(value).__name__}."
        )
    unknown = sorted(str(key) for key in value if key not in _FIELD_TYPES)
    if unknown:
        raise InvalidInput(
            f"Unknown Context field '{unknown[0]}': the fields are {', '.join(_FIELD_TYPES)}."
        )
    return Context(**value)


DEFAULT_CONTEXT = Context()


def get_context(runtime: Runtime[Context] | None) -> Context:
    """The run's Context, or the defaults when the caller passed none.

    On the LangGraph server, an authenticated user's tenant (see convrag/auth.py) replaces
    whatever tenant the run asked for, so a user cannot read another tenant's documents.
    """
    context = context_from(getattr(runtime, "context", None))
    tenant = user_tenant(runtime)
    if tenant is not None and tenant != context.tenant:
        context = replace(context, tenant=tenant)
    return context


def user_tenant(runtime: Runtime[Any] | None) -> str | None:
    """The tenant of the user the server authenticated for this run, if any.

    Only what the server verified counts, never the run's context or configurable (a
    client writes those): on the LangGraph server, `runtime.server_info.user` (an object
    the server builds; a client's JSON `langgraph_auth_user` is a dict, which LangGraph
    does not accept as a user); on Aegra, the run's auth context, which Aegra sets from
    the verified token. convrag's auth handler gives each user with a token a "tenant"
    field. Anonymous and in-process runs have none.
    """
    user = getattr(getattr(runtime, "server_info", None), "user", None)
    if user is None:
        user = _aegra_user()
    if user is None:
        return None
    # LangGraph's user is a mapping; Aegra's a pydantic model with the extra fields as
    # attributes.
    tenant = getattr(user, "tenant", None)
    if tenant is None:
        try:
            tenant = user["tenant"]
        except (KeyError, TypeError):
            return None
    return str(tenant) if tenant else None


def _aegra_user() -> Any:
    """The user of the Aegra run in progress, or None outside Aegra.

    Looked up in sys.modules so that in-process runs never import the server.
    """
    auth_ctx = sys.modules.get("aegra_api.core.auth_ctx")
    ctx = auth_ctx.get_auth_ctx() if auth_ctx is not None else None
    return getattr(ctx, "user", None)
