"""`make serve`: run `langgraph dev` offline on a free port and print its URLs."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path


def free_port(preferred: int = 2024) -> int:
    """`preferred` when it is free on loopback, otherwise any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def main() -> int:
    """Exec `langgraph dev` with analytics and the version check off."""
    langgraph = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "langgraph"
    )
    if langgraph is None:
        print("convrag: `langgraph` is not installed: run `make install`.", file=sys.stderr)
        return 1
    requested = os.environ.get("PORT")
    port = int(requested) if requested else free_port()
    if requested and free_port(port) != port:
        # langgraph dev would quietly move to another port, and the URL below would be wrong.
        print(f"convrag: port {port} (PORT) is in use: pick another, or unset PORT.",
              file=sys.stderr)
        return 1
    os.environ.setdefault("LANGGRAPH_CLI_NO_ANALYTICS", "1")
    os.environ.setdefault("LANGGRAPH_NO_VERSION_CHECK", "true")
    url = f"http://127.0.0.1:{port}"
    print(f"convrag server: {url}  (API docs {url}/docs; Studio connects to this URL)", flush=True)
    args = [langgraph, "dev", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    os.execv(langgraph, args)  # replaces this process; returns only by raising


if __name__ == "__main__":
    raise SystemExit(main())
