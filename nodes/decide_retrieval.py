"""decide_retrieval: does this turn need the knowledge base?

The model's route from the resolve call is used when there was one; otherwise rules
decide (greetings, thanks, farewells, help and questions about the conversation itself
are answered directly). Skipping retrieval clears this turn's documents.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from convrag.graph.context import Context
from convrag.graph.state import State, latest_question
from convrag.language import intent


async def decide_retrieval(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write this turn's route, and empty documents when retrieval is skipped."""
    return decide_retrieval_sync(state, runtime)


def decide_retrieval_sync(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """`decide_retrieval` for the sync API: rules and the model's earlier route, no I/O."""
    rewrite = state.get("rewrite", {})
    if rewrite.get("error"):
        return {"route": "respond", "documents": []}
    route = rewrite.get("route") if rewrite.get("mode") == "model" else None
    if route not in ("retrieve", "respond"):
        kind = intent.classify(latest_question(state))
        route = "retrieve" if kind == "knowledge" else "respond"
    if route == "respond":
        return {"route": "respond", "documents": []}
    return {"route": "retrieve"}
