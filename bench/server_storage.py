"""What one thread costs in PostgreSQL after many turns through `make serve-prod`.

    .venv/bin/python bench/server_storage.py [--turns 200] [--json]

The same offline conversation (the bench/server_turn.py questions, round and round)
through the production server twice, on one PostgreSQL: with convrag's retention (the
default: one checkpoint per turn, the newest 20 checkpoints and runs kept, older runs'
events dropped) and without it (`CONVRAG_KEEP_CHECKPOINTS=0`: Aegra as shipped). Bytes are
the thread's rows in each table (`pg_column_size`, TOAST included), measured every 50
turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langgraph_sdk import get_client  # noqa: E402

from convrag.serve import free_port  # noqa: E402
from convrag.serve_prod import SERVER_OPTIONS, LocalPostgres  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    clean_env,
    create_database,
    ingest_samples,
    start_serve_prod,
    stop_serve_prod,
    thread_bytes,
)

QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
             "When did she die?"]


async def conversation(url: str, uri: str, turns: int) -> list[dict[str, Any]]:
    sdk = get_client(url=url)
    thread = (await sdk.threads.create())["thread_id"]
    sizes = []
    for turn in range(1, turns + 1):
        await sdk.runs.wait(thread, "convrag", input={"messages": [
            {"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]}]})
        if turn % 50 == 0 or turn == turns:
            sizes.append({"turn": turn, **thread_bytes(uri, thread)})
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="convrag-bench-"))
    root.chmod(0o755)  # PostgreSQL runs as the postgres user
    postgres = LocalPostgres(root / "postgres", free_port(0), SERVER_OPTIONS)
    postgres.initialize()
    postgres.start()
    try:
        home = root / "home"
        ingest_samples(home)
        for label, keep in [("with retention", "20"), ("without retention", "0")]:
            database = create_database(postgres, f"keep{keep}")
            server = start_serve_prod(root / f"keep{keep}", clean_env(
                CONVRAG_HOME=str(home), DATABASE_URL=database, CONVRAG_KEEP_CHECKPOINTS=keep))
            try:
                results[label] = asyncio.run(conversation(server.url, database, args.turns))
            finally:
                stop_serve_prod(server)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"one thread, {args.turns} turns through serve-prod: bytes in PostgreSQL")
    for label, sizes in results.items():
        print(f"  {label}")
        for row in sizes:
            total = sum(v for k, v in row.items() if k != "turn")
            parts = ", ".join(f"{k} {v:,}" for k, v in row.items() if k != "turn")
            print(f"    turn {row['turn']:>3}: {total:>12,} bytes  ({parts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
