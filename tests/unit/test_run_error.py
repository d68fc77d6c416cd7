"""A failed run's output on the production server, in the LangGraph server's form."""

from __future__ import annotations

import pytest

from convrag.errors import InvalidInput, UserError
from convrag.lifecycle import run_error


@pytest.mark.parametrize(("error", "shown"), [
    # The product's one-sentence errors reach the user as they are.
    (InvalidInput("'topic' must be a string, not int."), "'topic' must be a string, not int."),
    (UserError("Nothing was ingested yet: run `convrag ingest PATH` first."),
     "Nothing was ingested yet: run `convrag ingest PATH` first."),
    (ValueError("top_k must be at least 1."), "top_k must be at least 1."),
    (TimeoutError("The model did not answer within 60 s."),
     "The model did not answer within 60 s."),
    # A bug's message stays in the server's log.
    (RuntimeError("connection to /var/lib/secret failed"), "An internal error occurred"),
    (KeyError("documents"), "An internal error occurred"),
])
def test_run_error_shows_sentences_and_hides_bugs(error, shown):
    assert run_error(error) == {"__error__": {"error": type(error).__name__, "message": shown}}
