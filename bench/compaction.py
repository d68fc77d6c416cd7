"""History compaction and retention over a long thread (a benchmark, not a test).

200 turns on one thread with the SQLite checkpointer, offline mode, on the bundled
sample corpus (in-memory knowledge base). The questions cycle through a zh + en set
with follow-ups (pronouns, ellipsis, small talk, questions about the chat). For turns
20, 50, 100 and 200 it prints:

- state: bytes of the thread's latest checkpoint row (the serialized state: messages,
  summary, entities, this turn's documents);
- prompt: tokens of the answer call's prompt, assembled by the answer node's own
  `answer_prompt` from the state it saw (offline mode makes no call, so it is counted);
- summaries: compactions so far (each a summary model call in model mode);
- checkpoints and file: rows and bytes of the SQLite file (with its -wal), which holds
  only this thread.

The questions at turns 20 and 200 differ (the cycle has 21), and state and prompt
rise and fall between compactions, so next to each turn's figures it prints the most
over the last full cycle of questions ("max/cycle"); the bounds are checked on those.

It runs three configurations in one process: the default (durability "exit", keep 20
checkpoints), the same without retention, and the baseline without either (LangGraph's
default durability "async", every checkpoint kept). Each has its own file.

    python bench/compaction.py [--turns 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402

from convrag.graph.builder import build_graph  # noqa: E402
from convrag.graph.context import Context  # noqa: E402
from convrag.graph.retention import TURN_DURABILITY  # noqa: E402
from convrag.knowledge.ingest import load_paths  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.nodes.answer import answer_prompt  # noqa: E402
from convrag.nodes.compact_history import history_tokens  # noqa: E402

SAMPLES = ROOT / "convrag" / "samples" / "knowledge.jsonl"
COLLECTION = "bench"
THREAD = "long-thread"
REPORT_AT = (20, 50, 100, 200)
QUESTIONS = [
    "尼罗河是什么？", "它有多长？", "它流经哪些国家？", "那亚马逊河呢？", "谢谢！",
    "Who was Marie Curie?", "When did she die?", "What did she discover?",
    "How long is the Nile?", "What about the Mississippi?", "Where does it flow?",
    "长江发源于哪里？", "它有多长？", "居里夫人获得过哪些奖？", "她什么时候去世的？",
    "我刚才问了什么？", "Who was Albert Einstein?", "When was he born?",
    "Tell me about the Amazon River.", "珠穆朗玛峰有多高？", "Thanks!",
]


@dataclass(frozen=True)
class Config:
    label: str
    durability: str
    keep: int


CONFIGS = [
    Config("default: exit + keep 20", TURN_DURABILITY, Context().keep_checkpoints),
    Config("exit, no retention", "exit", 0),
    Config("baseline: async, no retention", "async", 0),
]


def file_stats(path: Path) -> tuple[int, int, int]:
    """(latest checkpoint bytes, checkpoint rows, file bytes with the WAL) of the thread."""
    with sqlite3.connect(path) as conn:
        latest = conn.execute(
            "SELECT length(checkpoint) FROM checkpoints WHERE thread_id = ? "
            "ORDER BY checkpoint_id DESC LIMIT 1", (THREAD,)).fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return latest, rows, size


async def run(config: Config, kb: KnowledgeBase, folder: Path, turns: int
              ) -> list[dict[str, Any]]:
    path = folder / f"{config.durability}-{config.keep}.sqlite"
    # The graph applies the retention itself (build_graph with a checkpointer): keep 0 is off.
    context = Context(collection=COLLECTION, keep_checkpoints=config.keep)
    rows: list[dict[str, Any]] = []
    states: list[int] = []
    prompts: list[int] = []
    started = time.perf_counter()
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = build_graph(saver, knowledge=kb)
        thread = {"configurable": {"thread_id": THREAD}}
        for turn in range(1, turns + 1):
            question = QUESTIONS[(turn - 1) % len(QUESTIONS)]
            await graph.ainvoke({"messages": [{"role": "user", "content": question}]},
                                thread, context=context, durability=config.durability)
            values = (await graph.aget_state(thread)).values
            # The answer node saw the state without its own reply.
            seen = {**values, "messages": values["messages"][:-1]}
            prompts.append(history_tokens(answer_prompt(seen, context)))  # type: ignore[arg-type]
            state_bytes, checkpoints, file_bytes = file_stats(path)
            states.append(state_bytes)
            if turn in REPORT_AT or turn == turns:
                cycle = slice(max(0, turn - len(QUESTIONS)), turn)
                rows.append({
                    "turn": turn, "state": state_bytes, "state_max": max(states[cycle]),
                    "prompt": prompts[-1], "prompt_max": max(prompts[cycle]),
                    "summaries": values.get("summary_calls", 0),
                    "messages": len(values["messages"]), "checkpoints": checkpoints,
                    "file": file_bytes, "seconds": time.perf_counter() - started,
                })
    return rows


def kb_with_samples() -> KnowledgeBase:
    kb = KnowledgeBase.in_memory()
    kb.ingest(COLLECTION, load_paths([SAMPLES]))
    return kb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    kb = kb_with_samples()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for config in CONFIGS:
            results[config.label] = asyncio.run(run(config, kb, Path(tmp), args.turns))
    kb.close()
    for label, rows in results.items():
        print(f"\n{label}")
        print("| turn | state bytes (max/cycle) | answer prompt tokens (max/cycle) | summaries "
              "| messages | checkpoints | SQLite file bytes |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['turn']} | {r['state']:,} ({r['state_max']:,}) | {r['prompt']:,} "
                  f"({r['prompt_max']:,}) | {r['summaries']} | {r['messages']} | "
                  f"{r['checkpoints']:,} | {r['file']:,} |")
        print(f"({rows[-1]['seconds']:.0f} s for {rows[-1]['turn']} turns)")
    default, baseline = results[CONFIGS[0].label], results[CONFIGS[-1].label]
    first, last = default[0], default[-1]
    print(f"\nturn {last['turn']} / turn {first['turn']} (default), max over a cycle: state "
          f"{last['state_max'] / first['state_max']:.2f}x, prompt "
          f"{last['prompt_max'] / first['prompt_max']:.2f}x (at the turn itself: "
          f"{last['state'] / first['state']:.2f}x, {last['prompt'] / first['prompt']:.2f}x); "
          f"file {last['file'] / 1e6:.2f} MB")
    print(f"baseline file / default file at turn {last['turn']}: "
          f"{baseline[-1]['file'] / last['file']:.1f}x "
          f"({baseline[-1]['file'] / 1e6:.1f} MB against {last['file'] / 1e6:.2f} MB)")
    ok = (last["state_max"] <= 1.3 * first["state_max"]
          and last["prompt_max"] <= 1.3 * first["prompt_max"] and last["file"] < 2e6)
    print("within the bounds (1.3x of turn 20, file under 2 MB):", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
