"""`make serve-prod`: the LangGraph server API (Aegra) on PostgreSQL, on 127.0.0.1.

PostgreSQL is `DATABASE_URL` when set; otherwise a cluster of its own under
`$CONVRAG_HOME/postgres`, initialized on first use and started on a free loopback port.
The server reads `aegra.json` (graphs, auth, the app with convrag's hooks) and nothing
else. Ctrl-C or SIGTERM stops the server and the PostgreSQL this command started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from convrag.errors import UserError
from convrag.serve import free_port, server_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "aegra.json"
ENV_FILE = ROOT / ".env"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEFAULT_PORT = 8123
SERVER_OPTIONS = "-c synchronous_commit=off"
POOL_DEFAULTS = {"SQLALCHEMY_POOL_SIZE": "10", "SQLALCHEMY_MAX_OVERFLOW": "10",
                 "LANGGRAPH_MAX_POOL_SIZE": "20"}


@dataclass
class LocalPostgres:
    """A PostgreSQL 15 cluster in a directory of its own, on a loopback port."""

    root: Path
    port: int
    # Extra server settings, e.g. tests trade durability for speed with "-c fsync=off".
    options: str = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def initialize(self) -> None:
        """Create the cluster when the directory has none (trust auth: loopback only)."""
        if (self.data / "PG_VERSION").exists():
            return
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL 15 is not installed ({PG_BIN}/initdb is missing): install "
                "postgresql-15, or set DATABASE_URL to a PostgreSQL server."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; its files belong to the postgres user.
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                     "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this cluster, listening on 127.0.0.1 only."""
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {self.options}",
            *args,
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Restart the server: every open connection is dropped."""
        self.pg_ctl("restart", "-m", "fast")


def _as_postgres(*command: str) -> None:
    """Run a PostgreSQL tool, as the postgres user when we are root."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def server_env(database_url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Aegra runs in: our config only, PostgreSQL, no telemetry."""
    env = dict(os.environ if base is None else base)
    env.update(AEGRA_CONFIG=str(CONFIG), DATABASE_URL=database_url, OTEL_TARGETS="")
    # Aegra's defaults (2 connections for its own tables, 6 for LangGraph's) queue every
    # concurrent run behind two connections; an operator's values win.
    for name, value in POOL_DEFAULTS.items():
        env.setdefault(name, value)
    return env


def server_command(port: int) -> list[str]:
    """uvicorn serving Aegra's app, bound to loopback."""
    return [sys.executable, "-m", "uvicorn", "aegra_api.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0,
               path: str = "/ready") -> bool:
    """True once `url` + `path` answers 200; False when the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.25)
    return False


def check_auth_tokens() -> str | None:
    """The one-sentence error of a malformed CONVRAG_AUTH_TOKENS, or None."""
    from convrag.tokens import parse_tokens

    try:
        # Parsed here, not by importing the handler: an earlier import (a test's) would
        # have read the environment before .env was loaded.
        parse_tokens(os.environ.get("CONVRAG_AUTH_TOKENS", ""))
    except ValueError as error:
        return str(error)
    return None


def load_env_file(path: Path) -> None:
    """Put the settings of `path` (a .env file) into the environment, the shell's winning.

    The README and .env.example say CONVRAG_AUTH_TOKENS may be set in .env; `langgraph dev`
    reads it through langgraph.json, but Aegra does not, so without this a token set
    there left the production server running without auth.
    """
    if not path.is_file():
        return
    from dotenv import dotenv_values

    for name, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(name, value)


def main() -> int:
    """Start PostgreSQL when needed, then Aegra; stop both on Ctrl-C or SIGTERM."""
    load_env_file(ENV_FILE)
    problem = check_auth_tokens()
    if not CONFIG.exists():
        # Aegra would fall back to langgraph.json, without convrag's hooks.
        problem = f"{CONFIG} is missing: restore it from the repository."
    if problem:
        print(f"convrag: {problem}", file=sys.stderr)
        return 1
    try:
        port = server_port(DEFAULT_PORT)
    except UserError as exc:
        print(f"convrag: {exc}", file=sys.stderr)
        return 1
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    postgres: LocalPostgres | None = None
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        home = Path(os.environ.get("CONVRAG_HOME", ".convrag")).resolve()
        # A commit returns before its WAL reaches the disk: a crash can lose the last
        # fraction of a second (a turn, which the user asks again), never consistency. Aegra
        # commits about a dozen times per turn; waiting for the disk at each cost ~70 ms.
        postgres = LocalPostgres(home / "postgres", free_port(0), SERVER_OPTIONS)
        try:
            postgres.initialize()
            postgres.start()
        except RuntimeError as error:
            print(f"convrag: {error}", file=sys.stderr)
            return 1
        database_url = postgres.uri
    try:
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(server_command(port), cwd=ROOT,
                                   env=server_env(database_url), start_new_session=True)
        try:
            if not wait_ready(url, process):
                print("convrag: the server did not start (see its log above).", file=sys.stderr)
                return 1
            print(f"convrag server: {url}  (API docs {url}/docs; Studio connects to this URL)",
                  flush=True)
            while not stopping and process.poll() is None:
                time.sleep(0.2)
            return 0 if stopping else (process.returncode or 1)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    raise SystemExit(main())
