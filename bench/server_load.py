"""Load and abuse through each server: many threads at once, and one adversarial user.

    .venv/bin/python bench/server_load.py [--threads 50] [--turns 10] [--json]

Load: `--threads` conversations of `--turns` turns each, all at once, through
`make serve-prod` (Aegra on its own PostgreSQL) and through `langgraph dev`, offline mode
over the sample corpus. Counted: errors, cross-talk (a turn's answer state that is not
its own thread's: another thread's question in its messages, or a message count that is
not 2 per turn so far), throughput, p50/p95 of a turn.

Abuse: 10 users × 5 turns measured alone (idle), then again while one more user sends a
2,000-character question full of references, turn after turn; the others' p95 against
its idle value (the target is at most 1.5×).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langgraph_sdk import get_client  # noqa: E402

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
# References and ellipses all the way: the rewrite gate, jieba and entity extraction
# all get the most work per character.
ADVERSARIAL = ("那它呢？他们和它的那个东西是什么关系？What about it and them, and that one? "
               * 60)[:2000]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)


async def conversation(url: str, index: int, turns: int, latencies: list[float],
                       problems: list[str]) -> None:
    """One thread's turns; records each turn's latency and any error or cross-talk."""
    sdk = get_client(url=url, timeout=300)
    try:
        thread = (await sdk.threads.create())["thread_id"]
    except Exception as error:  # counted, not raised: the bench reports every failure
        problems.append(f"thread {index}: {error!r}")
        return
    for turn in range(turns):
        question = f"{QUESTIONS[turn % len(QUESTIONS)]} #{index}"
        start = time.perf_counter()
        try:
            out = await sdk.runs.wait(thread, "convrag", input={"messages": [
                {"role": "user", "content": question}]})
        except Exception as error:  # counted, as above
            problems.append(f"thread {index} turn {turn}: {error!r}")
            continue
        latencies.append(time.perf_counter() - start)
        humans = [m["content"] for m in out.get("messages", []) if m.get("type") == "human"]
        foreign = [h for h in humans if not h.endswith(f" #{index}")]
        if not humans or humans[-1] != question or foreign:
            problems.append(f"thread {index} turn {turn}: cross-talk {humans[-2:]}")


async def load(url: str, threads: int, turns: int) -> dict[str, Any]:
    latencies: list[float] = []
    problems: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(*(conversation(url, i, turns, latencies, problems)
                           for i in range(threads)))
    elapsed = time.perf_counter() - start
    return {
        "threads": threads, "turns": turns, "errors_or_cross_talk": len(problems),
        "examples": problems[:3], "seconds": round(elapsed, 1),
        "turns_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 0.5), "p95_ms": percentile(latencies, 0.95),
    }


async def abuse(url: str) -> dict[str, Any]:
    async def users(latencies: list[float], problems: list[str]) -> None:
        await asyncio.gather(*(conversation(url, 1000 + i, 5, latencies, problems)
                               for i in range(10)))

    idle: list[float] = []
    problems: list[str] = []
    await users(idle, problems)
    loaded: list[float] = []
    done = asyncio.Event()
    adversarial_turns: list[float] = []

    async def attacker() -> None:
        sdk = get_client(url=url, timeout=300)
        thread = (await sdk.threads.create())["thread_id"]
        while not done.is_set():
            start = time.perf_counter()
            try:
                await sdk.runs.wait(thread, "convrag", input={"messages": [
                    {"role": "user", "content": ADVERSARIAL}]})
            except Exception as error:  # refused or failed: still not allowed to stall others
                problems.append(f"adversarial: {error!r}"[:200])
            adversarial_turns.append(time.perf_counter() - start)

    task = asyncio.create_task(attacker())
    await asyncio.sleep(0.5)  # the attack is under way before the others start
    await users(loaded, problems)
    done.set()
    await task
    return {
        "idle_p95_ms": percentile(idle, 0.95), "with_adversary_p95_ms": percentile(loaded, 0.95),
        "ratio": round(percentile(loaded, 0.95) / percentile(idle, 0.95), 2),
        "adversarial_turns": len(adversarial_turns),
        "adversarial_turn_median_ms": round(statistics.median(adversarial_turns) * 1000, 1),
        "errors_or_cross_talk": len(problems), "examples": problems[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="convrag-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # serve-prod's PostgreSQL runs as the postgres user
        home = workdir / "home"
        ingest_samples(home)
        for name, start, stop in [("serve-prod", start_serve_prod, stop_serve_prod),
                                  ("langgraph-dev", start_langgraph_dev, stop_langgraph_dev)]:
            server = start(workdir / name, clean_env(CONVRAG_HOME=str(home)))
            try:
                results[name] = {"load": asyncio.run(load(server.url, args.threads, args.turns)),
                                 "abuse": asyncio.run(abuse(server.url))}
            finally:
                stop(server)
    if args.json:
        print(json.dumps(results))
        return 0
    for name, found in results.items():
        lo, ab = found["load"], found["abuse"]
        print(f"{name}: {lo['threads']} threads x {lo['turns']} turns at once: "
              f"{lo['errors_or_cross_talk']} errors/cross-talk, {lo['turns_per_s']} turns/s, "
              f"p50 {lo['p50_ms']} ms, p95 {lo['p95_ms']} ms ({lo['seconds']} s) {lo['examples']}")
        print(f"  10 users x 5 turns: idle p95 {ab['idle_p95_ms']} ms, with a 2,000-char "
              f"adversary {ab['with_adversary_p95_ms']} ms = {ab['ratio']}x (target <= 1.5x); "
              f"adversary: {ab['adversarial_turns']} turns, median "
              f"{ab['adversarial_turn_median_ms']} ms; {ab['errors_or_cross_talk']} errors "
              f"{ab['examples']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
