"""Checkpointers from settings: memory (tests), SQLite (default), PostgreSQL (at scale)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from convrag.errors import UserError
from convrag.settings import Settings

Kind = Literal["memory", "sqlite", "postgres"]


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
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise UserError(
                "CONVRAG_POSTGRES_URI is set but the PostgreSQL checkpointer is not installed: "
                "pip install 'convrag[postgres]', or unset CONVRAG_POSTGRES_URI."
            ) from exc
        try:
            async with AsyncPostgresSaver.from_conn_string(settings.postgres_uri or "") as saver:
                await saver.setup()
                yield saver
        except OSError as exc:
            raise UserError(
                f"Cannot reach PostgreSQL at CONVRAG_POSTGRES_URI ({exc}): start it, fix the "
                "URI, or unset CONVRAG_POSTGRES_URI to use SQLite."
            ) from exc
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.home.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.sqlite_path)) as saver:
        yield saver
