"""The chat graph embedded in a parent graph: is the parent's thread bounded, and is the
summary call amortized? (a benchmark, not a test)

A sync parent (`invoke`) and an async parent (`ainvoke`) each run 60 turns on one thread
with convrag embedded the supported way (`convrag.graph.embed`: the parent's state
extends `ConvragState`, the node is `as_node()`), in model mode with a fake chat model
that answers at once (a valid echo for the rewrite, a short summary, a 60-word answer)
and counts the summary calls. For comparison, the plain way (the compiled graph added
as a node of a `MessagesState` parent) runs the same turns.

State is the serialized size of the parent's thread state (LangGraph's serializer); it
rises and falls between compactions and the 21 questions of `bench/compaction.py` cycle,
so next to each turn's figure it prints the most over the last 21 turns.

    python bench/embedding.py [--turns 60]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from html import unescape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compaction import QUESTIONS, SAMPLES  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer  # noqa: E402
from langgraph.graph import START, MessagesState, StateGraph  # noqa: E402

from convrag.graph.builder import build_embedded_graph, build_graph  # noqa: E402
from convrag.graph.context import Context  # noqa: E402
from convrag.graph.embed import ConvragState, as_node  # noqa: E402
from convrag.knowledge.ingest import load_paths  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.nodes import prompts  # noqa: E402
from convrag.nodes.models import register_chat_model  # noqa: E402

COLLECTION = "bench"
REPORT_AT = (20, 40, 60)
ANSWER = ("Based on the passages, the answer is as follows, kept short so that the history "
          "grows at the pace of a concise assistant reply [1]. ") * 3


class FakeModel(BaseChatModel):
    """Answers at once; a valid echo for the Rewrite tool; counts summary calls."""

    summaries: int = 0
    tools: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "bench-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        system = str(messages[0].content)
        last = str(messages[-1].content)
        if system.startswith(prompts.RESOLVE_SYSTEM[:40]):
            question = unescape(last.rsplit("<question>", 1)[-1].split("</question>")[0])
            reply = AIMessage("", tool_calls=[{"name": "Rewrite", "id": "rw", "args": {
                "reasoning": "", "scenario": "none", "mentions": [],
                "standalone_question": question, "route": "retrieve"}}])
        elif system.startswith(prompts.SUMMARY_SYSTEM[:40]):
            self.summaries += 1
            reply = AIMessage("The user asked about rivers, scientists and mountains.")
        else:
            reply = AIMessage(ANSWER)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any
                         ) -> ChatResult:
        return self._generate(messages)


def parent(kind: str, kb: KnowledgeBase) -> Any:
    if kind == "plain":
        builder = StateGraph(MessagesState, context_schema=Context)
        builder.add_node("convrag", build_graph(knowledge=kb))
    else:
        builder = StateGraph(ConvragState, context_schema=Context)
        builder.add_node("convrag", as_node(build_embedded_graph(knowledge=kb)))
    builder.add_edge(START, "convrag")
    return builder.compile(checkpointer=InMemorySaver())


def play(kind: str, api: str, kb: KnowledgeBase, turns: int) -> list[dict[str, Any]]:
    model = FakeModel()
    name = f"bench-{kind}-{api}"
    register_chat_model(name, model)
    context = Context(collection=COLLECTION, chat_model=name)
    app = parent(kind, kb)
    config = {"configurable": {"thread_id": "embedded"}}
    serde = JsonPlusSerializer()
    sizes: list[int] = []
    rows = []

    async def run_async(message: dict[str, Any]) -> Any:
        return await app.ainvoke(message, config, context=context)

    for turn in range(1, turns + 1):
        message = {"messages": [{"role": "user",
                                 "content": QUESTIONS[(turn - 1) % len(QUESTIONS)]}]}
        if api == "sync":
            app.invoke(message, config, context=context)
        else:
            asyncio.run(run_async(message))
        values = app.get_state(config).values
        sizes.append(len(serde.dumps_typed(values)[1]))
        if turn in REPORT_AT or turn == turns:
            rows.append({"turn": turn, "state": sizes[-1],
                         "state_max": max(sizes[max(0, turn - len(QUESTIONS)):turn]),
                         "messages": len(values["messages"]), "summaries": model.summaries})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    args = parser.parse_args(argv)
    kb = KnowledgeBase.in_memory()
    kb.ingest(COLLECTION, load_paths([SAMPLES]))
    every = Context().summary_every_turns
    print(f"{args.turns} turns, model mode (fake model), summary_every_turns={every}")
    print(f"{'parent':30}{'turn':>5}{'state bytes':>13}{'max/21 turns':>14}{'messages':>10}"
          f"{'summary calls':>15}")
    for kind, api in [("embed", "sync"), ("embed", "async"), ("plain", "sync"),
                      ("plain", "async")]:
        rows = play(kind, api, kb, args.turns)
        label = f"{'ConvragState + as_node' if kind == 'embed' else 'MessagesState + graph'}, {api}"
        for row in rows:
            print(f"{label:30}{row['turn']:>5}{row['state']:>13,}{row['state_max']:>14,}"
                  f"{row['messages']:>10}{row['summaries']:>15}")
        first, last = rows[0], rows[-1]
        print(f"{'':30}turn {last['turn']} / turn {first['turn']}: state "
              f"{last['state'] / first['state']:.2f}×, max/21 turns "
              f"{last['state_max'] / first['state_max']:.2f}×; summary calls "
              f"{last['summaries']} (at most {args.turns // every} allowed)")
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
