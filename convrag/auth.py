"""Who may call the server and what they see (`langgraph.json` and `aegra.json` → `auth`).

CONVRAG_AUTH_TOKENS lists the bearer tokens the server accepts and whose they are:
`token1:user1,token2:user2`. A request must carry `Authorization: Bearer <token>`.
Each user sees, streams and resumes only the threads (and runs, crons) they created,
and retrieval is limited to documents ingested for the tenant named after them
(`convrag ingest --tenant <user>`; the graph reads it through `graph.context.get_context`).

With CONVRAG_AUTH_TOKENS unset or empty, every request is the one user "anonymous",
with no tenant: `make serve` and Studio work without tokens, as without this handler.

The same handler serves both servers: `langgraph dev` injects the handler's arguments by
name, Aegra (`make serve-prod`) passes the request's headers as the one positional argument,
so the handler's one parameter is `headers` and accepts both servers' header mappings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from langgraph_sdk import Auth

from convrag.errors import InvalidInput
from convrag.graph.context import context_from
from convrag.tokens import parse_tokens

ANONYMOUS = "anonymous"

__all__ = ["auth", "parse_tokens"]

auth = Auth()


# Read once, when the server loads this file: a malformed value stops it from starting.
TOKENS = parse_tokens(os.environ.get("CONVRAG_AUTH_TOKENS", ""))


def authorization_header(headers: Mapping[Any, Any] | None) -> str:
    """The Authorization header from either server's mapping (bytes or str keys and values)."""
    for key, value in (headers or {}).items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if name.lower() == "authorization":
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return ""


def identify(headers: Mapping[Any, Any] | None) -> Auth.types.MinimalUserDict:
    """The user a request's bearer token belongs to; HTTPException 401 for a wrong token."""
    if not TOKENS:
        return {"identity": ANONYMOUS}
    scheme, _, token = authorization_header(headers).strip().partition(" ")
    user = TOKENS.get(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail="Send 'Authorization: Bearer <token>' with a valid token."
        )
    # Extra fields ride along to the graph: runtime.server_info.user["tenant"] on LangGraph,
    # the run's auth context on Aegra (see convrag.graph.context.user_tenant).
    return {"identity": user, "tenant": user}  # type: ignore[typeddict-unknown-key]


@auth.authenticate
async def authenticate(headers: Mapping[Any, Any] | None) -> Auth.types.MinimalUserDict:
    """The request's user (anonymous when no tokens are set)."""
    return identify(headers)


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Threads, runs and crons: stamp new ones with their owner; show only the user's own."""
    owner = {"owner": ctx.user.identity}
    if isinstance(value, dict):
        metadata = value.get("metadata")
        if metadata is None:
            metadata = value["metadata"] = {}
        metadata.update(owner)
    return owner


def context_problem(values: Any) -> str | None:
    """One sentence on what is wrong with a run's context (None: Context fields only, typed).

    The LangGraph server drops unknown keys before the graph sees them and Aegra copies
    them into `configurable`, so both servers check a run's context when it is created.
    """
    try:
        context_from(values)
    except InvalidInput as error:
        return str(error)
    return None


@auth.on.threads.create_run
async def create_run(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """A run: refused when its context is not the chat graph's, else owner-stamped."""
    # LangGraph passes the run's arguments under "kwargs"; Aegra checks them in
    # convrag.server_app before this handler runs.
    problem = context_problem((value.get("kwargs") or {}).get("context"))
    if problem:
        raise Auth.exceptions.HTTPException(status_code=422, detail=problem)
    return await owner_only(ctx, value)


@auth.on.assistants.read
async def read_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Everyone may read the graphs' assistants (changing them stays owner-only)."""


@auth.on.assistants.search
async def search_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Everyone may list the graphs' assistants."""


@auth.on.store()
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    """The long-term store: a user reads and writes only under their own namespace."""
    namespace = tuple(value.get("namespace") or ())
    if namespace[:1] != (ctx.user.identity,):
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="Store namespaces start with your user id."
        )
