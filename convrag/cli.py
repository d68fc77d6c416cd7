"""The `convrag` command: ingest, delete, ask, chat, demo, eval.

User-fixable problems end in one sentence on stderr and exit status 1 (2 for usage
errors); tracebacks are left for bugs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from langchain_core.runnables import RunnableConfig

from convrag.errors import UserError, missing_collection
from convrag.language.checks import question_problem
from convrag.settings import DEFAULT_COLLECTION, Settings

DEMO_COLLECTION = "convrag-demo"
DEMO_SCRIPT: list[tuple[str, list[str]]] = [
    ("zh", ["你好！", "尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "居里夫人获得过哪些奖？",
            "她什么时候去世的？", "我刚才问了什么？", "谢谢！"]),
    ("en", ["Who was Marie Curie?", "When did she die?", "How long is the Nile?",
            "What about the Mississippi?", "Thanks!"]),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "model_timeout", None):
        # Read where the graph reads it (Settings), for this process only.
        os.environ["CONVRAG_MODEL_TIMEOUT"] = str(args.model_timeout)
    stdout, stderr = sys.stdout, sys.stderr
    # Answers, titles and questions come from models, documents and users: what they
    # print must not drive the terminal (escape sequences, carriage-return overwrites).
    sys.stdout, sys.stderr = _Printable(stdout), _Printable(stderr, keep_cr=True)
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"convrag: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    finally:
        sys.stdout, sys.stderr = stdout, stderr


# ANSI/VT escape sequences (CSI, OSC), then single C0 and C1 control characters other than
# tab and newline; carriage return is listed apart, because the progress bar needs it.
_ESCAPES = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
_CONTROLS = re.compile(_ESCAPES + r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_AND_CR = re.compile(_ESCAPES + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str, *, keep_cr: bool = False) -> str:
    """`text` without terminal control characters and escape sequences."""
    return (_CONTROLS if keep_cr else _CONTROLS_AND_CR).sub("", text)


class _Printable:
    """A text stream that drops terminal control characters from what is written to it."""

    def __init__(self, stream: TextIO, *, keep_cr: bool = False) -> None:
        self._stream = stream
        self._keep_cr = keep_cr

    def write(self, text: str) -> int:
        return self._stream.write(printable(text, keep_cr=self._keep_cr))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convrag",
        description="Multi-turn conversational RAG: follow-up questions resolved, answers cited.",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="add files or folders to the knowledge base")
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH", help=".txt .md .html .pdf .jsonl files or folders"
    )
    ingest.add_argument("--collection", default=DEFAULT_COLLECTION)
    ingest.add_argument("--tenant", default=None, help="tag the documents with a tenant id")
    ingest.add_argument(
        "--prune", action="store_true",
        help="remove documents (of this tenant) that are not among the PATHs any more",
    )
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(run=_ingest)

    delete = sub.add_parser("delete", help="remove documents from the knowledge base by id")
    delete.add_argument("ids", nargs="+", metavar="ID", help="document ids, as `sources[].id`")
    delete.add_argument("--collection", default=DEFAULT_COLLECTION)
    delete.add_argument("--tenant", default=None, help="only the documents of this tenant")
    delete.add_argument("--json", action="store_true", help="print one JSON object")
    delete.set_defaults(run=_delete)

    ask = sub.add_parser("ask", help="one turn on a thread (created if new, resumed if not)")
    ask.add_argument("--thread", required=True, metavar="ID")
    ask.add_argument("--collection", default=DEFAULT_COLLECTION)
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _model_timeout_option(ask)
    ask.add_argument("question", nargs="+")
    ask.set_defaults(run=_ask)

    chat = sub.add_parser("chat", help="interactive chat with streaming answers")
    chat.add_argument("--thread", default=None, metavar="ID", help="resume or name a thread")
    chat.add_argument("--collection", default=DEFAULT_COLLECTION)
    _model_timeout_option(chat)
    chat.set_defaults(run=_chat)

    demo = sub.add_parser("demo", help="ingest the sample corpus and play a scripted conversation")
    demo.set_defaults(run=_demo)

    evaluate = sub.add_parser("eval", help="measure rewriting or retrieval on JSONL data")
    kinds = evaluate.add_subparsers(required=True, metavar="KIND")
    rewrite = kinds.add_parser("rewrite", help="score standalone rewrites of follow-ups")
    rewrite.add_argument("--data", required=True, type=Path, metavar="FILE")
    rewrite.add_argument("--out", required=True, type=Path, metavar="PRED")
    rewrite.add_argument("--limit", type=int, default=None, help="only the first N rows")
    rewrite.add_argument("--json", action="store_true", help="print the metrics as JSON")
    rewrite.set_defaults(run=_eval_rewrite)
    retrieval = kinds.add_parser("retrieval", help="run every turn through the graph, score hits")
    retrieval.add_argument("--conversations", required=True, type=Path, metavar="FILE")
    retrieval.add_argument("--passages", required=True, type=Path, metavar="FILE")
    retrieval.add_argument("--k", type=int, default=5)
    retrieval.add_argument("--out", required=True, type=Path, metavar="RUN")
    retrieval.add_argument("--limit", type=int, default=None, help="only the first N rows")
    retrieval.add_argument("--json", action="store_true", help="print the metrics as JSON")
    retrieval.set_defaults(run=_eval_retrieval)
    return parser


# --- shared helpers ------------------------------------------------------------------


def _model_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-timeout", type=_seconds, default=None, metavar="SECONDS",
        help="model time a turn may use before falling back to the rules "
        "(default: CONVRAG_MODEL_TIMEOUT, else 60)",
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


def _open_kb(settings: Settings) -> Any:
    from convrag.knowledge.store import KnowledgeBase

    return KnowledgeBase.open(settings)


def _require_collection(kb: Any, collection: str) -> None:
    if not kb.collection_exists(collection):
        raise missing_collection(collection)


def _progress(stream: TextIO, label: str) -> Any:
    """A one-line progress display on a terminal; silent otherwise."""
    interactive = stream.isatty()

    def report(done: int, total: int) -> None:
        if interactive:
            width = 30
            filled = int(width * done / max(total, 1))
            stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                stream.write("\n")
            stream.flush()

    return report


async def _turn(graph: Any, thread: str, question: str, collection: str) -> dict[str, Any]:
    from convrag.graph.context import Context
    from convrag.graph.retention import TURN_DURABILITY, prune_thread

    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    context = Context(collection=collection)
    result = await graph.ainvoke(
        {"messages": [{"role": "user", "content": question}]},
        config,
        context=context,
        durability=TURN_DURABILITY,
    )
    await prune_thread(graph.checkpointer, thread, context.keep_checkpoints)
    return _turn_record(thread, result)


def _turn_record(thread: str, result: dict[str, Any]) -> dict[str, Any]:
    """DESIGN's `ask --json` object from a graph result."""
    from convrag.nodes.answer import source_list

    documents = result.get("documents", []) if result.get("route") == "retrieve" else []
    answer = result["messages"][-1]
    text = answer.content if isinstance(answer.content, str) else str(answer.content)
    return {
        "thread_id": thread,
        "answer": text,
        "standalone_question": result.get("standalone_question", ""),
        "route": result.get("route", "respond"),
        "sources": [{**source, "score": round(float(source["score"] or 0.0), 4)}
                    for source in source_list(documents)],
        "llm_calls": int(result.get("llm_calls", 0)),
    }


# --- commands ------------------------------------------------------------------------


def _ingest(args: argparse.Namespace) -> int:
    from convrag.knowledge.ingest import load_paths

    settings = Settings.from_env()
    documents = load_paths(args.paths)
    kb = _open_kb(settings)
    try:
        report = kb.ingest(
            args.collection, documents, tenant=args.tenant, prune=args.prune,
            progress=_progress(sys.stderr, "ingesting"),
        )
    finally:
        kb.close()
    _print_report(report, args.json)
    return 0


def _delete(args: argparse.Namespace) -> int:
    kb = _open_kb(Settings.from_env())
    try:
        report = kb.delete(args.collection, args.ids, tenant=args.tenant)
    finally:
        kb.close()
    _print_report(report, args.json)
    return 0


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(
            f"{report.collection}: {report.documents} documents, {report.chunks_added} chunks "
            f"added, {report.chunks_unchanged} unchanged, {report.chunks_removed} removed, "
            f"{report.total_chunks} in total"
        )


def _ask(args: argparse.Namespace) -> int:
    question = " ".join(args.question)
    problem = question_problem(question)
    if problem:
        raise UserError(problem)
    settings = Settings.from_env()
    record = asyncio.run(_ask_async(settings, args.thread, question, args.collection))
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        _print_turn(record)
    return 0


async def _ask_async(
    settings: Settings, thread: str, question: str, collection: str
) -> dict[str, Any]:
    from convrag.graph.builder import build_graph
    from convrag.graph.persistence import open_checkpointer

    kb = _open_kb(settings)
    try:
        _require_collection(kb, collection)
        async with open_checkpointer(settings) as saver:
            graph = build_graph(saver, knowledge=kb)
            return await _turn(graph, thread, question, collection)
    finally:
        kb.close()


def _print_turn(record: dict[str, Any], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(f"  ↳ standalone question: {record['standalone_question']}\n")
    out.write(f"  ↳ route: {record['route']}\n")
    out.write(record["answer"] + "\n")
    for number, source in enumerate(record["sources"], start=1):
        out.write(f"  [{number}] {source['title']} ({source['id']}, score {source['score']})\n")


def _chat(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    asyncio.run(_chat_async(settings, args.thread or f"chat-{uuid.uuid4().hex[:8]}",
                            args.collection))
    return 0


async def _chat_async(settings: Settings, thread: str, collection: str) -> None:
    from convrag.graph.builder import build_graph
    from convrag.graph.context import Context
    from convrag.graph.persistence import open_checkpointer

    kb = _open_kb(settings)
    try:
        _require_collection(kb, collection)
        async with open_checkpointer(settings) as saver:
            graph = build_graph(saver, knowledge=kb)
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            state = await graph.aget_state(config)
            seen = len(state.values.get("messages", [])) if state.values else 0
            status = f"resuming ({seen} messages)" if seen else "new thread"
            print(f"convrag chat — thread {thread}, {status}. Empty line or Ctrl-D to quit.")
            while True:
                try:
                    question = input("you> ").strip()
                except EOFError:
                    print()
                    break
                if not question:
                    break
                problem = question_problem(question)
                if problem:
                    print(f"convrag: {problem}")
                    continue
                await _stream_turn(graph, config, question, Context(collection=collection))
    finally:
        kb.close()


async def _stream_turn(graph: Any, config: RunnableConfig, question: str, context: Any) -> None:
    from convrag.graph.retention import TURN_DURABILITY, prune_thread

    streamed = False
    async for mode, chunk in graph.astream(
        {"messages": [{"role": "user", "content": question}]},
        config,
        context=context,
        stream_mode=["updates", "messages"],
        durability=TURN_DURABILITY,
    ):
        if mode == "updates":
            for node, update in chunk.items():
                if node == "resolve_coreference" and update:
                    rewrite = update.get("rewrite", {})
                    if rewrite.get("scenario") not in (None, "none"):
                        print(f"  ↳ standalone question: {update.get('standalone_question')}"
                              f"  ({rewrite.get('scenario')}, {rewrite.get('mode')})")
                elif node == "retrieve" and update:
                    for n, doc in enumerate(update.get("documents", []), start=1):
                        print(f"  [{n}] {doc.metadata.get('title')} ({doc.metadata.get('id')})")
        else:
            message, metadata = chunk
            if metadata.get("langgraph_node") != "answer":
                continue
            text = message.content if isinstance(message.content, str) else ""
            if text:
                if not streamed:
                    sys.stdout.write("bot> ")
                sys.stdout.write(text)
                sys.stdout.flush()
                streamed = True
    print()
    await prune_thread(graph.checkpointer, config["configurable"]["thread_id"],
                       context.keep_checkpoints)


def _eval_rewrite(args: argparse.Namespace) -> int:
    from convrag.evaluation import format_metrics, run_rewrite_eval

    settings = Settings.from_env()
    metrics = run_rewrite_eval(
        args.data, args.out, limit=args.limit, progress=_progress(sys.stderr, "rewriting"),
        model_name=settings.chat_model,
    )
    print(json.dumps(metrics, ensure_ascii=False) if args.json else format_metrics(metrics))
    return 0


def _eval_retrieval(args: argparse.Namespace) -> int:
    from convrag.evaluation import format_metrics, run_retrieval_eval

    settings = Settings.from_env()
    metrics = run_retrieval_eval(
        args.conversations, args.passages, args.out, k=args.k, limit=args.limit,
        progress=_progress(sys.stderr, "evaluating"), model_name=settings.chat_model,
    )
    print(json.dumps(metrics, ensure_ascii=False) if args.json else format_metrics(metrics))
    return 0


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    asyncio.run(_demo_async(settings))
    return 0


async def _demo_async(settings: Settings) -> None:
    from convrag.graph.builder import build_graph
    from convrag.graph.context import Context
    from convrag.graph.persistence import open_checkpointer
    from convrag.knowledge.ingest import load_paths
    from convrag.nodes.models import model_name

    sample = resources.files("convrag") / "samples" / "knowledge.jsonl"
    with resources.as_file(sample) as path:
        documents = load_paths([Path(path)])
    kb = _open_kb(settings)
    try:
        report = kb.ingest(DEMO_COLLECTION, documents, progress=_progress(sys.stderr, "ingesting"))
        print(
            f"Knowledge base: collection '{DEMO_COLLECTION}' under "
            f"{settings.qdrant_url or settings.qdrant_path} — {report.documents} documents, "
            f"{report.chunks_added} chunks added, {report.chunks_unchanged} unchanged."
        )
        print(f"Chat model: {model_name(Context())}\n")
        async with open_checkpointer(settings, "memory") as saver:
            graph = build_graph(saver, knowledge=kb)
            stamp = time.strftime("%H%M%S")
            for lang, questions in DEMO_SCRIPT:
                thread = f"demo-{lang}-{stamp}"
                print(f"=== thread {thread} ===")
                for question in questions:
                    record = await _turn(graph, thread, question, DEMO_COLLECTION)
                    state = await graph.aget_state({"configurable": {"thread_id": thread}})
                    trace = state.values.get("rewrite", {})
                    print(f"you> {question}")
                    scenario = trace.get("scenario", "none")
                    mentions = ", ".join(
                        f"{m['mention'] or '∅'}→{m['antecedent']}"
                        for m in trace.get("mentions", [])
                    )
                    print(f"  resolve_coreference: {record['standalone_question']!r} "
                          f"[{scenario}{'; ' + mentions if mentions else ''}]")
                    print(f"  decide_retrieval: {record['route']}")
                    if record["route"] == "retrieve":
                        cited = ", ".join(f"[{n}] {s['title']}" for n, s in
                                          enumerate(record["sources"], start=1)) or "none"
                        print(f"  retrieve: {cited}")
                    print(f"bot> {record['answer']}\n")
    finally:
        kb.close()


if __name__ == "__main__":
    raise SystemExit(main())
