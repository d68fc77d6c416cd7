"""`make serve`: run `langgraph dev` offline on a free port and print its URLs."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from convrag.errors import UserError

# langgraph.json's "env": the file `langgraph dev` loads.
ENV_FILE = Path(__file__).resolve().parents[1] / ".env"


def free_port(preferred: int = 2024) -> int:
    """`preferred` when it is free on loopback, otherwise any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            # As the servers bind (uvicorn sets SO_REUSEADDR): a port whose server just
            # stopped lingers in TIME_WAIT for a minute, and a restart must be able to
            # take it again; a port something listens on still fails to bind.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def server_port(default: int) -> int:
    """The port to serve on: PORT when set (it must be free), else `default` or any free one.

    Raises UserError, one sentence, for a PORT that is not a port number or is in use.
    """
    requested = os.environ.get("PORT", "").strip()
    if not requested:
        return free_port(default)
    if not requested.isdigit() or not 1 <= int(requested) <= 65535:
        raise UserError(f"PORT={requested!r} is not a port number: use one from 1 to 65535, "
                        "or unset PORT.")
    port = int(requested)
    if free_port(port) != port:
        # The server would fail to bind, or (langgraph dev) quietly move to another port,
        # and the URL printed would be wrong.
        raise UserError(f"port {port} (PORT) is in use: pick another, or unset PORT.")
    return port


def auth_tokens_problem(env_file: Path) -> str | None:
    """The one-sentence error of the CONVRAG_AUTH_TOKENS `langgraph dev` will see, or None.

    `langgraph dev` loads the auth handler only after it has started: a malformed value
    then leaves a traceback and a process that serves nothing. Checked first instead, with
    the value it will use (langgraph.json's .env wins over the shell).
    """
    from convrag.tokens import parse_tokens

    spec = os.environ.get("CONVRAG_AUTH_TOKENS", "")
    if env_file.is_file():
        from dotenv import dotenv_values

        spec = dotenv_values(env_file).get("CONVRAG_AUTH_TOKENS") or spec
    try:
        parse_tokens(spec)
    except ValueError as error:
        return str(error)
    return None


def main() -> int:
    """Exec `langgraph dev` with analytics and the version check off."""
    problem = auth_tokens_problem(ENV_FILE)
    if problem:
        print(f"convrag: {problem}", file=sys.stderr)
        return 1
    langgraph = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "langgraph"
    )
    if langgraph is None:
        print("convrag: `langgraph` is not installed: run `make install`.", file=sys.stderr)
        return 1
    try:
        port = server_port(2024)
    except UserError as exc:
        print(f"convrag: {exc}", file=sys.stderr)
        return 1
    os.environ.setdefault("LANGGRAPH_CLI_NO_ANALYTICS", "1")
    os.environ.setdefault("LANGGRAPH_NO_VERSION_CHECK", "true")
    url = f"http://127.0.0.1:{port}"
    print(f"convrag server: {url}  (API docs {url}/docs; Studio connects to this URL)", flush=True)
    args = [langgraph, "dev", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    os.execv(langgraph, args)  # replaces this process; returns only by raising


if __name__ == "__main__":
    raise SystemExit(main())
