"""Loopback servers for integration tests: `langgraph dev`, Aegra and PostgreSQL 15.

Both are real processes on free 127.0.0.1 ports, started once per test module (starting
either takes seconds) and stopped at its end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from convrag.serve import free_port
from convrag.serve_prod import PG_BIN, LocalPostgres, wait_ready

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "convrag" / "samples" / "knowledge.jsonl"
# Variables of the developer's shell that must not reach a server under test.
SCRUBBED = ("CONVRAG_", "OPENAI_", "QDRANT_", "LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_")


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without convrag/model/LangSmith settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(extra)
    return env


def ingest_samples(home: Path, collection: str = "convrag") -> None:
    """Ingest the bundled sample corpus under `home`, closing the store afterwards.

    The embedded Qdrant store admits one process at a time, so it must be closed before a
    server opens it.
    """
    from convrag.knowledge.ingest import load_paths
    from convrag.knowledge.store import KnowledgeBase
    from convrag.settings import Settings

    kb = KnowledgeBase.open(Settings.from_env({"CONVRAG_HOME": str(home)}))
    try:
        kb.ingest(collection, load_paths([SAMPLES]))
    finally:
        kb.close()


@dataclass
class LangGraphServer:
    """A running API server (`langgraph dev` or serve-prod): its URL and log file."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _server_config(workdir: Path) -> Path:
    """The project's langgraph.json with absolute paths, so the server runs in `workdir`.

    `langgraph dev` keeps its state under `.langgraph_api/` in its working directory; a
    working directory per server keeps test servers apart from each other and from a
    developer's `make serve`. The `.env` file is left out: tests set the environment.
    """
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))

    def absolute(spec: str) -> str:
        path, sep, attr = spec.partition(":")
        return f"{(ROOT / path).resolve()}{sep}{attr}"

    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {name: absolute(spec) for name, spec in config["graphs"].items()}
    if "auth" in config:
        config["auth"]["path"] = absolute(config["auth"]["path"])
    config.pop("env", None)
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def start_langgraph_dev(
    workdir: Path, env: Mapping[str, str], timeout_s: float = 90.0
) -> LangGraphServer:
    """Start `langgraph dev` on a free loopback port and wait until it answers /ok."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = _server_config(workdir)
    port = free_port(0)
    log = workdir / "server.log"
    langgraph = Path(sys.executable).parent / "langgraph"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(langgraph), "dev", "--config", str(config), "--host", "127.0.0.1",
             "--port", str(port), "--no-browser", "--no-reload"],
            cwd=workdir,
            env={**env, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = LangGraphServer(f"http://127.0.0.1:{port}", log, process)
    if wait_ready(server.url, process, timeout_s, path="/ok"):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"langgraph dev exited with {process.returncode}:\n"
                           f"{server.log_tail()}")
    stop_langgraph_dev(server)
    raise RuntimeError(f"langgraph dev did not answer within {timeout_s:.0f} s:\n"
                       f"{server.log_tail()}")


def stop_langgraph_dev(server: LangGraphServer) -> None:
    """Stop the server and the worker processes it started."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)


@pytest.fixture(scope="module")
def langgraph_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LangGraphServer]:
    """`langgraph dev` in offline mode over the sample corpus (collection "convrag")."""
    workdir = tmp_path_factory.mktemp("langgraph-dev")
    home = workdir / "home"
    ingest_samples(home)
    server = start_langgraph_dev(workdir, clean_env(CONVRAG_HOME=str(home)))
    yield server
    stop_langgraph_dev(server)


# --- PostgreSQL --------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    """A fresh PostgreSQL 15 cluster on a free loopback port, removed afterwards.

    The binaries are required, not optional: without them the tests fail and say how to
    install them (CI's .ci/run does).
    """
    if not (PG_BIN / "pg_ctl").exists():
        pytest.fail(
            f"PostgreSQL 15 is not installed ({PG_BIN}/pg_ctl is missing): run "
            "`apt-get install -y postgresql-15` (.ci/run does) to run the PostgreSQL tests.",
            pytrace=False,
        )
    # Not under pytest's tmp folder: the postgres user cannot enter root's private one.
    root = Path(tempfile.mkdtemp(prefix="convrag-pg-"))
    server = LocalPostgres(root, free_port(0), "-c fsync=off -c full_page_writes=off")
    server.initialize()
    server.start()
    try:
        yield server
    finally:
        try:
            server.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --- Aegra (make serve-prod) ----------------------------------------------------------


def start_serve_prod(workdir: Path, env: Mapping[str, str], timeout_s: float = 120.0
                     ) -> LangGraphServer:
    """`python -m convrag.serve_prod` (what `make serve-prod` runs) on a free port.

    With DATABASE_URL in `env` it uses that PostgreSQL; otherwise it starts its own under
    CONVRAG_HOME. Ready once it prints its URL.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port(0)
    log = workdir / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "convrag.serve_prod"], cwd=workdir,
            env={**env, "PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT,
        )
    server = LangGraphServer(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve-prod exited with {process.returncode}:\n"
                               f"{server.log_tail()}")
        if f"convrag server: {server.url}" in log.read_text(encoding="utf-8", errors="replace"):
            return server
        time.sleep(0.25)
    stop_serve_prod(server)
    raise RuntimeError(f"serve-prod did not start within {timeout_s:.0f} s:\n"
                       f"{server.log_tail()}")


def stop_serve_prod(server: LangGraphServer) -> None:
    """SIGTERM, as an operator would: it stops Aegra and the PostgreSQL it started."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


def thread_bytes(uri: str, thread_id: str) -> dict[str, int]:
    """Bytes one thread occupies in each table that holds it (row sizes, TOAST included)."""
    queries = {
        "checkpoints": "SELECT sum(pg_column_size(c)) FROM checkpoints c WHERE thread_id = %s",
        "checkpoint_blobs": "SELECT sum(pg_column_size(b)) FROM checkpoint_blobs b "
                            "WHERE thread_id = %s",
        "checkpoint_writes": "SELECT sum(pg_column_size(w)) FROM checkpoint_writes w "
                             "WHERE thread_id = %s",
        "runs": "SELECT sum(pg_column_size(r)) FROM runs r WHERE thread_id = %s",
        "run_events": "SELECT sum(pg_column_size(e)) FROM run_events e WHERE run_id IN "
                      "(SELECT run_id FROM runs WHERE thread_id = %s)",
    }
    import psycopg

    with psycopg.connect(uri) as connection:
        return {name: int(connection.execute(sql, (thread_id,)).fetchone()[0] or 0)  # type: ignore[index]
                for name, sql in queries.items()}



# --- either server -------------------------------------------------------------------

SERVERS = ("langgraph-dev", "aegra")


def create_database(postgres: LocalPostgres, name: str) -> str:
    """A new, empty database on `postgres`; its URI."""
    import psycopg

    with psycopg.connect(postgres.uri, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres.uri.rsplit("/", 1)[0] + f"/{name}"


def start_server(kind: str, workdir: Path, env: Mapping[str, str],
                 postgres: LocalPostgres | None = None) -> LangGraphServer:
    """`langgraph dev`, or Aegra (`make serve-prod`) on a database of its own on `postgres`."""
    if kind == "langgraph-dev":
        return start_langgraph_dev(workdir, env)
    assert postgres is not None, "Aegra needs the postgres fixture"
    database = create_database(postgres, workdir.name.lower().replace("-", "_"))
    return start_serve_prod(workdir, {**env, "DATABASE_URL": database})


def stop_server(server: LangGraphServer) -> None:
    """Stop either kind of server."""
    if server.process.args[0] == sys.executable:
        stop_serve_prod(server)
    else:
        stop_langgraph_dev(server)
