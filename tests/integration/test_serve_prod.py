"""`make serve-prod` (Aegra on PostgreSQL): start and stop, hooks, storage, thread lifecycle.

What both servers share (the API contract, auth, tenants) is in test_server_api.py; this
module covers what only the production server has: its own PostgreSQL, the request
limits and run-creation checks in front of Aegra, bounded storage, deleting threads and
users, the idle-thread TTL, runs of one thread taking turns, and the run log.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from convrag.graph.retention import PRUNE_EVERY
from convrag.serve import free_port
from convrag.serve_prod import LocalPostgres, server_command, server_env
from tests.integration.conftest import (
    LangGraphServer,
    clean_env,
    create_database,
    ingest_samples,
    start_serve_prod,
    stop_serve_prod,
    thread_bytes,
)

pytestmark = pytest.mark.integration

NODES = {"compact_history", "resolve_coreference", "decide_retrieval", "retrieve", "answer"}
TOKENS = {"alice": "tok-alice", "bob": "tok-bob"}
KEEP = 4
TURNS = 40


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def client(server: LangGraphServer, name: str) -> Any:
    return get_client(url=server.url, headers={"Authorization": f"Bearer {TOKENS[name]}"})


def thread_rows(uri: str, thread_id: str) -> int:
    """Rows anywhere in the database that still belong to the thread."""
    with psycopg.connect(uri) as connection:
        return sum(int(connection.execute(
            f"SELECT count(*) FROM {table} WHERE thread_id = %s", (thread_id,)).fetchone()[0])  # type: ignore[index]
            for table in ("thread", "runs", "checkpoints", "checkpoint_blobs",
                          "checkpoint_writes"))


# --- start and stop -------------------------------------------------------------------


def test_serve_prod_runs_its_own_postgres_on_loopback_and_stops_it(
        tmp_path: Path, request: pytest.FixtureRequest):
    # Not under pytest's tmp folder: the postgres user cannot enter root's private one.
    home = Path(tempfile.mkdtemp(prefix="convrag-home-"))
    home.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    server = start_serve_prod(tmp_path, clean_env(CONVRAG_HOME=str(home)))
    try:
        assert server.url.startswith("http://127.0.0.1:")
        for probe in ("/health", "/ready", "/live"):
            with urllib.request.urlopen(server.url + probe, timeout=5) as response:
                assert response.status == 200
        cluster = home / "postgres" / "data"
        assert (cluster / "postmaster.pid").exists()
        # Bound to loopback only: the kernel's table of listening sockets (state 0A) has
        # the port on 127.0.0.1 (0100007F), not on 0.0.0.0 or another address.
        port = int(server.url.rsplit(":", 1)[1])
        rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        listening = [r[1] for r in rows if r[3] == "0A" and r[1].endswith(f":{port:04X}")]
        assert listening == [f"0100007F:{port:04X}"]
    finally:
        stop_serve_prod(server)
    assert server.process.returncode == 0
    assert not (cluster / "postmaster.pid").exists()  # its PostgreSQL stopped too


def test_a_malformed_token_spec_stops_the_production_server(tmp_path: Path, postgres):
    env = clean_env(CONVRAG_HOME=str(tmp_path), CONVRAG_AUTH_TOKENS="tok-alice",
                    DATABASE_URL=postgres.uri)
    launched = subprocess.run([sys.executable, "-m", "convrag.serve_prod"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert launched.returncode == 1
    assert launched.stderr.strip().splitlines() == [
        "convrag: CONVRAG_AUTH_TOKENS entry 1 is not 'token:user': write "
        "'token1:user1,token2:user2', or unset it to run without auth."]
    # Started without the launcher, Aegra itself does not come up (it would fail open).
    port = free_port(0)
    direct = subprocess.run(server_command(port), env=server_env(postgres.uri, env),
                            capture_output=True, text=True, timeout=60)
    assert direct.returncode != 0
    assert "token1:user1,token2:user2" in direct.stdout + direct.stderr


# --- a server with two users ----------------------------------------------------------


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory, postgres: LocalPostgres
         ) -> Iterator[tuple[LangGraphServer, str]]:
    """Aegra with alice and bob, retention KEEP, a 3-document limit, a 64 kB body limit."""
    workdir = tmp_path_factory.mktemp("prod")
    home = workdir / "home"
    ingest_samples(home)
    database = create_database(postgres, "prod")
    tokens = ",".join(f"{token}:{name}" for name, token in TOKENS.items())
    server = start_serve_prod(workdir, clean_env(
        CONVRAG_HOME=str(home), CONVRAG_AUTH_TOKENS=tokens, DATABASE_URL=database,
        CONVRAG_KEEP_CHECKPOINTS=str(KEEP), CONVRAG_MAX_DOCUMENTS_PER_CALL="3",
        CONVRAG_MAX_BODY_BYTES="65536"))
    yield server, database
    stop_serve_prod(server)


def post(server: LangGraphServer, path: str, body: Any, name: str = "bob") -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {TOKENS[name]}"})


def test_run_creation_refuses_what_would_steer_a_run(prod):
    server, _ = prod
    thread = post(server, "/threads", {}).json()["thread_id"]
    run = f"/threads/{thread}/runs/wait"
    cases = [
        ({"context": {"langgraph_auth_user": {"identity": "alice", "tenant": "alice"}}},
         "context: Unknown Context field 'langgraph_auth_user'"),
        ({"config": {"configurable": {"thread_id": "someone-elses"}}},
         "config.configurable: Unknown Context field 'thread_id'"),
        ({"context": {"top_k": "5"}},
         "context: Context field 'top_k' must be a whole number of at least 1, not '5'."),
        ({"checkpoint": {"thread_id": "someone-elses"}}, "checkpoint may hold only"),
    ]
    for extra, message in cases:
        response = post(server, run, {"assistant_id": "convrag", "input": user("Hi"), **extra})
        assert response.status_code == 422, response.text
        assert message in response.json()["message"]
    # Nothing of the refused runs reached the thread.
    state = httpx.get(f"{server.url}/threads/{thread}/state", timeout=30,
                      headers={"Authorization": f"Bearer {TOKENS['bob']}"}).json()
    assert not (state.get("values") or {}).get("messages")


def test_request_and_batch_limits_are_one_sentence(prod):
    server, _ = prod
    thread = post(server, "/threads", {}).json()["thread_id"]
    big = post(server, f"/threads/{thread}/runs/wait",
               {"assistant_id": "convrag", "input": user("x" * 70_000)})
    assert big.status_code == 413
    assert big.json()["message"] == ("The request body is over 65536 bytes: send fewer "
                                     "documents per call, or a shorter question.")
    docs = [{"id": f"d{i}", "text": "Some text."} for i in range(4)]
    many = post(server, f"/threads/{thread}/runs/wait",
                {"assistant_id": "convrag_index", "input": {"documents": docs}})
    assert many.status_code == 413
    assert many.json()["message"] == ("One convrag_index call takes at most 3 documents "
                                      "(4 sent): send them in batches.")


def test_storage_stays_bounded_and_time_travel_works_inside_the_window(prod):
    server, database = prod

    async def scenario() -> tuple[list[dict[str, int]], list[Any], dict[str, Any], str]:
        sdk = client(server, "alice")
        thread = (await sdk.threads.create())["thread_id"]
        sizes = []
        for turn in range(TURNS):
            await sdk.runs.wait(thread, "convrag", input=user(f"尼罗河是什么？ {turn}"))
            if turn + 1 in (TURNS // 2, TURNS):
                sizes.append(thread_bytes(database, thread))
        history = await sdk.threads.get_history(thread, limit=100)
        # Back to the oldest kept checkpoint, and on from there.
        oldest = history[-1]["checkpoint"]
        forked = await sdk.runs.wait(thread, "convrag", input=user("它有多长？"),
                                     checkpoint={"checkpoint_id": oldest["checkpoint_id"]})
        return sizes, history, forked, thread

    sizes, history, forked, thread = asyncio.run(scenario())
    # Pruned on the first run, then every PRUNE_EVERY runs (turns 1, 11, 21, 31 here).
    kept = KEEP + (TURNS - 1) % PRUNE_EVERY
    assert len(history) == kept
    # Once compaction bounds the state (a few turns), retention bounds the thread.
    assert sum(sizes[1].values()) <= 1.1 * sum(sizes[0].values())
    with psycopg.connect(database) as connection:
        runs = connection.execute("SELECT count(*) FROM runs WHERE thread_id = %s",
                                  (thread,)).fetchone()[0]  # type: ignore[index]
    assert runs == KEEP  # the fork was run 41, which pruned again
    # The kept window's oldest checkpoint is from turn TURNS - kept + 1; the fork adds one.
    oldest_question = history[-1]["values"]["messages"][-2]["content"]
    assert oldest_question == f"尼罗河是什么？ {TURNS - kept}"
    assert [m["content"] for m in forked["messages"][-4::2]] == [oldest_question, "它有多长？"]


def test_runs_of_one_thread_take_turns(prod):
    server, _ = prod

    async def scenario() -> dict[str, Any]:
        sdk = client(server, "alice")
        thread = (await sdk.threads.create())["thread_id"]
        await asyncio.gather(*(sdk.runs.wait(thread, "convrag", input=user(f"Question {i}?"))
                               for i in range(5)))
        return (await sdk.threads.get_state(thread))["values"]  # type: ignore[return-value]

    values = asyncio.run(scenario())
    # Side by side, each run would start from the same checkpoint and only one survive.
    assert [m["type"] for m in values["messages"]] == ["human", "ai"] * 5
    assert sorted(m["content"] for m in values["messages"][::2]) == [
        f"Question {i}?" for i in range(5)]


def test_each_run_writes_one_structured_log_line(prod):
    server, _ = prod

    async def scenario() -> str:
        sdk = client(server, "bob")
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, "convrag", input=user("尼罗河有多长？"))
        return str(thread)

    thread = asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line[line.index("{"):line.rindex("}") + 1])
                 for line in server.log.read_text(errors="replace").splitlines()
                 if '"event": "convrag.run"' in line and thread in line]
        if lines:
            break
        time.sleep(0.2)
    assert len(lines) == 1
    assert lines[0]["outcome"] == "success" and lines[0]["user"] == "bob"
    assert set(lines[0]["nodes_ms"]) == NODES
    assert all(ms >= 0 for ms in lines[0]["nodes_ms"].values())


def test_deleting_a_thread_and_erasing_a_user_leave_nothing_behind(prod):
    server, database = prod

    async def scenario() -> tuple[str, str, str, dict[str, Any], list[Any], list[Any]]:
        alice, bob = client(server, "alice"), client(server, "bob")
        for sdk, name in ((alice, "alice"), (bob, "bob")):
            thread = (await sdk.threads.create())["thread_id"]
            await sdk.runs.wait(thread, "convrag_index", input={"documents": [
                {"id": f"{name}-kite", "text": f"{name}'s kite festival is on Sunday."}]})
        gone = (await bob.threads.create())["thread_id"]
        await bob.runs.wait(gone, "convrag", input=user("Hi"))
        await bob.threads.delete(gone)
        kept = (await alice.threads.create())["thread_id"]
        await alice.runs.wait(kept, "convrag", input=user("Hi"))
        async with httpx.AsyncClient() as http:
            erased = (await http.delete(f"{server.url}/users/me", headers={
                "Authorization": f"Bearer {TOKENS['bob']}"})).json()
        after_bob = (await bob.threads.create())["thread_id"]
        bob_docs = (await bob.runs.wait(after_bob, "convrag",
                                        input=user("When is the kite festival?")))["documents"]
        alice_docs = (await alice.runs.wait(kept, "convrag",
                                            input=user("When is the kite festival?")))["documents"]
        return gone, kept, after_bob, erased, bob_docs, alice_docs

    gone, kept, after_bob, erased, bob_docs, alice_docs = asyncio.run(scenario())
    assert thread_rows(database, gone) == 0
    assert erased["threads_deleted"] >= 2 and erased["chunks_deleted"] == 1
    assert bob_docs == []
    assert [d["metadata"]["id"] for d in alice_docs] == ["alice-kite"]
    assert thread_rows(database, kept) > 0
    with psycopg.connect(database) as connection:
        bobs = connection.execute("SELECT thread_id FROM thread WHERE user_id = 'bob'").fetchall()
    assert [row[0] for row in bobs] == [after_bob]


def test_idle_threads_expire(tmp_path: Path, postgres: LocalPostgres):
    database = create_database(postgres, "ttl")
    home = tmp_path / "home"
    ingest_samples(home)
    server = start_serve_prod(tmp_path, clean_env(
        CONVRAG_HOME=str(home), DATABASE_URL=database, CONVRAG_THREAD_TTL_S="2"))
    try:
        async def scenario() -> str:
            sdk = get_client(url=server.url)
            thread = (await sdk.threads.create())["thread_id"]
            await sdk.runs.wait(thread, "convrag", input=user("Hi"))
            return str(thread)

        thread = asyncio.run(scenario())
        assert thread_rows(database, thread) > 0
        deadline = time.monotonic() + 30
        while thread_rows(database, thread) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert thread_rows(database, thread) == 0
    finally:
        stop_serve_prod(server)


def test_two_server_processes_share_one_postgres(tmp_path: Path, postgres: LocalPostgres):
    if not os.environ.get("QDRANT_URL"):
        pytest.skip("needs QDRANT_URL: the embedded store admits one process, so two "
                    "server processes need a Qdrant server (none here)")
    database = create_database(postgres, "scaleout")
    env = clean_env(QDRANT_URL=os.environ["QDRANT_URL"], DATABASE_URL=database,
                    CONVRAG_HOME=str(tmp_path / "home"))
    if os.environ.get("QDRANT_API_KEY"):
        env["QDRANT_API_KEY"] = os.environ["QDRANT_API_KEY"]
    first = start_serve_prod(tmp_path / "one", env)
    second = start_serve_prod(tmp_path / "two", env)
    try:
        async def scenario() -> dict[str, Any]:
            one, two = get_client(url=first.url), get_client(url=second.url)
            thread = (await one.threads.create())["thread_id"]
            await one.runs.wait(thread, "convrag", input=user("Who was Marie Curie?"))
            # The other process resumes the same thread.
            return await two.runs.wait(thread, "convrag",  # type: ignore[return-value]
                                       input=user("When did she die?"))

        answer = asyncio.run(scenario())
        assert answer["standalone_question"] == "When did Marie Curie die?"
        assert len(answer["messages"]) == 4
    finally:
        stop_serve_prod(first)
        stop_serve_prod(second)
