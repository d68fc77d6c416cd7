"""Malformed input and Context through both servers (`langgraph dev` and Aegra): the run
fails with the one sentence naming the field, `runs.wait` and `runs.join` say it, nothing
of it reaches the thread, and the thread carries on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import LangGraphError

from tests.integration.conftest import (
    SERVERS,
    LangGraphServer,
    clean_env,
    ingest_samples,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           postgres: Any) -> Iterator[LangGraphServer]:
    workdir = tmp_path_factory.mktemp(f"{request.param}-boundary")
    home = workdir / "home"
    ingest_samples(home)
    process = start_server(request.param, workdir, clean_env(CONVRAG_HOME=str(home)), postgres)
    yield process
    stop_server(process)


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
        server: LangGraphServer, kwargs: dict[str, Any], message: str) -> None:
    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        sdk = get_client(url=server.url)
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


@pytest.mark.parametrize(("run_input", "error", "message"), [
    ({**user("尼罗河是什么？"), "topic": 123}, "InvalidInput",
     "'topic' must be a string, not int."),
    ({"messages": [{"role": "user", "content": 5}]}, "InvalidInput",
     "'messages[0].content' must be a string or a list of content blocks, not int."),
    ({**user("尼罗河是什么？"), "bogus": 1}, "InvalidInput", "Unknown input key 'bogus'"),
])
def test_runs_wait_says_why_a_run_failed(server: LangGraphServer, run_input: dict[str, Any],
                                         error: str, message: str) -> None:
    """Before, Aegra answered `{}`: the user got no sentence and no error."""
    async def scenario() -> tuple[Any, str, Any]:
        sdk = get_client(url=server.url)
        thread = (await sdk.threads.create())["thread_id"]
        quiet = await sdk.runs.wait(thread, "convrag", input=run_input, raise_error=False)
        with pytest.raises(Exception) as raised:  # the SDK raises a bare Exception
            await sdk.runs.wait(thread, "convrag", input=run_input)
        run = await sdk.runs.create(thread, "convrag", input=run_input)
        joined = await sdk.runs.join(thread, run["run_id"])
        return quiet, str(raised.value), joined

    quiet, raised, joined = asyncio.run(scenario())
    assert quiet["__error__"]["error"] == error
    assert message in quiet["__error__"]["message"]
    assert raised.startswith(f"{error}: ") and message in raised
    assert joined == quiet
