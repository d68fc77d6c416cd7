"""Retention: a thread keeps its newest checkpoints, not every one it ever wrote.

A checkpointer saves a full copy of the state each time it saves, so even a bounded
state leaves a store that grows with every turn. Two things keep it flat:

- `TURN_DURABILITY = "exit"`: a turn saves one checkpoint, when the run ends, instead of
  one per step (about seven per turn of the chat graph). A crash mid-turn then loses
  that turn's question, which the user simply asks again; the graph has no interrupts
  that would need a checkpoint mid-run.
- `prune_thread` after each turn deletes all but the newest `keep` checkpoints of the
  thread with their pending writes (and, in PostgreSQL, the channel blobs no kept
  checkpoint uses). The kept ones are the window time travel can reach.

`build_graph(checkpointer)` applies both by default (see `ChatGraph` in graph/builder.py),
so a Python user gets a bounded thread too; the graph prunes every `PRUNE_EVERY` turns,
the CLI (one turn per process) after each turn.

It is for graphs without `DeltaChannel`s (the chat graph has none): each checkpoint
here holds or references its full channel values, so any kept one can be loaded alone.
Call it between runs of a thread, not during one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Durability

TURN_DURABILITY: Durability = "exit"

PRUNE_EVERY = 10
"""A graph prunes a thread on its first turn in the process, then every this many turns:
a prune costs about as much as the rest of a turn's overhead (several queries and, in
SQLite, giving pages back), and a thread then holds at most keep + PRUNE_EVERY - 1
checkpoints instead of keep."""
_TRACKED_THREADS = 10_000
_SYNCHRONOUS = "PRAGMA synchronous=NORMAL"


class Retention:
    """How a graph keeps its own checkpointer's threads: when to prune (see `PRUNE_EVERY`),
    and SQLite's `synchronous=NORMAL`.

    In WAL mode (the savers' mode), NORMAL does not sync the file on every commit, which
    costs more than the rest of a turn; a committed turn still survives the app crashing,
    and only an OS crash or power loss can lose the latest turns, which durability "exit"
    already accepts for the turn in flight.
    """

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self._turns: dict[str, int] = {}
        self._tuned = not isinstance(saver, SqliteSaver | AsyncSqliteSaver)

    def tune_sync(self) -> None:
        """Set the SQLite saver's pragmas before its first run (sync API)."""
        if not self._tuned and isinstance(self.saver, SqliteSaver):
            self.saver.setup()  # creates the tables, in WAL mode
            with self.saver.lock:
                self.saver.conn.execute(_SYNCHRONOUS)
            self._tuned = True

    async def tune(self) -> None:
        """Set the SQLite saver's pragmas before its first run (async API)."""
        if not self._tuned and isinstance(self.saver, AsyncSqliteSaver):
            await self.saver.setup()
            async with self.saver.lock:
                await self.saver.conn.execute(_SYNCHRONOUS)
            self._tuned = True

    def due(self, thread_id: str) -> bool:
        """Count a turn of the thread; True when this turn should prune it."""
        turns = self._turns.get(thread_id, PRUNE_EVERY - 1) + 1
        if len(self._turns) >= _TRACKED_THREADS:
            # Forgetting only makes a thread prune at its next turn.
            self._turns.clear()
        self._turns[thread_id] = 0 if turns >= PRUNE_EVERY else turns
        return turns >= PRUNE_EVERY

# SQLite's auto_vacuum mode number for INCREMENTAL.
_INCREMENTAL = 2


async def prune_thread(checkpointer: BaseCheckpointSaver[Any] | None, thread_id: str,
                       keep: int) -> int:
    """Delete all but the newest `keep` checkpoints of a thread; return how many went.

    Works per checkpoint namespace (a subgraph's checkpoints are pruned like the root's).
    `keep <= 0` keeps everything. Supports InMemorySaver, AsyncSqliteSaver and
    AsyncPostgresSaver; a SQLite file gives the freed pages back to the file system.
    """
    if checkpointer is None or keep <= 0:
        return 0
    if isinstance(checkpointer, InMemorySaver):
        return _prune_memory(checkpointer, thread_id, keep)
    if isinstance(checkpointer, AsyncSqliteSaver):
        return await _prune_sqlite(checkpointer, thread_id, keep)
    if _is_async_postgres(checkpointer):
        return await _prune_postgres(checkpointer, thread_id, keep)
    raise TypeError(f"prune_thread does not support {type(checkpointer).__name__}")


def prune_thread_sync(checkpointer: BaseCheckpointSaver[Any] | None, thread_id: str,
                      keep: int) -> int:
    """`prune_thread` for the sync checkpointers: InMemorySaver and SqliteSaver."""
    if checkpointer is None or keep <= 0:
        return 0
    if isinstance(checkpointer, InMemorySaver):
        return _prune_memory(checkpointer, thread_id, keep)
    if isinstance(checkpointer, SqliteSaver):
        return _prune_sqlite_sync(checkpointer, thread_id, keep)
    raise TypeError(f"prune_thread_sync does not support {type(checkpointer).__name__}")


def prunable(checkpointer: BaseCheckpointSaver[Any] | None, *, sync: bool) -> bool:
    """Whether `prune_thread` (sync=False) or `prune_thread_sync` can prune this saver."""
    if sync:
        return isinstance(checkpointer, InMemorySaver | SqliteSaver)
    return isinstance(checkpointer, InMemorySaver | AsyncSqliteSaver) or (
        checkpointer is not None and _is_async_postgres(checkpointer))


def _is_async_postgres(checkpointer: BaseCheckpointSaver[Any]) -> bool:
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError:  # the optional PostgreSQL checkpointer is not installed
        return False
    return isinstance(checkpointer, AsyncPostgresSaver)


def _doomed(rows: Iterable[Sequence[str]], keep: int) -> dict[str, list[str]]:
    """Per namespace, the checkpoint ids past the newest `keep` (ids sort by time)."""
    by_ns: dict[str, list[str]] = {}
    for ns, checkpoint_id in rows:
        by_ns.setdefault(ns, []).append(checkpoint_id)
    return {
        ns: sorted(ids, reverse=True)[keep:]
        for ns, ids in by_ns.items()
        if len(ids) > keep
    }


def _prune_memory(saver: InMemorySaver, thread_id: str, keep: int) -> int:
    namespaces = saver.storage.get(thread_id, {})
    doomed = _doomed(((ns, cid) for ns, stored in namespaces.items() for cid in stored), keep)
    for ns, ids in doomed.items():
        stored = namespaces[ns]
        freed: set[tuple[str, str]] = set()
        for checkpoint_id in ids:
            checkpoint, _, _ = stored.pop(checkpoint_id)
            freed |= _versions(saver, checkpoint)
            saver.writes.pop((thread_id, ns, checkpoint_id), None)
        used: set[tuple[str, str]] = set()
        for checkpoint, _, _ in stored.values():
            used |= _versions(saver, checkpoint)
        for channel, version in freed - used:
            saver.blobs.pop((thread_id, ns, channel, version), None)
        for checkpoint_id, (checkpoint, metadata, parent) in list(stored.items()):
            if parent in ids:
                stored[checkpoint_id] = (checkpoint, metadata, None)
    return sum(len(ids) for ids in doomed.values())


def _versions(saver: InMemorySaver, checkpoint: Any) -> set[tuple[str, str]]:
    versions = saver.serde.loads_typed(checkpoint).get("channel_versions", {})
    return {(channel, version) for channel, version in versions.items()}


_SQLITE_SELECT = "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = ?"
# Per batch of doomed ids ({marks}), in this order, with (thread_id, ns, *ids).
_SQLITE_DELETES = (
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN ({marks})",
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
    "AND checkpoint_id IN ({marks})",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? "
    "AND checkpoint_ns = ? AND parent_checkpoint_id IN ({marks})",
)


def _sqlite_batches(doomed: dict[str, list[str]], thread_id: str
                    ) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(statement, parameters) pairs deleting the doomed checkpoints and their writes."""
    for ns, ids in doomed.items():
        # Batches stay under SQLite's limit on bound parameters.
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            marks = ",".join("?" * len(batch))
            for statement in _SQLITE_DELETES:
                yield statement.format(marks=marks), (thread_id, ns, *batch)


async def _prune_sqlite(saver: AsyncSqliteSaver, thread_id: str, keep: int) -> int:
    await saver.setup()
    async with saver.lock:
        conn = saver.conn
        async with conn.execute(_SQLITE_SELECT, (thread_id,)) as cursor:
            doomed = _doomed(await cursor.fetchall(), keep)
        for statement, params in _sqlite_batches(doomed, thread_id):
            await conn.execute(statement, params)
        await conn.commit()
        if doomed:
            await _reclaim_sqlite_space(saver)
    return sum(len(ids) for ids in doomed.values())


def _prune_sqlite_sync(saver: SqliteSaver, thread_id: str, keep: int) -> int:
    with saver.lock:
        conn = saver.conn
        doomed = _doomed(conn.execute(_SQLITE_SELECT, (thread_id,)).fetchall(), keep)
        for statement, params in _sqlite_batches(doomed, thread_id):
            conn.execute(statement, params)
        conn.commit()
        if doomed:
            for statement in _reclaim_statements(conn.execute("PRAGMA auto_vacuum").fetchone()):
                conn.executescript(statement)
    return sum(len(ids) for ids in doomed.values())


def _reclaim_statements(auto_vacuum: Sequence[int] | None) -> list[str]:
    """Give freed pages back to the file system, so the file shrinks, not just its contents.

    The saver creates its file without auto_vacuum; the first prune switches the file to
    incremental auto_vacuum, which takes one VACUUM. From then on each prune only truncates
    the free pages (cheap), and the write-ahead log is checkpointed and truncated. Each
    runs as a script, so it runs to the end (a plain execute of incremental_vacuum frees
    only one page).
    """
    if auto_vacuum is None or auto_vacuum[0] != _INCREMENTAL:
        first = [f"PRAGMA auto_vacuum = {_INCREMENTAL};", "VACUUM;"]
    else:
        first = ["PRAGMA incremental_vacuum;"]
    return [*first, "PRAGMA wal_checkpoint(TRUNCATE);"]


async def _reclaim_sqlite_space(saver: AsyncSqliteSaver) -> None:
    conn = saver.conn
    async with conn.execute("PRAGMA auto_vacuum") as cursor:
        row = await cursor.fetchone()
    for statement in _reclaim_statements(row):
        await conn.executescript(statement)


async def _prune_postgres(saver: Any, thread_id: str, keep: int) -> int:
    async with saver._cursor() as cur:
        if saver.pipe:
            # A transaction has to start clean; pipeline mode holds what ran before.
            await saver.pipe.sync()
        async with cur.connection.transaction():
            await cur.execute(
                "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = %s",
                (thread_id,),
            )
            rows = await cur.fetchall()
            doomed = _doomed(((r["checkpoint_ns"], r["checkpoint_id"]) for r in rows), keep)
            for ns, ids in doomed.items():
                await cur.execute(
                    "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s "
                    "AND checkpoint_id = ANY(%s)", (thread_id, ns, ids))
                await cur.execute(_PG_DELETE_CHECKPOINTS, (thread_id, ns, ids))
                freed = {(r["channel"], r["version"]) for r in await cur.fetchall()}
                await cur.execute(
                    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = %s "
                    "AND checkpoint_ns = %s AND parent_checkpoint_id = ANY(%s)",
                    (thread_id, ns, ids))
                await cur.execute(_PG_USED_BLOBS, (thread_id, ns))
                used = {(r["channel"], r["version"]) for r in await cur.fetchall()}
                # Blobs are shared by version between checkpoints: only those that a
                # deleted checkpoint used and no kept one does are garbage.
                garbage: dict[str, list[str]] = {}
                for channel, version in freed - used:
                    garbage.setdefault(channel, []).append(version)
                for channel, versions in garbage.items():
                    await cur.execute(
                        "DELETE FROM checkpoint_blobs WHERE thread_id = %s "
                        "AND checkpoint_ns = %s AND channel = %s AND version = ANY(%s)",
                        (thread_id, ns, channel, versions))
    return sum(len(ids) for ids in doomed.values())


_PG_DELETE_CHECKPOINTS = """
WITH deleted AS (
    DELETE FROM checkpoints
    WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = ANY(%s)
    RETURNING checkpoint -> 'channel_versions' AS versions
)
SELECT DISTINCT v.key AS channel, v.value AS version
FROM deleted CROSS JOIN LATERAL jsonb_each_text(deleted.versions) AS v
"""

_PG_USED_BLOBS = """
SELECT DISTINCT v.key AS channel, v.value AS version
FROM checkpoints c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
WHERE c.thread_id = %s AND c.checkpoint_ns = %s
"""
