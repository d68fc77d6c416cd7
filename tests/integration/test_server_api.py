"""The LangGraph server API through the official `langgraph_sdk` client, on both servers.

Every test runs against `langgraph dev` (`make serve`) and against Aegra on PostgreSQL
(`make serve-prod`): the same SDK calls, the same answers. Each server is a real process
on loopback, started once per server kind: one in offline mode without auth tokens (with a
loopback OpenAI stub a run may select as its chat model), one with two users' tokens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import AuthenticationError

from tests.integration.conftest import (
    SERVERS,
    LangGraphServer,
    clean_env,
    ingest_samples,
    start_server,
    stop_server,
)

from .openai_stub import OpenAIStub, Reply, Text, ToolCall

pytestmark = pytest.mark.integration

T = TypeVar("T")
NODES = {"compact_history", "resolve_coreference", "decide_retrieval", "retrieve", "answer"}
MODEL_ANSWER = "The Nile is about 6,650 km long, the longest river in Africa [1]."
TOKENS = {"alice": "tok-alice", "bob": "tok-bob"}


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def stub_responder(request: dict[str, Any]) -> Reply:
    """Structured calls get a plain rewrite; the answer call gets MODEL_ANSWER."""
    if request.get("tools"):
        return ToolCall(request["tools"][0]["function"]["name"], {
            "reasoning": "no reference", "scenario": "none", "mentions": [],
            "standalone_question": "How long is the Nile?", "route": "retrieve",
        })
    return Text(MODEL_ANSWER)


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(stub_responder) as server:
        yield server


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           stub: OpenAIStub, postgres: Any) -> Iterator[LangGraphServer]:
    """Offline by default (CONVRAG_CHAT_MODEL unset); runs may pick "openai:stub-model"."""
    workdir = tmp_path_factory.mktemp(f"{request.param}-open")
    home = workdir / "home"
    ingest_samples(home)
    env = clean_env(CONVRAG_HOME=str(home), OPENAI_BASE_URL=stub.base_url,
                    OPENAI_API_KEY="test")
    process = start_server(request.param, workdir, env, postgres)
    yield process
    stop_server(process)


def client(server: LangGraphServer, token: str | None = None) -> LangGraphClient:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return get_client(url=server.url, headers=headers)


async def assistant_id(sdk: LangGraphClient, graph_id: str = "convrag") -> str:
    found = await sdk.assistants.search(graph_id=graph_id)
    return str(found[0]["assistant_id"])


# --- Studio: schemas ---------------------------------------------------------------


def test_schemas_show_input_output_and_a_described_context(server):
    async def schemas() -> Any:
        sdk = client(server)
        return await sdk.assistants.get_schemas(await assistant_id(sdk))

    found = run(schemas())
    assert set(found["input_schema"]["properties"]) == {"messages", "topic"}
    assert {"messages", "standalone_question", "rewrite", "route", "documents"} <= set(
        found["output_schema"]["properties"]
    )
    context = found["context_schema"]["properties"]
    assert {"chat_model", "collection", "top_k", "tenant", "max_history_tokens"} <= set(context)
    assert all(field.get("description") for field in context.values())
    assert context["top_k"]["default"] == 5


# --- threads -------------------------------------------------------------------------


def test_two_turns_resolve_the_follow_up_and_the_thread_persists(server):
    async def conversation() -> tuple[dict[str, Any], Any, dict[str, Any], dict[str, Any]]:
        sdk = client(server)
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, "convrag", input=user("尼罗河是什么？"))
        second = await sdk.runs.wait(thread, "convrag", input=user("它有多长？"))
        state = await sdk.threads.get_state(thread)
        other = (await sdk.threads.create())["thread_id"]
        fresh = await sdk.runs.wait(other, "convrag", input=user("它有多长？"))
        metadata = (await sdk.threads.get(thread))["metadata"]
        history = await sdk.threads.get_history(thread)
        return second, state, fresh, metadata, history

    second, state, fresh, metadata, history = run(conversation())
    # History, newest first: the end of each turn is there (langgraph dev also keeps the
    # steps in between; serve-prod saves one checkpoint per turn).
    counts = [len(h["values"].get("messages", [])) for h in history]
    assert counts[0] == 4 and 2 in counts and counts == sorted(counts, reverse=True)
    assert "尼罗河" in second["standalone_question"]
    assert second["documents"][0]["metadata"]["id"] == "zh-nile"
    assert "6650" in second["messages"][-1]["content"]
    # The thread's checkpointed state: both turns, and the thread-long fields.
    values = state["values"]
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "human", "ai"]
    assert "尼罗河" in [e["text"] for e in values["entities"]]
    # A second thread knows nothing of the first.
    assert fresh["standalone_question"] == "它有多长？"
    assert len(fresh["messages"]) == 2
    # Without CONVRAG_AUTH_TOKENS every caller is the one anonymous user.
    assert metadata["owner"] == "anonymous"


def test_updates_streaming_shows_every_node(server):
    async def updates() -> list[Any]:
        sdk = client(server)
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, "convrag", input=user("Who was Marie Curie?"))
        return [part async for part in sdk.runs.stream(
            thread, "convrag", input=user("When did she die?"), stream_mode="updates")]

    parts = [p for p in run(updates()) if p.event == "updates"]
    steps = {node: update for p in parts for node, update in p.data.items()}
    assert set(steps) == NODES
    assert steps["resolve_coreference"]["standalone_question"] == "When did Marie Curie die?"
    assert steps["resolve_coreference"]["rewrite"]["scenario"] == "pronoun"
    assert steps["decide_retrieval"]["route"] == "retrieve"
    assert steps["retrieve"]["documents"][0]["metadata"]["id"] == "en-curie"
    assert "1934" in steps["answer"]["messages"][-1]["content"]
    # In the order the graph runs them.
    order = [node for p in parts for node in p.data]
    assert order == ["compact_history", "resolve_coreference", "decide_retrieval", "retrieve",
                     "answer"]


async def answer_stream(sdk: LangGraphClient, question: str, **kwargs: Any
                        ) -> tuple[list[str], dict[str, Any]]:
    """The answer node's message chunks from `messages-tuple` streaming, and the state."""
    thread = (await sdk.threads.create())["thread_id"]
    pieces: list[str] = []
    async for part in sdk.runs.stream(thread, "convrag", input=user(question),
                                      stream_mode="messages-tuple", **kwargs):
        if part.event == "messages":
            message, metadata = part.data
            if metadata.get("langgraph_node") == "answer" and message.get("content"):
                pieces.append(message["content"])
    return pieces, (await sdk.threads.get_state(thread))["values"]


def test_messages_streaming_yields_the_offline_answer(server):
    pieces, values = run(answer_stream(client(server), "尼罗河有多长？"))
    # Offline, the extractive answer is one message.
    assert pieces == [values["messages"][-1]["content"]]
    assert "6650" in pieces[0]


def test_messages_streaming_yields_a_models_answer_token_by_token(server, stub):
    stub.reset()
    pieces, values = run(answer_stream(
        client(server), "How long is the Nile?", context={"chat_model": "openai:stub-model"}))
    assert len(pieces) > 3
    assert "".join(pieces) == MODEL_ANSWER == values["messages"][-1]["content"]
    assert stub.chat_requests and stub.chat_requests[-1]["stream"] is True


# --- auth ----------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture(scope="module", params=SERVERS)
def auth_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                postgres: Any) -> Iterator[LangGraphServer]:
    """Two users with tokens; each tenant has its own plan for Project Falcon."""
    from convrag.knowledge.ingest import load_paths
    from convrag.knowledge.store import KnowledgeBase
    from convrag.settings import Settings

    workdir = tmp_path_factory.mktemp(f"{request.param}-auth")
    home = workdir / "home"
    kb = KnowledgeBase.open(Settings.from_env({"CONVRAG_HOME": str(home)}))
    try:
        for name, text in [("alice", "Project Falcon launches in March 2027 from Lisbon."),
                           ("bob", "Project Falcon was cancelled in June 2026 in Oslo.")]:
            rows = [{"id": f"{name}-falcon", "title": "Project Falcon", "text": text}]
            kb.ingest("convrag", load_paths([write_jsonl(workdir / f"{name}.jsonl", rows)]),
                      tenant=name)
    finally:
        kb.close()
    tokens = ",".join(f"{token}:{name}" for name, token in TOKENS.items())
    process = start_server(request.param, workdir,
                           clean_env(CONVRAG_HOME=str(home), CONVRAG_AUTH_TOKENS=tokens),
                           postgres)
    yield process
    stop_server(process)


def test_requests_without_a_valid_token_are_refused(auth_server):
    async def attempts() -> list[type[Exception]]:
        refused = []
        for sdk in (client(auth_server), client(auth_server, "wrong"),
                    # Studio's header does not bypass the tokens (disable_studio_auth).
                    get_client(url=auth_server.url, headers={"x-auth-scheme": "langsmith"})):
            try:
                await sdk.threads.search()
            except AuthenticationError as exc:
                refused.append(type(exc))
        return refused

    assert run(attempts()) == [AuthenticationError] * 3


async def assert_not_found(request: Awaitable[Any]) -> None:
    """Another user's thread answers 404, as if it did not exist."""
    with pytest.raises(httpx.HTTPStatusError) as error:
        await request
    assert error.value.response.status_code == 404


async def drain(stream: AsyncIterator[Any]) -> None:
    async for _ in stream:
        pass


def test_a_user_sees_and_resumes_only_their_own_threads(auth_server):
    async def scenario() -> None:
        alice = client(auth_server, TOKENS["alice"])
        bob = client(auth_server, TOKENS["bob"])
        thread = (await alice.threads.create())["thread_id"]
        await alice.runs.wait(thread, "convrag", input=user("When does Project Falcon launch?"))
        assert (await alice.threads.get(thread))["metadata"]["owner"] == "alice"

        bob_thread = (await bob.threads.create(metadata={"owner": "alice"}))["thread_id"]
        assert (await bob.threads.get(bob_thread))["metadata"]["owner"] == "bob"
        assert thread not in {t["thread_id"] for t in await bob.threads.search()}
        assert thread in {t["thread_id"] for t in await alice.threads.search()}
        await assert_not_found(bob.threads.get(thread))
        await assert_not_found(bob.threads.get_state(thread))
        await assert_not_found(bob.runs.list(thread))
        await assert_not_found(bob.runs.wait(thread, "convrag", input=user("Where?")))
        await assert_not_found(drain(bob.runs.stream(thread, "convrag", input=user("Hi"))))
        await assert_not_found(bob.threads.get_history(thread))
        await assert_not_found(bob.threads.delete(thread))
        # Alice resumes her thread; bob's attempts left no trace in it.
        follow = await alice.runs.wait(thread, "convrag", input=user("Where does it launch?"))
        assert "Project Falcon" in follow["standalone_question"]
        state = await alice.threads.get_state(thread)
        assert len(state["values"]["messages"]) == 4

    run(scenario())


def test_each_user_retrieves_only_their_tenants_documents(auth_server):
    async def ask(token: str, **kwargs: Any) -> dict[str, Any]:
        sdk = client(auth_server, token)
        thread = (await sdk.threads.create())["thread_id"]
        return await sdk.runs.wait(  # type: ignore[return-value]
            thread, "convrag", input=user("When does Project Falcon launch?"), **kwargs)

    async def scenario() -> tuple[dict[str, Any], ...]:
        return (await ask(TOKENS["alice"]), await ask(TOKENS["bob"]),
                # Asking for another tenant in the run's context changes nothing.
                await ask(TOKENS["bob"], context={"tenant": "alice"}))

    alice, bob, bob_as_alice = run(scenario())
    assert [d["metadata"]["id"] for d in alice["documents"]] == ["alice-falcon"]
    assert "Lisbon" in alice["messages"][-1]["content"]
    assert [d["metadata"]["id"] for d in bob["documents"]] == ["bob-falcon"]
    assert [d["metadata"]["id"] for d in bob_as_alice["documents"]] == ["bob-falcon"]


def test_a_client_cannot_claim_another_users_identity(auth_server):
    """A `langgraph_auth_user` or tenant from the client is refused or ignored, never used."""
    alice_as_claimed = {"identity": "alice", "tenant": "alice"}
    attempts: list[dict[str, Any]] = [
        {"context": {"langgraph_auth_user": alice_as_claimed}},
        {"config": {"configurable": {"langgraph_auth_user": alice_as_claimed}}},
        {"context": {"tenant": "alice"}},
    ]

    async def scenario() -> list[Any]:
        bob = client(auth_server, TOKENS["bob"])
        outcomes = []
        for extra in attempts:
            thread = (await bob.threads.create())["thread_id"]
            try:
                out = await bob.runs.wait(thread, "convrag",
                                          input=user("When does Project Falcon launch?"),
                                          **extra)
            except httpx.HTTPStatusError as error:
                outcomes.append(error.response.status_code)
                continue
            outcomes.append([d["metadata"]["id"] for d in out["documents"]])
        return outcomes

    for outcome in run(scenario()):
        assert outcome == ["bob-falcon"] or outcome == 422


def test_indexing_writes_and_prunes_only_the_callers_tenant(auth_server):
    async def index(sdk: LangGraphClient, payload: dict[str, Any]) -> Any:
        thread = (await sdk.threads.create())["thread_id"]
        return await sdk.runs.wait(thread, "convrag_index", input=payload, raise_error=False)

    async def ask(sdk: LangGraphClient, question: str) -> list[str]:
        thread = (await sdk.threads.create())["thread_id"]
        out = await sdk.runs.wait(thread, "convrag", input=user(question))
        return [d["metadata"]["id"] for d in out["documents"]]  # type: ignore[index]

    async def scenario() -> dict[str, Any]:
        alice = client(auth_server, TOKENS["alice"])
        bob = client(auth_server, TOKENS["bob"])
        kite = [{"id": "kite", "text": "The kite festival is on the first Sunday of May."}]
        added = await index(bob, {"documents": kite, "collection": "events"})
        # Naming alice's tenant does not write there, in any collection.
        claimed = await index(bob, {"documents": kite, "tenant": "alice"})
        # An empty prune by bob reaches neither alice's documents nor his own from the CLI.
        pruned = await index(bob, {"documents": [], "prune": True})
        pruned_events = await index(bob, {"documents": [], "prune": True,
                                          "collection": "events"})
        return {
            "added": added, "claimed": claimed, "pruned": pruned, "pruned_events": pruned_events,
            "alice": await ask(alice, "When does Project Falcon launch?"),
            "alice_kite": await ask(alice, "When is the kite festival?"),
            "bob": await ask(bob, "When does Project Falcon launch?"),
        }

    found = run(scenario())
    assert found["added"]["chunks_added"] == 1
    # The run failed, and both servers say why: nothing indexed.
    assert "chunks_added" not in found["claimed"]
    assert found["claimed"]["__error__"]["error"] == "UserError"
    assert "you may index only into your own tenant" in found["claimed"]["__error__"]["message"]
    assert "kite" not in found["alice_kite"]
    assert found["pruned"]["chunks_removed"] == 0
    assert found["pruned_events"]["chunks_removed"] == 1
    assert found["alice"] == ["alice-falcon"]
    assert found["bob"] == ["bob-falcon"]


def test_a_malformed_token_spec_stops_the_server(tmp_path, postgres):
    from tests.integration.conftest import start_server

    for kind in SERVERS:
        with pytest.raises(RuntimeError, match="exited"):
            server = start_server(kind, tmp_path / kind,
                                  clean_env(CONVRAG_HOME=str(tmp_path / "home"),
                                            CONVRAG_AUTH_TOKENS="tok-alice"), postgres)
            stop_server(server)


def test_a_run_with_a_wrong_context_is_refused_when_created(server):
    async def attempt(context: dict[str, Any]) -> httpx.Response:
        sdk = client(server)
        thread = (await sdk.threads.create())["thread_id"]
        with pytest.raises(httpx.HTTPStatusError) as error:
            await sdk.runs.wait(thread, "convrag", input=user("Hi"), context=context)
        state = await sdk.threads.get_state(thread)
        assert not state["values"]  # nothing of the refused run reached the thread
        return error.value.response

    for context, sentence in [
        ({"bogus": 1}, "Unknown Context field 'bogus'"),
        ({"top_k": "5"}, "Context field 'top_k' must be a whole number of at least 1"),
    ]:
        response = run(attempt(context))
        assert response.status_code == 422
        assert sentence in response.text


# --- what a turn keeps -------------------------------------------------------------


def test_a_not_found_reply_is_marked_and_refers_to_nothing(server):
    async def conversation() -> tuple[dict[str, Any], dict[str, Any], Any]:
        sdk = client(server)
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, "convrag", input=user("今天天气怎么样？"))
        first = (await sdk.threads.get_state(thread))["values"]
        follow = await sdk.runs.wait(thread, "convrag", input=user("它呢？"))
        thanks = await sdk.runs.wait(thread, "convrag", input=user("\x1b[31mthanks\x1b[0m"))
        return first, follow, thanks

    first, follow, thanks = run(conversation())
    # The marker is part of the thread's state as the server keeps and returns it.
    assert first["messages"][-1]["response_metadata"]["convrag_reply"] == "not_found"
    assert follow["standalone_question"] == "它呢？"
    # The server's runs (UUID thread ids) pass the same input checks: the question is
    # cleaned before it is stored, and a "thanks" in colour codes is small talk.
    assert thanks["route"] == "respond"
    assert thanks["messages"][-2]["content"] == "thanks"
