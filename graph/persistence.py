"""Checkpointers from settings: memory (tests), SQLite (default), PostgreSQL (at scale)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from convrag.errors import UserError
from convrag.settings import Settings

Kind = Literal["memory", "sqlite", "postgres"]

POSTGRES_CONNECT_TIMEOUT_S = 10.0


def checkpointer_kind(settings: Settings) -> Kind:
    """PostgreSQL when CONVRAG_POSTGRES_URI is set, otherwise SQLite under CONVRAG_HOME."""
    return "postgres" if settings.postgres_uri else "sqlite"


@asynccontextmanager
async def open_checkpointer(
    settings: Settings, kind: Kind | None = None
) -> AsyncIterator[BaseCheckpointSaver]:
    """An async checkpointer for the CLI and self-hosted apps, closed on exit."""
    kind = kind or checkpointer_kind(settings)
    if kind == "memory":
        yield InMemorySaver()
        return
    if kind == "postgres":
        async with open_postgres_checkpointer(settings.postgres_uri or "") as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.home.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.sqlite_path)) as saver:
        yield saver


@asynccontextmanager
async def open_postgres_checkpointer(
    uri: str, *, max_size: int = 10
) -> AsyncIterator[BaseCheckpointSaver]:
    """A PostgreSQL checkpointer over a connection pool that outlives server restarts.

    Every connection is checked when it leaves the pool, so after PostgreSQL restarts
    (or a connection is dropped) the next turn gets a fresh connection instead of a dead
    one: a long-running app keeps its threads. The tables are created on first use.
    """
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg import Error as PsycopgError
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool, PoolTimeout
    except ImportError as exc:
        raise UserError(
            "CONVRAG_POSTGRES_URI is set but the PostgreSQL checkpointer is not installed: "
            "pip install 'convrag[postgres]', or unset CONVRAG_POSTGRES_URI."
        ) from exc

    # What AsyncPostgresSaver.from_conn_string sets on its one connection.
    connection: dict[str, Any] = {
        "autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
    }
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        uri, min_size=1, max_size=max_size, kwargs=connection, open=False,
        check=AsyncConnectionPool.check_connection,
    )
    try:
        # One plain connection first: a server that is down fails at once, with its reason,
        # where the pool would keep retrying until its timeout.
        probe = await AsyncConnection.connect(
            uri, connect_timeout=int(POSTGRES_CONNECT_TIMEOUT_S)
        )
        await probe.close()
        await pool.open(wait=True, timeout=POSTGRES_CONNECT_TIMEOUT_S)
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
    except (PoolTimeout, PsycopgError) as exc:
        await pool.close()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Cannot use PostgreSQL at CONVRAG_POSTGRES_URI ({reason}): start it, fix the "
            "URI, or unset CONVRAG_POSTGRES_URI to use SQLite."
        ) from exc
    try:
        yield saver
    finally:
        await pool.close()
