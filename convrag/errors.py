"""Errors a user can cause and fix. Their message is one sentence that says what to do."""


class UserError(ValueError):
    """A problem with input, configuration or environment; shown without a traceback.

    A ValueError because `langgraph dev` reports a failed run's message only for builtin
    error types such as ValueError; any other is replaced by "An internal error occurred",
    and an API caller would not learn what to fix.
    """


class InvalidInput(UserError):
    """A graph's input or Context is malformed; refused before anything is stored."""


def missing_collection(name: str) -> UserError:
    """The error for a collection that has not been ingested into yet."""
    return UserError(
        f"The collection '{name}' does not exist yet: run `convrag ingest PATH` first."
    )
