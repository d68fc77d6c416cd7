"""Per-turn overhead without the model: convrag against LangChain's history-aware retriever.

The peer (HAR: `create_history_aware_retriever` + stuff-documents chain, the caller keeping
the chat history) is the one of `../shared/bench/peers.py`, run in the same process on the
same corpus (the bundled sample corpus), the same dialogue (the zh + en questions of
`bench/compaction.py` in a cycle, one long thread), the same k and the same fake model:
peers' `FakeChatModel`, which convrag's structured rewrite call gets a valid echo from
(as the peer's rewrite call gets its echo). Overhead is a turn's wall time minus the time
the model slept (0 here: the fake answers at once), in milliseconds.

convrag runs as a user gets it by default: `build_graph(AsyncSqliteSaver(...))` (so one
checkpoint per turn and retention on), `ainvoke`, in model mode and offline. Each
configuration runs `--runs` times, interleaved; it prints the median over all turns and
over the last 20 turns, and the ratio to HAR with its spread over the runs, for wall time
and for the process's CPU time (all threads): on a shared machine, waiting for a core
inflates wall time most where a turn hops between threads (convrag's checkpointer and
worker threads; HAR runs in one thread), and CPU time is the steadier measure.

The "memory" rows are the same graph with an `InMemorySaver` (retention on), the nearer
match to HAR, whose caller keeps the history in memory and persists nothing; the default
rows above them checkpoint every turn to SQLite.

"LangGraph floor" is convrag's shape with nothing in it: five async nodes in a line that
do no work, the same checkpointer, durability and questions, and a one-line answer. What
it costs, LangGraph and the checkpoint spend on any five-step graph before a node works.

    python bench/overhead.py [--turns 100] [--runs 3] [--peers ../shared/bench/peers.py]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from html import unescape
from pathlib import Path
from typing import Annotated, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compaction import QUESTIONS, SAMPLES  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage  # noqa: E402
from langgraph.checkpoint.base import BaseCheckpointSaver  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from convrag.graph.builder import build_graph  # noqa: E402
from convrag.graph.context import Context  # noqa: E402
from convrag.graph.retention import TURN_DURABILITY  # noqa: E402
from convrag.knowledge.ingest import load_paths  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.nodes.models import register_chat_model  # noqa: E402

K = 4
COLLECTION = "bench"
LAST = 20
FLOOR_ANSWER = "尼罗河全长约6650公里，是世界上最长的河流之一[1]。"


def load_peers(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("peers", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench: cannot load the peers from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["peers"] = module
    spec.loader.exec_module(module)
    return module


def echo_model(peers: Any) -> Any:
    """peers' FakeChatModel, answering convrag's Rewrite call with a valid echo."""

    class EchoRewrite(peers.FakeChatModel):  # type: ignore[misc, name-defined]
        def _reply(self, messages: list[BaseMessage], tools: Any, tool_choice: Any) -> AIMessage:
            if tools and tools[0]["function"]["name"] == "Rewrite":
                self.meter.calls[-1]["kind"] = "rewrite"
                text = str(messages[-1].content)
                question = unescape(text.rsplit("<question>", 1)[-1].split("</question>")[0])
                return AIMessage("", tool_calls=[{"name": "Rewrite", "id": "call_rw", "args": {
                    "reasoning": "", "scenario": "none", "mentions": [],
                    "standalone_question": question, "route": "retrieve"}}])
            return super()._reply(messages, tools, tool_choice)

    return EchoRewrite()


def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()]


def har_turns(peers: Any, turns: int) -> list[Turn]:
    llm = peers.FakeChatModel()
    docs = [Document(page_content=c["text"], metadata={"id": c["id"], "title": c.get("title", "")})
            for c in corpus()]
    pipe = peers.HAR(llm, peers.bm25_factory(docs, K))
    pipe.start("long")
    times = []
    for turn in range(turns):
        started, slept = _now(), llm.meter.slept
        pipe.turn(QUESTIONS[turn % len(QUESTIONS)])
        times.append(_since(started, llm.meter.slept - slept))
    return times


def convrag_turns(peers: Any, kb: KnowledgeBase, folder: Path, turns: int, model: bool,
                  memory: bool = False) -> list[Turn]:
    llm = echo_model(peers)
    name = f"bench-echo-{id(llm)}"
    register_chat_model(name, llm)
    context = Context(collection=COLLECTION, top_k=K, chat_model=name if model else "offline")
    path = folder / f"convrag-{name}.sqlite"

    async def play() -> list[Turn]:
        times = []
        async with AsyncExitStack() as stack:
            saver: BaseCheckpointSaver[Any] = (
                InMemorySaver() if memory else await stack.enter_async_context(
                    AsyncSqliteSaver.from_conn_string(str(path))))
            graph = build_graph(saver, knowledge=kb)
            config = {"configurable": {"thread_id": "long"}}
            for turn in range(turns):
                started, slept = _now(), llm.meter.slept
                await graph.ainvoke(
                    {"messages": [{"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]}]},
                    config, context=context)
                times.append(_since(started, llm.meter.slept - slept))
        return times

    return asyncio.run(play())


class _FloorState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    step: int


def floor_turns(folder: Path, turns: int) -> list[Turn]:
    """LangGraph alone: convrag's five-step shape with nodes that do nothing, the same
    checkpointer and durability, the same questions and an answer of similar length."""

    def step(state: _FloorState) -> dict[str, Any]:
        return {"step": state.get("step", 0) + 1}

    async def reply(state: _FloorState) -> dict[str, Any]:
        return {"messages": [AIMessage(FLOOR_ANSWER)]}

    builder = StateGraph(_FloorState)
    names = ["compact_history", "resolve_coreference", "decide_retrieval", "retrieve"]
    for name in names:
        builder.add_node(name, _async(step))
    builder.add_node("answer", reply)
    for a, b in zip([START, *names], [*names, "answer"], strict=True):
        builder.add_edge(a, b)
    builder.add_edge("answer", END)

    async def play() -> list[Turn]:
        times = []
        async with AsyncSqliteSaver.from_conn_string(str(folder / "floor.sqlite")) as saver:
            graph = builder.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "long"}}
            for turn in range(turns):
                started = _now()
                await graph.ainvoke(
                    {"messages": [{"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]}]},
                    config, durability=TURN_DURABILITY)
                times.append(_since(started, 0.0))
        return times

    return asyncio.run(play())


def _async(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def node(state: Any) -> Any:
        return fn(state)

    return node


Turn = tuple[float, float]
"""A turn's overhead in ms: wall time less the model's sleep, and CPU time of the process."""


def _now() -> Turn:
    return time.perf_counter(), time.process_time()


def _since(started: Turn, slept: float) -> Turn:
    wall, cpu = _now()
    return (wall - started[0] - slept) * 1000, (cpu - started[1]) * 1000


def summary(times: list[Turn]) -> dict[str, float]:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return {"wall all": statistics.median(wall), "wall last": statistics.median(wall[-LAST:]),
            "cpu all": statistics.median(cpu), "cpu last": statistics.median(cpu[-LAST:])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers", type=Path, default=ROOT.parent / "shared" / "bench" / "peers.py")
    args = parser.parse_args(argv)
    if not args.peers.exists():
        # The peers live beside the project, not in it: without them there is no baseline.
        print(f"bench: skipped, the peers are not at {args.peers} (pass --peers PATH)")
        return 0
    peers = load_peers(args.peers)
    kb = KnowledgeBase.in_memory()
    kb.ingest(COLLECTION, load_paths([SAMPLES]))
    configs: dict[str, Callable[[Path], list[Turn]]] = {
        "HAR (peer)": lambda folder: har_turns(peers, args.turns),
        "convrag, model mode": lambda folder: convrag_turns(peers, kb, folder, args.turns, True),
        "convrag, offline": lambda folder: convrag_turns(peers, kb, folder, args.turns, False),
        "convrag, model, memory": lambda folder: convrag_turns(peers, kb, folder, args.turns,
                                                               True, memory=True),
        "convrag, offline, memory": lambda folder: convrag_turns(peers, kb, folder, args.turns,
                                                                 False, memory=True),
        "LangGraph floor": lambda folder: floor_turns(folder, args.turns),
    }
    results: dict[str, list[dict[str, float]]] = {label: [] for label in configs}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for label, play in configs.items():
                folder = Path(scratch) / f"run{run}"
                folder.mkdir(exist_ok=True)
                results[label].append(summary(play(folder)))
    print(f"{args.turns} turns on one thread, {args.runs} runs; overhead ms per turn (median "
          "of the runs' medians; ratio to HAR in the same run, min–max over runs)")
    base = results["HAR (peer)"]
    for clock in ("wall", "cpu"):
        print(f"\n{clock} time{'':15}{'all turns':>12}{'× HAR':>18}{'last 20':>12}{'× HAR':>18}")
        for label, runs in results.items():
            cells = []
            for key in (f"{clock} all", f"{clock} last"):
                ratios = [r[key] / b[key] for r, b in zip(runs, base, strict=True)]
                cells.append(f"{statistics.median(r[key] for r in runs):>12.2f}"
                             f"{statistics.median(ratios):>7.2f} "
                             f"({min(ratios):.2f}–{max(ratios):.2f})")
            print(f"{label:24}" + "".join(cells))
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
