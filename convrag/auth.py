"""Who may call the LangGraph server and what they see (`langgraph.json` → `auth`).

CONVRAG_AUTH_TOKENS lists the bearer tokens the server accepts and whose they are:
`token1:user1,token2:user2`. A request must carry `Authorization: Bearer <token>`.
Each user sees, streams and resumes only the threads (and runs, crons) they created,
and retrieval is limited to documents ingested for the tenant named after them
(`convrag ingest --tenant <user>`; the graph reads it through `graph.context.get_context`).

With CONVRAG_AUTH_TOKENS unset or empty, every request is the one user "anonymous",
with no tenant: `make serve` and Studio work without tokens, as without this handler.
"""

from __future__ import annotations

import os
from typing import Any

from langgraph_sdk import Auth

ANONYMOUS = "anonymous"

auth = Auth()


def parse_tokens(spec: str) -> dict[str, str]:
    """`token1:user1,token2:user2` as {token: user}; ValueError names a malformed entry."""
    tokens: dict[str, str] = {}
    for number, entry in enumerate(spec.split(","), start=1):
        if not entry.strip():
            continue
        token, sep, user = entry.strip().partition(":")
        if not sep or not token.strip() or not user.strip():
            # Names the entry by position: its text may be a secret.
            raise ValueError(
                f"CONVRAG_AUTH_TOKENS entry {number} is not 'token:user': write "
                "'token1:user1,token2:user2', or unset it to run without auth."
            )
        tokens[token.strip()] = user.strip()
    return tokens


# Read once, when the server loads this file: a malformed value stops it from starting.
TOKENS = parse_tokens(os.environ.get("CONVRAG_AUTH_TOKENS", ""))


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    """The user a request's bearer token belongs to (anonymous when no tokens are set)."""
    if not TOKENS:
        return {"identity": ANONYMOUS}
    scheme, _, token = (authorization or "").strip().partition(" ")
    user = TOKENS.get(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail="Send 'Authorization: Bearer <token>' with a valid token."
        )
    # Extra fields ride along to the graph as runtime.server_info.user["tenant"].
    return {"identity": user, "tenant": user}  # type: ignore[typeddict-unknown-key]


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
