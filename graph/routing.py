"""Route functions: read the state, return the next node's name. Never call a model."""

from __future__ import annotations

from typing import Literal

from convrag.graph.state import State


def after_decision(state: State) -> Literal["retrieve", "answer"]:
    """Retrieve for knowledge questions; go straight to the answer otherwise."""
    return "retrieve" if state.get("route") == "retrieve" else "answer"
