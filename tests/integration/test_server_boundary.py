"""Malformed input and Context through the LangGraph server: the run fails with the one
sentence naming the field, nothing of it reaches the thread, and the thread carries on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import LangGraphError

from tests.integration.conftest import LangGraphServer

pytestmark = pytest.mark.integration


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def failed_run(sdk: Any, thread: str, **kwargs: Any) -> str:
    """The error text of a run that must fail: refused when created (the server's
    run-creation hook checks the context), or failed when it ran."""
    try:
        run = await sdk.runs.create(thread, "convrag", **kwargs)
    except LangGraphError as refused:
        return str(refused)
    await sdk.runs.join(thread, run["run_id"])
    final = await sdk.runs.get(thread, run["run_id"])
    assert final["status"] == "error", final
    return str(await sdk.runs.join(thread, run["run_id"]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"input": {**user("尼罗河是什么？"), "topic": 123}}, "'topic' must be a string"),
    ({"input": user("尼罗河是什么？"), "context": {"top_k": "5"}},
     "Context field 'top_k' must be a whole number of at least 1, not '5'."),
])
def test_bad_input_fails_the_run_and_leaves_the_thread_alone(
        langgraph_dev: LangGraphServer, kwargs: dict[str, Any], message: str) -> None:
    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        sdk = get_client(url=langgraph_dev.url)
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, "convrag", input=user("尼罗河是什么？"))
        before = await sdk.threads.get_state(thread)
        error = await failed_run(sdk, thread, **kwargs)
        after = await sdk.threads.get_state(thread)
        later = await sdk.runs.wait(thread, "convrag", input=user("它有多长？"))
        assert before["checkpoint"] == after["checkpoint"]
        return error, after["values"], later  # type: ignore[return-value]

    error, values, later = asyncio.run(scenario())
    assert message in error
    assert "topic" not in values and len(values["messages"]) == 2
    assert later["standalone_question"] == "尼罗河有多长？"
