"""What a thread costs on the production server (Aegra), and how long it lives.

Aegra, as shipped, writes a checkpoint at every step of a run, keeps every checkpoint,
every run's final state (its output) and every streamed event forever, runs two runs of
one thread side by side (both start from the same checkpoint: the thread forks), and
leaves a deleted thread's checkpoints behind. Here, around each run Aegra executes:

- the run saves one checkpoint, when it ends (`TURN_DURABILITY`, as the CLI);
- runs of one thread take turns (a lock per thread in this process);
- afterwards (on the thread's first run in the process, then every `PRUNE_EVERY` runs,
  as the library's retention does) the thread keeps its newest KEEP checkpoints (the
  window time travel can reach) and the rows of its newest KEEP runs; only its newest
  finished run keeps its
  streamed events (what a client reconnecting to the last turn replays; each event holds
  a full copy of the state, so they were two thirds of a thread's bytes);
- one JSON log line records the run: thread, outcome, duration of each node;
- a failed run's output is the error, as the LangGraph server gives it:
  `{"__error__": {"error": <type>, "message": <its sentence>}}`, so `runs.wait` and
  `runs.join` say why (Aegra stores the message in the run's row and returns `{}`).

`CONVRAG_KEEP_CHECKPOINTS=0` turns retention off (Aegra's own behaviour). Threads idle
for `CONVRAG_THREAD_TTL_S` seconds (default 30 days; 0: forever) are deleted with their
checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook
from langgraph._internal._constants import CONFIG_KEY_DURABILITY

from convrag.graph.retention import TURN_DURABILITY, Retention, prune_thread

KEEP = int(os.environ.get("CONVRAG_KEEP_CHECKPOINTS", 20))
THREAD_TTL_S = float(os.environ.get("CONVRAG_THREAD_TTL_S", 30 * 24 * 3600))

log = logging.getLogger("convrag.run")


class NodeTimer(BaseCallbackHandler):
    """Milliseconds spent in each node of one run (a node that runs twice adds up)."""

    def __init__(self) -> None:
        self.started: dict[UUID, tuple[str, float]] = {}
        self.nodes: dict[str, float] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        node = (metadata or {}).get("langgraph_node")
        # The node's own run carries its name; what runs inside it inherits the metadata.
        if node and kwargs.get("name") == node:
            self.started[run_id] = (node, time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._stop(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._stop(run_id)

    def _stop(self, run_id: UUID) -> None:
        started = self.started.pop(run_id, None)
        if started is not None:
            node, since = started
            elapsed = (time.perf_counter() - since) * 1000
            self.nodes[node] = round(self.nodes.get(node, 0.0) + elapsed, 1)


# LangChain adds the handler in this variable to every run started in its context.
_timer: ContextVar[NodeTimer | None] = ContextVar("convrag_node_timer", default=None)
register_configure_hook(_timer, inheritable=True)

_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _thread_lock(thread_id: str) -> asyncio.Lock:
    lock = _locks.get(thread_id)
    if lock is None:
        lock = _locks[thread_id] = asyncio.Lock()
    return lock


# The exception that failed the run being executed in this context (see run_error).
_failure: ContextVar[list[BaseException] | None] = ContextVar("convrag_run_failure",
                                                              default=None)
# Errors whose message is a sentence for the user; any other error's message stays in the
# server's log ("An internal error occurred"), as on the LangGraph server. convrag's user
# errors (UserError, InvalidInput) are ValueErrors.
_USER_FACING = (ValueError, TimeoutError, RecursionError)


def run_error(error: BaseException) -> dict[str, Any]:
    """A failed run's output, in the LangGraph server's form."""
    message = str(error) if isinstance(error, _USER_FACING) else "An internal error occurred"
    return {"__error__": {"error": type(error).__name__, "message": message}}


def install_run_wrapper() -> None:
    """Wrap Aegra's run executor and its graph streaming (both looked up by name at each
    run) with the above."""
    from aegra_api.api import runs
    from aegra_api.core.database import db_manager

    original = runs.execute_run_async
    if getattr(original, "convrag", False):
        return
    retention = Retention(db_manager.get_checkpointer())
    stream = runs.stream_graph_events

    async def stream_graph_events(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        # Aegra catches a failed run's exception, stores only str(error) and returns {}
        # from runs.wait: keep the exception for execute_run below.
        try:
            async for event in stream(*args, **kwargs):
                yield event
        except Exception as error:
            failures = _failure.get()
            if failures is not None:
                failures.append(error)
            raise

    update = runs.update_run_status

    async def update_run_status(run_id: str, status: str, output: Any = None,
                                error: str | None = None, session: Any = None) -> None:
        # The error goes in with the status, in one write: runs.join answers as soon as
        # it sees a finished status.
        failures = _failure.get()
        if status == "error" and failures:
            output = run_error(failures[0])
        await update(run_id, status, output=output, error=error, session=session)

    async def execute_run(run_id: str, thread_id: str, graph_id: str, input_data: dict,
                          user: Any, config: dict | None = None, *args: Any,
                          **kwargs: Any) -> None:
        config = dict(config or {})
        if KEEP > 0:
            # The request's configurable may hold only Context fields (server_app), so
            # this key comes from here alone.
            config["configurable"] = {**(config.get("configurable") or {}),
                                      CONFIG_KEY_DURABILITY: TURN_DURABILITY}
        timer = NodeTimer()
        failures: list[BaseException] = []
        lock = _thread_lock(thread_id)
        async with lock:
            started = time.perf_counter()
            token = _timer.set(timer)
            failed = _failure.set(failures)
            try:
                await original(run_id, thread_id, graph_id, input_data, user, config,
                               *args, **kwargs)
            finally:
                _timer.reset(token)
                _failure.reset(failed)
                duration = (time.perf_counter() - started) * 1000
                if KEEP > 0 and retention.due(thread_id):
                    await retain(thread_id, KEEP)
                pruning = (time.perf_counter() - started) * 1000 - duration
                log.info(json.dumps({
                    "event": "convrag.run", "run_id": run_id, "thread_id": thread_id,
                    "graph_id": graph_id, "user": getattr(user, "identity", None),
                    "outcome": await _run_status(run_id), "duration_ms": round(duration, 1),
                    "nodes_ms": timer.nodes, "retention_ms": round(pruning, 1),
                }))

    execute_run.convrag = True  # type: ignore[attr-defined]
    runs.execute_run_async = execute_run
    runs.stream_graph_events = stream_graph_events
    runs.update_run_status = update_run_status


async def _run_status(run_id: str) -> str:
    row = await fetch_one("SELECT status FROM runs WHERE run_id = :run", run=run_id)
    return str(row[0]) if row else "deleted"


async def retain(thread_id: str, keep: int) -> None:
    """Keep the thread's newest `keep` checkpoints and runs, and the newest run's events."""
    from aegra_api.core.database import db_manager

    await prune_thread(db_manager.get_checkpointer(), thread_id, keep)
    await _execute(
        "DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM runs WHERE "
        "thread_id = :thread AND status NOT IN ('pending', 'running') "
        "ORDER BY created_at DESC OFFSET 1)", thread=thread_id)
    await _execute(
        "DELETE FROM runs WHERE run_id IN (SELECT run_id FROM runs WHERE thread_id = :thread "
        "AND status NOT IN ('pending', 'running') ORDER BY created_at DESC OFFSET :keep)",
        thread=thread_id, keep=keep)


async def delete_checkpoints(thread_id: str) -> None:
    """Remove every checkpoint of a thread (Aegra's thread delete leaves them)."""
    from aegra_api.core.database import db_manager

    await db_manager.get_checkpointer().adelete_thread(thread_id)


async def delete_threads(where: str, **params: Any) -> int:
    """Delete the threads the SQL condition selects, with runs, events and checkpoints."""
    rows = await fetch_all(f"SELECT thread_id FROM thread WHERE {where}", **params)
    threads = [str(row[0]) for row in rows]
    for thread_id in threads:
        await _execute("DELETE FROM run_events WHERE run_id IN "
                       "(SELECT run_id FROM runs WHERE thread_id = :thread)", thread=thread_id)
        # runs go with the thread (ON DELETE CASCADE).
        await _execute("DELETE FROM thread WHERE thread_id = :thread", thread=thread_id)
        await delete_checkpoints(thread_id)
    return len(threads)


async def erase_user(identity: str, tenant: str) -> dict[str, Any]:
    """Every thread of `identity` and every document of `tenant`, in every collection."""
    from convrag.nodes.resources import open_knowledge_base

    threads = await delete_threads("user_id = :user", user=identity)
    kb = await open_knowledge_base()
    chunks = await asyncio.to_thread(kb.erase_tenant, tenant)
    return {"threads_deleted": threads, "chunks_deleted": chunks}


@contextlib.asynccontextmanager
async def idle_thread_ttl() -> AsyncIterator[None]:
    """While the server runs, delete threads idle for longer than THREAD_TTL_S."""
    if THREAD_TTL_S <= 0:
        yield
        return

    async def sweep() -> None:
        while True:
            await asyncio.sleep(min(THREAD_TTL_S / 4, 300.0))
            try:
                deleted = await delete_threads(
                    "status <> 'busy' AND updated_at < now() - make_interval(secs => :ttl)",
                    ttl=THREAD_TTL_S)
            except Exception:  # a failed sweep must not end the server; the next one retries
                log.exception("idle-thread sweep failed")
                continue
            if deleted:
                log.info(json.dumps({"event": "convrag.ttl", "threads_deleted": deleted}))

    task = asyncio.create_task(sweep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _execute(sql: str, **params: Any) -> None:
    from aegra_api.core.database import db_manager
    from sqlalchemy import text

    async with db_manager.get_engine().begin() as connection:
        await connection.execute(text(sql), params)


async def fetch_all(sql: str, **params: Any) -> list[Any]:
    from aegra_api.core.database import db_manager
    from sqlalchemy import text

    async with db_manager.get_engine().connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def fetch_one(sql: str, **params: Any) -> Any:
    rows = await fetch_all(sql, **params)
    return rows[0] if rows else None
