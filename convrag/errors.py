"""Errors a user can cause and fix. Their message is one sentence that says what to do."""


class UserError(Exception):
    """A problem with input, configuration or environment; shown without a traceback."""


class InvalidInput(UserError, ValueError):
    """A graph's input or Context is malformed; refused before anything is stored."""
