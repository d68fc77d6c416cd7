"""Errors a user can cause and fix. Their message is one sentence that says what to do."""


class UserError(Exception):
    """A problem with input, configuration or environment; shown without a traceback."""


class InvalidInput(UserError, ValueError):
    """A graph's input or Context is malformed; refused before anything is stored."""


def missing_collection(name: str) -> UserError:
    """The error for a collection that has not been ingested into yet."""
    return UserError(
        f"The collection '{name}' does not exist yet: run `convrag ingest PATH` first."
    )
