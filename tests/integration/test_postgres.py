"""PostgreSQL checkpoints (CONVRAG_POSTGRES_URI) against a real PostgreSQL 15 on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langchain_core.messages import HumanMessage

from convrag.errors import UserError
from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.persistence import open_checkpointer
from convrag.serve_prod import LocalPostgres
from convrag.settings import Settings
from tests.conftest import COLLECTION
from tests.integration.conftest import ROOT, ingest_samples

pytestmark = pytest.mark.integration


def ask(home: Path, uri: str, thread: str, question: str) -> dict[str, Any]:
    """`convrag ask --json` in a new process, checkpointing to PostgreSQL."""
    env = {**os.environ, "CONVRAG_HOME": str(home), "CONVRAG_POSTGRES_URI": uri}
    result = subprocess.run(
        [sys.executable, "-m", "convrag.cli", "ask", "--thread", thread, "--json", question],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_a_new_process_resumes_the_conversation(postgres: LocalPostgres, isolated_env: Path):
    ingest_samples(isolated_env)
    first = ask(isolated_env, postgres.uri, "pg-cli", "尼罗河是什么？")
    assert first["sources"][0]["id"] == "zh-nile"
    second = ask(isolated_env, postgres.uri, "pg-cli", "它有多长？")
    assert "尼罗河" in second["standalone_question"]
    assert "6650" in second["answer"]
    # The thread lives in PostgreSQL, not in a SQLite file under CONVRAG_HOME.
    assert not Settings.from_env().sqlite_path.exists()
    with psycopg.connect(postgres.uri) as conn:
        row = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", ("pg-cli",)
        ).fetchone()
    assert row is not None and row[0] > 0


def test_a_long_running_app_survives_a_postgres_restart(postgres: LocalPostgres, kb):
    settings = Settings.from_env({"CONVRAG_POSTGRES_URI": postgres.uri})
    config = {"configurable": {"thread_id": "pg-app"}}
    context = Context(collection=COLLECTION)

    async def app() -> tuple[dict[str, Any], int]:
        # One event loop, one graph, one checkpointer for the whole "app".
        async with open_checkpointer(settings) as saver:
            graph = build_graph(saver, knowledge=kb)
            await graph.ainvoke({"messages": [HumanMessage("尼罗河是什么？")]}, config,
                                context=context)
            await asyncio.to_thread(postgres.restart)  # every pooled connection dies
            after = await graph.ainvoke({"messages": [HumanMessage("它有多长？")]}, config,
                                        context=context)
            state = await graph.aget_state(config)
            return after, len(state.values["messages"])

    after, messages = asyncio.run(app())
    assert "尼罗河" in after["standalone_question"]
    assert "6650" in after["messages"][-1].content
    assert messages == 4


def test_an_unreachable_server_is_one_clear_error(postgres: LocalPostgres):
    settings = Settings.from_env({"CONVRAG_POSTGRES_URI": "postgresql://postgres@127.0.0.1:1/x"})

    async def attempt() -> None:
        async with open_checkpointer(settings):
            pass

    with pytest.raises(UserError, match="Cannot use PostgreSQL at CONVRAG_POSTGRES_URI"):
        asyncio.run(attempt())
