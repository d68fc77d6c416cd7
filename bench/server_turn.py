"""A turn through each server against the same turn in process.

    .venv/bin/python bench/server_turn.py [--turns 20] [--json]

All sides run the same offline conversation on one thread over the sample corpus in an
embedded Qdrant store: in process, `graph.ainvoke` with an InMemorySaver; through
`make serve-prod` (Aegra on the PostgreSQL it starts, retention on) and through
`langgraph dev`, `client.runs.wait` with the official SDK. The first turn of each side
(loading jieba's dictionary and opening the store) runs on a separate thread and is not
counted.

Where the production server's time goes comes from its run log (one JSON line per run:
the graph's nodes, the whole executor, retention afterwards); a bare `GET /live` gives
the HTTP round trip through the SDK. `langgraph dev`'s log splits each run into the time
it waited in the run queue and the time the graph ran.
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
    start_serve_prod,
    stop_langgraph_dev,
    stop_serve_prod,
)

QUESTIONS = ["尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "Who was Marie Curie?",
             "When did she die?"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FIELD = re.compile(r"(\w+)=(\S+)")


def conversation(turns: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]


def median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def p95_ms(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1)


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


async def through_server(url: str, turns: int, probe: str = "/ok") -> dict[str, Any]:
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
        await sdk.http.get(probe)
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


def prod_log(log: Path, thread_id: str) -> list[dict[str, Any]]:
    """The production server's convrag.run lines of one thread."""
    records = []
    for line in ANSI.sub("", log.read_text(encoding="utf-8", errors="replace")).splitlines():
        if '"event": "convrag.run"' in line and thread_id in line:
            records.append(json.loads(line[line.index("{"):line.rindex("}") + 1]))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="convrag-bench-") as tmp:
        workdir = Path(tmp)
        # serve-prod's PostgreSQL runs as the postgres user, which must reach its folder.
        workdir.chmod(0o755)
        home = workdir / "home"
        ingest_samples(home)
        local = asyncio.run(in_process(home, args.turns, "async"))
        local_exit = asyncio.run(in_process(home, args.turns, "exit"))
        prod_server = start_serve_prod(workdir / "prod", clean_env(CONVRAG_HOME=str(home)))
        try:
            prod = asyncio.run(through_server(prod_server.url, args.turns, "/live"))
            time.sleep(0.5)  # the last run's log line
            prod_runs = prod_log(prod_server.log, prod["thread_id"])
        finally:
            stop_serve_prod(prod_server)
        server = start_langgraph_dev(workdir / "server", clean_env(CONVRAG_HOME=str(home)))
        try:
            remote = asyncio.run(through_server(server.url, args.turns))
            time.sleep(0.5)  # the last run's log line
            runs = run_log(server.log, remote["thread_id"])
        finally:
            stop_langgraph_dev(server)

    def field(name: str) -> float:
        return round(statistics.median(float(r[name]) for r in runs), 1) if runs else float("nan")

    def prod_field(pick: Any) -> float:
        return round(statistics.median(pick(r) for r in prod_runs), 1) if prod_runs else (
            float("nan"))

    prod_median = median_ms(prod["turns"])
    executor = prod_field(lambda r: r["duration_ms"])
    nodes = prod_field(lambda r: sum(r["nodes_ms"].values()))
    retention = prod_field(lambda r: r["retention_ms"])
    result = {
        "turns": args.turns,
        "in_process_ms": median_ms(local),
        "in_process_p95_ms": p95_ms(local),
        "in_process_durability_exit_ms": median_ms(local_exit),
        "prod_runs_wait_ms": prod_median,
        "prod_runs_wait_p95_ms": p95_ms(prod["turns"]),
        "prod_graph_nodes_ms": nodes,
        "prod_executor_besides_nodes_ms": round(executor - nodes, 1),
        "prod_retention_ms": retention,
        "prod_http_get_live_ms": median_ms(prod["ok"]),
        "prod_api_rest_ms": round(prod_median - executor - retention, 1),
        "prod_http_get_state_ms": median_ms(prod["get_state"]),
        "prod_runs_logged": len(prod_runs),
        "server_runs_wait_ms": median_ms(remote["turns"]),
        "server_runs_wait_p95_ms": p95_ms(remote["turns"]),
        "server_run_queue_wait_ms": field("run_wait_time_ms"),
        "server_run_exec_ms": field("run_exec_ms"),
        "server_run_completed_ms": field("run_completed_in_ms"),
        "http_get_ok_ms": median_ms(remote["ok"]),
        "http_get_state_ms": median_ms(remote["get_state"]),
        "runs_logged": len(runs),
    }
    result["prod_within_in_process_plus_100ms"] = prod_median <= result["in_process_ms"] + 100
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.turns} turns on one thread, offline mode (median, p95 where given)")
    for label, key in [
        ("in process, graph.ainvoke + InMemorySaver", "in_process_ms"),
        ("  p95", "in_process_p95_ms"),
        ("  same, durability='exit' (1 checkpoint/turn)", "in_process_durability_exit_ms"),
        ("serve-prod (Aegra), client.runs.wait", "prod_runs_wait_ms"),
        ("  p95", "prod_runs_wait_p95_ms"),
        ("  graph nodes (run log)", "prod_graph_nodes_ms"),
        ("  executor besides nodes: checkpoint, events (log)", "prod_executor_besides_nodes_ms"),
        ("  retention after the run (run log)", "prod_retention_ms"),
        ("  the rest: HTTP, run rows, hooks, polling", "prod_api_rest_ms"),
        ("  of which an HTTP round trip: GET /live", "prod_http_get_live_ms"),
        ("  threads.get_state", "prod_http_get_state_ms"),
        ("langgraph dev, client.runs.wait", "server_runs_wait_ms"),
        ("  p95", "server_runs_wait_p95_ms"),
        ("  waiting in the run queue (server log)", "server_run_queue_wait_ms"),
        ("  graph run incl. checkpoints (server log)", "server_run_exec_ms"),
        ("  created -> finished (server log)", "server_run_completed_ms"),
        ("  HTTP round trip via the SDK: GET /ok", "http_get_ok_ms"),
        ("  threads.get_state", "http_get_state_ms"),
    ]:
        print(f"  {label:<52} {result[key]:8.1f} ms")
    print(f"  serve-prod within in-process + 100 ms at the median: "
          f"{result['prod_within_in_process_plus_100ms']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
