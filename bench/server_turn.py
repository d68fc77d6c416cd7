"""A turn through the LangGraph server (`langgraph dev`) against the same turn in process.

    .venv/bin/python bench/server_turn.py [--turns 20] [--json]

Both sides run the same offline conversation on one thread over the sample corpus in an
embedded Qdrant store: in process, `graph.ainvoke` with an InMemorySaver; through the
server, `client.runs.wait` with the official SDK. The first turn of each side (loading
jieba's dictionary and opening the store) runs on a separate thread and is not counted.

The server's own log splits each run into the time it waited in the run queue and the
time the graph ran (`run_wait_time_ms`, `run_exec_ms`); a bare `GET /ok` and a
`threads.get_state` give the cost of an HTTP round trip through the SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.messages import HumanMessage  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

from convrag.graph.builder import build_graph  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.settings import Settings  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    clean_env,
    ingest_samples,
    start_langgraph_dev,
    stop_langgraph_dev,
)

QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
             "When did she die?"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FIELD = re.compile(r"(\w+)=(\S+)")


def conversation(turns: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]


def median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


async def in_process(home: Path, turns: int, durability: str) -> list[float]:
    """Seconds per turn of graph.ainvoke with an InMemorySaver, one thread."""
    kb = KnowledgeBase.open(Settings.from_env({"CONVRAG_HOME": str(home)}))
    try:
        graph = build_graph(InMemorySaver(), knowledge=kb)

        async def turn(thread: str, question: str) -> float:
            start = time.perf_counter()
            await graph.ainvoke({"messages": [HumanMessage(question)]},
                                {"configurable": {"thread_id": thread}},
                                durability=durability)  # type: ignore[arg-type]
            return time.perf_counter() - start

        await turn("warm-up", QUESTIONS[0])
        return [await turn("bench", q) for q in conversation(turns)]
    finally:
        kb.close()


async def through_server(url: str, turns: int) -> dict[str, Any]:
    """Seconds per turn of runs.wait on one thread, and HTTP round trips for reference."""
    sdk = get_client(url=url)
    warm = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(warm, "convrag", input={"messages": [
        {"role": "user", "content": QUESTIONS[0]}]})
    thread = (await sdk.threads.create())["thread_id"]
    waits = []
    for question in conversation(turns):
        start = time.perf_counter()
        await sdk.runs.wait(thread, "convrag",
                            input={"messages": [{"role": "user", "content": question}]})
        waits.append(time.perf_counter() - start)
    ok, state = [], []
    for _ in range(turns):
        start = time.perf_counter()
        await sdk.http.get("/ok")
        ok.append(time.perf_counter() - start)
        start = time.perf_counter()
        await sdk.threads.get_state(thread)
        state.append(time.perf_counter() - start)
    return {"thread_id": thread, "turns": waits, "ok": ok, "get_state": state}


def run_log(log: Path, thread_id: str) -> list[dict[str, str]]:
    """The server's 'Background run succeeded' records of one thread."""
    records = []
    for line in ANSI.sub("", log.read_text(encoding="utf-8", errors="replace")).splitlines():
        if "Background run succeeded" in line:
            fields = dict(FIELD.findall(line))
            if fields.get("thread_id") == thread_id:
                records.append(fields)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="convrag-bench-") as tmp:
        workdir = Path(tmp)
        home = workdir / "home"
        ingest_samples(home)
        local = asyncio.run(in_process(home, args.turns, "async"))
        local_exit = asyncio.run(in_process(home, args.turns, "exit"))
        server = start_langgraph_dev(workdir / "server", clean_env(CONVRAG_HOME=str(home)))
        try:
            remote = asyncio.run(through_server(server.url, args.turns))
            time.sleep(0.5)  # the last run's log line
            runs = run_log(server.log, remote["thread_id"])
        finally:
            stop_langgraph_dev(server)

    def field(name: str) -> float:
        return round(statistics.median(float(r[name]) for r in runs), 1) if runs else float("nan")

    result = {
        "turns": args.turns,
        "in_process_ms": median_ms(local),
        "in_process_durability_exit_ms": median_ms(local_exit),
        "server_runs_wait_ms": median_ms(remote["turns"]),
        "server_run_queue_wait_ms": field("run_wait_time_ms"),
        "server_run_exec_ms": field("run_exec_ms"),
        "server_run_completed_ms": field("run_completed_in_ms"),
        "http_get_ok_ms": median_ms(remote["ok"]),
        "http_get_state_ms": median_ms(remote["get_state"]),
        "runs_logged": len(runs),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"median of {args.turns} turns on one thread, offline mode")
    for label, key in [
        ("in process, graph.ainvoke + InMemorySaver", "in_process_ms"),
        ("  same, durability='exit' (1 checkpoint/turn)", "in_process_durability_exit_ms"),
        ("server, client.runs.wait (client side)", "server_runs_wait_ms"),
        ("  waiting in the run queue (server log)", "server_run_queue_wait_ms"),
        ("  graph run incl. checkpoints (server log)", "server_run_exec_ms"),
        ("  created -> finished (server log)", "server_run_completed_ms"),
        ("HTTP round trip via the SDK: GET /ok", "http_get_ok_ms"),
        ("HTTP round trip via the SDK: threads.get_state", "http_get_state_ms"),
    ]:
        print(f"  {label:<48} {result[key]:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
