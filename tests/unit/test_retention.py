"""Retention: a thread keeps its newest checkpoints; time travel within them still works."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.retention import TURN_DURABILITY, prune_thread
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)
# These tests prune by hand: the graph's own retention (the default) is off.
KEEP_ALL = Context(collection=COLLECTION, keep_checkpoints=0)
QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "居里夫人获得过哪些奖？",
             "她什么时候去世的？", "Who was Marie Curie?", "When did she die?"]


def config(thread: str, checkpoint_id: str | None = None) -> Any:
    configurable = {"thread_id": thread}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def play(graph: Any, thread: str, turns: int, durability: str = TURN_DURABILITY,
               context: Context = KEEP_ALL) -> None:
    for question in QUESTIONS[:turns]:
        await graph.ainvoke({"messages": [{"role": "user", "content": question}]},
                            config(thread), context=context, durability=durability)


async def history(graph: Any, thread: str) -> list[Any]:
    return [snapshot async for snapshot in graph.aget_state_history(config(thread))]


async def check_time_travel(saver: BaseCheckpointSaver[Any], kb: Any, keep: int) -> None:
    """Seven turns on two threads; prune one to `keep`; the other and time travel survive."""
    graph = build_graph(saver, knowledge=kb)
    await play(graph, "pruned", 7)
    await play(graph, "other", 2)
    before = await history(graph, "pruned")
    assert len(before) == 7  # durability="exit": one checkpoint per turn
    latest = (await graph.aget_state(config("pruned"))).values

    assert await prune_thread(saver, "pruned", keep) == 7 - keep
    assert await prune_thread(saver, "pruned", keep) == 0

    after = await history(graph, "pruned")
    assert [s.config["configurable"]["checkpoint_id"] for s in after] == [
        s.config["configurable"]["checkpoint_id"] for s in before[:keep]]
    assert (await graph.aget_state(config("pruned"))).values["messages"] == latest["messages"]
    assert len(await history(graph, "other")) == 2

    # Time travel: every kept checkpoint loads whole, and a new turn can fork from the
    # oldest one, which continues that conversation, not the latest.
    for snapshot in after:
        loaded = await graph.aget_state(snapshot.config)
        assert loaded.values["messages"] == snapshot.values["messages"]
    oldest = after[-1]
    turns_then = len(oldest.values["messages"]) // 2
    forked = await graph.ainvoke(
        {"messages": [{"role": "user", "content": "它有多长？"}]},
        oldest.config, context=CTX, durability=TURN_DURABILITY)
    assert len(forked["messages"]) == 2 * (turns_then + 1)
    assert forked["messages"][-2].content == "它有多长？"
    # It resolves against the entities of that point in the conversation.
    assert oldest.values["standalone_question"] != forked["standalone_question"]


def test_memory_saver_keeps_the_newest_checkpoints(kb) -> None:
    saver = InMemorySaver()
    asyncio.run(check_time_travel(saver, kb, keep=3))
    # Blobs that no kept checkpoint uses are gone.
    used = set()
    for stored in saver.storage["pruned"].values():
        for checkpoint, _, _ in stored.values():
            versions = saver.serde.loads_typed(checkpoint)["channel_versions"]
            used |= {(channel, version) for channel, version in versions.items()}
    blobs = {(k[2], k[3]) for k in saver.blobs if k[0] == "pruned"}
    assert blobs <= used


def test_sqlite_keeps_the_newest_checkpoints(kb, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.sqlite")) as saver:
            await check_time_travel(saver, kb, keep=3)

    asyncio.run(scenario())


def test_keep_zero_keeps_everything(kb) -> None:
    async def scenario() -> int:
        saver = InMemorySaver()
        await play(build_graph(saver, knowledge=kb), "t", 3)
        return await prune_thread(saver, "t", 0)

    assert asyncio.run(scenario()) == 0


def test_sqlite_prune_drops_writes_and_shrinks_the_file(kb, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"

    def size() -> int:
        return sum(p.stat().st_size for p in tmp_path.glob("c.sqlite*"))

    async def scenario() -> tuple[int, int, list[Any]]:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            graph = build_graph(saver, knowledge=kb)
            # Per-step durability: about seven checkpoints a turn, with their writes.
            await play(graph, "t", 7, durability="async")
            await saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            grown = size()
            await prune_thread(saver, "t", 2)
            counts = []
            for table in ("checkpoints", "writes"):
                async with saver.conn.execute(f"SELECT COUNT(*) FROM {table}") as cursor:
                    counts.append((await cursor.fetchone())[0])
            async with saver.conn.execute(
                "SELECT COUNT(*) FROM writes WHERE checkpoint_id NOT IN "
                "(SELECT checkpoint_id FROM checkpoints)") as cursor:
                counts.append((await cursor.fetchone())[0])
            async with saver.conn.execute("PRAGMA auto_vacuum") as cursor:
                counts.append((await cursor.fetchone())[0])
            # Later prunes reclaim space incrementally.
            await play(graph, "t", 7, durability="async")
            await prune_thread(saver, "t", 2)
            return grown, size(), counts

    grown, pruned, (checkpoints, writes, orphans, auto_vacuum) = asyncio.run(scenario())
    assert checkpoints == 2 and orphans == 0
    assert writes <= 2 * 10
    assert auto_vacuum == 2  # INCREMENTAL
    assert pruned < grown / 3


def test_cli_turns_save_once_per_turn_and_prune(kb, tmp_path: Path) -> None:
    from convrag import cli

    @dataclass(frozen=True)
    class KeepTwo(Context):
        keep_checkpoints: int = 2

    async def scenario() -> list[Any]:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "c.sqlite")) as saver:
            chat = build_graph(saver, knowledge=kb)
            await cli._turn(chat, "t", "尼罗河是什么？", KeepTwo(collection=COLLECTION))
            assert len(await history(chat, "t")) == 1
            await cli._turn(chat, "t", "它有多长？", KeepTwo(collection=COLLECTION))
            await cli._stream_turn(chat, config("t"), "那亚马逊河呢？",
                                   KeepTwo(collection=COLLECTION))
            return await history(chat, "t")

    kept = asyncio.run(scenario())
    assert len(kept) == 2
    assert kept[0].values["standalone_question"] == "亚马逊河有多长？"


# --- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a Unix socket.

    The binaries are required: without them the test fails and says how to get them
    (`.ci/run` installs them).
    """
    pg_bin = os.pathsep.join(["/usr/lib/postgresql/15/bin", os.environ.get("PATH", "")])
    initdb, pg_ctl = shutil.which("initdb", path=pg_bin), shutil.which("pg_ctl", path=pg_bin)
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL 15 is not installed: apt-get install postgresql-15")
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the cluster as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"]
    folder = tempfile.mkdtemp(prefix="convrag-pg-")
    if prefix:
        shutil.chown(folder, "postgres")
    data = os.path.join(folder, "data")
    try:
        subprocess.run([*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", data, "-w", "-l", os.path.join(folder, "log"),
                        "-o", f"-k {folder} -c listen_addresses=''", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, OSError, KeyError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"cannot start a PostgreSQL cluster: {exc}")
    try:
        yield f"postgresql://postgres@/postgres?host={folder}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@asynccontextmanager
async def postgres_saver(uri: str) -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(uri) as saver:
        await saver.setup()
        yield saver


def test_postgres_keeps_the_newest_checkpoints_and_their_blobs(kb, postgres_uri: str) -> None:
    async def scenario() -> tuple[int, int]:
        async with postgres_saver(postgres_uri) as saver:
            await check_time_travel(saver, kb, keep=3)
            async with saver._cursor() as cur:
                # Every blob left is one a kept checkpoint of the thread uses...
                await cur.execute(
                    "SELECT COUNT(*) AS n FROM checkpoint_blobs b WHERE b.thread_id = 'pruned' "
                    "AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
                    "AND c.checkpoint_ns = b.checkpoint_ns "
                    "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)")
                unused = (await cur.fetchone())["n"]
                # ...and no write belongs to a deleted checkpoint.
                await cur.execute(
                    "SELECT COUNT(*) AS n FROM checkpoint_writes w WHERE NOT EXISTS "
                    "(SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id "
                    "AND c.checkpoint_id = w.checkpoint_id)")
                orphans = (await cur.fetchone())["n"]
            return unused, orphans

    assert asyncio.run(scenario()) == (0, 0)


def test_postgres_prune_after_per_step_durability(kb, postgres_uri: str) -> None:
    async def scenario() -> tuple[int, list[Any]]:
        async with postgres_saver(postgres_uri) as saver:
            graph = build_graph(saver, knowledge=kb)
            await play(graph, "steps", 3, durability="async")
            deleted = await prune_thread(saver, "steps", 2)
            return deleted, await history(graph, "steps")

    deleted, kept = asyncio.run(scenario())
    assert deleted > 10 and len(kept) == 2
    assert len(kept[0].values["messages"]) == 6
