"""Input checks shared by the graph and the command line."""

from __future__ import annotations

DEFAULT_MAX_QUESTION_CHARS = 2000


def question_problem(question: str, limit: int = DEFAULT_MAX_QUESTION_CHARS) -> str | None:
    """Why a question cannot be processed (one sentence that says what to do), or None."""
    if not question.strip():
        return "The question is empty: type a question."
    if len(question) > limit:
        return (
            f"The question is {len(question)} characters long, over the limit of {limit}: "
            "shorten it or ask it in parts."
        )
    return None
