"""The `convrag` command: ingest, delete, list, migrate, ask, chat, demo, eval.

User-fixable problems end in one sentence on stderr and exit status 1 (2 for usage
errors); under --json that sentence is a JSON object {"error": ...}. Tracebacks are left
for bugs. Heavy modules (the graph, the store's engines) are imported by the commands that
use them, so `convrag --version` or a usage error answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from convrag.errors import UserError, missing_collection
from convrag.language.checks import ESCAPES, clean_question, question_problem, thread_problem
from convrag.settings import DEFAULT_COLLECTION, Settings

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

DEMO_COLLECTION = "convrag-demo"
DEMO_SCRIPT: list[tuple[str, list[str]]] = [
    ("zh", ["你好！", "尼罗河是什么？", "它有多长？", "那亚马逊河呢？", "居里夫人获得过哪些奖？",
            "她什么时候去世的？", "我刚才问了什么？", "谢谢！"]),
    ("en", ["Who was Marie Curie?", "When did she die?", "How long is the Nile?",
            "What about the Mississippi?", "Thanks!"]),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`convrag ask … | head -c 200`): stop quietly, with the
        # status a tool killed by SIGPIPE has, as other command-line tools do.
        _drop_stdout()
        return 128 + signal.SIGPIPE


def _main(argv: Sequence[str] | None) -> int:
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
        _print_error(str(exc), getattr(args, "json", False))
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit fails no more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass


# ANSI/VT escape sequences (CSI, OSC), then single C0 and C1 control characters other than
# tab and newline; carriage return is listed apart, because the progress bar needs it.
_CONTROLS = re.compile(ESCAPES + r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_AND_CR = re.compile(ESCAPES + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


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


def _print_error(sentence: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": sentence}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"convrag: {sentence}", file=sys.stderr)


# Qdrant's own rule for collection names, narrowed to what is also a safe folder name for
# the embedded store's one shard folder per collection.
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def collection_name(value: str) -> str:
    """An argparse type: a collection name, or one sentence on what a valid name is."""
    if not _COLLECTION_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a valid collection name: use 1 to 128 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit"
        )
    return value


def top_k(value: str) -> int:
    """An argparse type: a number of passages from 1 to 50."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 50:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of passages from 1 to 50")
    return number


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors honour --json: one JSON object on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        if "--json" in sys.argv[1:]:
            print(json.dumps({"error": f"{message}."}, ensure_ascii=False), file=sys.stderr)
            raise SystemExit(2)
        super().error(message)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("convrag")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convrag",
        description="Multi-turn conversational RAG: follow-up questions resolved, answers cited.",
    )
    parser.add_argument("--version", action="version", version=f"convrag {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    def collection(command: argparse.ArgumentParser) -> None:
        command.add_argument("--collection", default=DEFAULT_COLLECTION, type=collection_name)

    ingest = sub.add_parser("ingest", help="add files or folders to the knowledge base")
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH", help=".txt .md .html .pdf .jsonl files or folders"
    )
    collection(ingest)
    ingest.add_argument("--tenant", default=None, help="tag the documents with a tenant id")
    ingest.add_argument(
        "--prune", action="store_true",
        help="remove documents (of this tenant) stored from under the PATHs that are not "
        "there any more",
    )
    ingest.add_argument("--dry-run", action="store_true",
                        help="list what would change and change nothing")
    ingest.add_argument("--strict", action="store_true",
                        help="stop at the first bad file or line instead of skipping it")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(run=_ingest)

    delete = sub.add_parser("delete", help="remove documents from the knowledge base by id")
    delete.add_argument("ids", nargs="+", metavar="ID", help="document ids, as `sources[].id`")
    collection(delete)
    delete.add_argument("--tenant", default=None, help="only the documents of this tenant")
    delete.add_argument("--json", action="store_true", help="print one JSON object")
    delete.set_defaults(run=_delete)

    listing = sub.add_parser("list", help="the documents of a collection, and its size")
    collection(listing)
    listing.add_argument("--tenant", default=None, help="only the documents of this tenant")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(run=_list)

    migrate = sub.add_parser(
        "migrate", help="move a knowledge base made by an earlier version to Qdrant Edge"
    )
    migrate.add_argument("--json", action="store_true", help="print one JSON object")
    migrate.set_defaults(run=_migrate)

    ask = sub.add_parser("ask", help="one turn on a thread (created if new, resumed if not)")
    ask.add_argument("--thread", required=True, metavar="ID")
    collection(ask)
    ask.add_argument("--tenant", default="", help="only documents ingested for this tenant")
    ask.add_argument("--top-k", type=top_k, default=None, metavar="K",
                     help="passages to retrieve (default: the graph's, 5)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _model_timeout_option(ask)
    ask.add_argument("question", nargs="+")
    ask.set_defaults(run=_ask)

    chat = sub.add_parser("chat", help="interactive chat with streaming answers")
    chat.add_argument("--thread", default=None, metavar="ID", help="resume or name a thread")
    collection(chat)
    chat.add_argument("--tenant", default="", help="only documents ingested for this tenant")
    chat.add_argument("--top-k", type=top_k, default=None, metavar="K",
                      help="passages to retrieve (default: the graph's, 5)")
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
    """Progress on stderr: a bar redrawn in place on a terminal, else a line per tenth."""
    interactive = stream.isatty()
    shown = {-1}

    def report(done: int, total: int) -> None:
        if interactive:
            width = 30
            filled = int(width * done / max(total, 1))
            stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                stream.write("\n")
            stream.flush()
            return
        # Logs and CI capture every line, so only each tenth (and the last) is written.
        tenth = 10 * done // max(total, 1)
        if tenth not in shown:
            shown.add(tenth)
            stream.write(f"{label}: {done}/{total}\n")
            stream.flush()

    return report


def _context(args: argparse.Namespace) -> Any:
    """The run's Context from the command's --collection, --tenant and --top-k."""
    from convrag.graph.context import Context

    chosen: dict[str, Any] = {"collection": args.collection, "tenant": args.tenant}
    if args.top_k is not None:
        chosen["top_k"] = args.top_k
    return Context(**chosen)


async def _turn(graph: Any, thread: str, question: str, context: Any) -> dict[str, Any]:
    from convrag.graph.retention import TURN_DURABILITY, prune_thread

    config: RunnableConfig = {"configurable": {"thread_id": thread}}
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
    from convrag.knowledge.ingest import collect

    settings = Settings.from_env()
    # Ids are paths from the folder that holds the knowledge base's data, so they do not
    # depend on the folder argument or the working directory (see DESIGN, ingest).
    loaded = collect(args.paths, root=settings.home.expanduser().resolve().parent)
    if loaded.problems and args.strict:
        more = len(loaded.problems) - 1
        raise UserError(
            loaded.problems[0] + (f" ({more} more bad files or lines.)" if more else "")
        )
    for problem in loaded.problems:
        print(f"convrag: skipped: {problem}", file=sys.stderr)
    if not any(d.text.strip() for d in loaded.documents) and not loaded.problems:
        joined = ", ".join(args.paths)
        raise UserError(f"Every document found in {joined} is empty: give files with text.")
    kb = _open_kb(settings)
    try:
        report = kb.ingest(
            args.collection, loaded.documents, tenant=args.tenant, prune=args.prune,
            prune_scope=loaded.in_scope, dry_run=args.dry_run,
            progress=_progress(sys.stderr, "ingesting"),
        )
    finally:
        kb.close()
    extra = {"skipped": len(loaded.problems), "problems": loaded.problems}
    if args.dry_run:
        extra.update(dry_run=True, would_change=list(report.changed),
                     would_remove=list(report.pruned))
    elif args.prune:
        extra["pruned"] = list(report.pruned)
    if args.json:
        print(json.dumps({**report.as_dict(), **extra}, ensure_ascii=False))
        return 0
    if args.dry_run:
        for doc_id in report.changed:
            print(f"would add or update: {doc_id}")
        for doc_id in report.pruned:
            print(f"would remove: {doc_id}")
    _print_report(report, False, skipped=len(loaded.problems), dry_run=args.dry_run)
    return 0


def _delete(args: argparse.Namespace) -> int:
    kb = _open_kb(Settings.from_env())
    try:
        report = kb.delete(args.collection, args.ids, tenant=args.tenant)
        unknown = sorted(set(args.ids) - set(report.pruned))
        if unknown and not report.pruned:
            # `convrag list` shows every tenant's documents, so an id it lists can still
            # be unknown here: say which tenant holds it rather than send the user there.
            held = {d.id: d.tenant for d in kb.documents(args.collection, all_tenants=True)
                    if d.id in unknown}
            if held:
                doc_id, owner = next(iter(sorted(held.items())))
                scope = f"under tenant '{args.tenant}'" if args.tenant else "without a tenant"
                fix = (f"it is stored under tenant '{owner}', so add --tenant {owner}" if owner
                       else "it is stored without a tenant, so leave --tenant out")
                raise UserError(f"No document with the id {doc_id!r} is in the collection "
                                f"'{args.collection}' {scope}: {fix}.")
    finally:
        kb.close()
    if unknown and not report.pruned:
        raise UserError(
            f"No document with the id {', '.join(map(repr, unknown))} is in the collection "
            f"'{args.collection}': `convrag list` shows the ids it has."
        )
    if args.json:
        print(json.dumps({**report.as_dict(), "deleted": list(report.pruned),
                          "unknown": unknown}, ensure_ascii=False))
        return 0
    if unknown:
        print(f"convrag: not found, left alone: {', '.join(unknown)}", file=sys.stderr)
    _print_report(report, False)
    return 0


def _print_report(report: Any, as_json: bool, *, skipped: int = 0,
                  dry_run: bool = False) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    verb = "would be" if dry_run else ""
    line = (
        f"{report.collection}: {report.documents} documents, {report.chunks_added} chunks "
        f"{verb + ' ' if verb else ''}added, {report.chunks_unchanged} unchanged, "
        f"{report.chunks_removed} {verb + ' ' if verb else ''}removed, "
        f"{report.total_chunks} in total"
    )
    if skipped:
        line += f", {skipped} bad files or lines skipped"
    print(line + (" (dry run: nothing changed)" if dry_run else ""))


def _list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    kb = _open_kb(settings)
    try:
        documents = kb.documents(args.collection, tenant=args.tenant,
                                 all_tenants=args.tenant is None)
        chunks = kb.count(args.collection)
        hybrid = kb.backend.dense_size(args.collection) is not None
    finally:
        kb.close()
    stats = {
        "collection": args.collection,
        "documents": len(documents),
        "chunks": chunks,
        "search": "hybrid" if hybrid else "bm25",
        "store": settings.qdrant_url or str(settings.edge_path),
    }
    if args.json:
        rows = [
            {"id": d.id, "title": d.title, "source": d.source, "tenant": d.tenant,
             "chunks": d.chunks}
            for d in documents
        ]
        print(json.dumps({**stats, "items": rows}, ensure_ascii=False))
        return 0
    for d in documents:
        owner = f" [tenant {d.tenant}]" if d.tenant else ""
        print(f"{d.id}\t{d.title or ''}\t{d.source or ''}\t{d.chunks} chunks{owner}")
    print(f"{stats['collection']}: {stats['documents']} documents, {chunks} chunks, "
          f"{stats['search']} search, in {stats['store']}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from convrag.knowledge.migrate import migrate

    settings = Settings.from_env()
    if settings.qdrant_url:
        raise UserError("QDRANT_URL is set: `convrag migrate` moves the embedded store under "
                        "CONVRAG_HOME; unset QDRANT_URL to run it.")

    def report(name: str, points: int) -> None:
        print(f"migrated collection '{name}': {points} chunks", file=sys.stderr)

    moved = migrate(settings, progress=report)
    backup = settings.qdrant_path.with_name(settings.qdrant_path.name + ".before-edge")
    if args.json:
        print(json.dumps({"collections": moved, "store": str(settings.edge_path),
                          "old_store": str(backup)}, ensure_ascii=False))
    else:
        print(f"Moved {len(moved)} collections to {settings.edge_path}; the old store is "
              f"kept at {backup} until you delete it.")
    return 0


def _ask(args: argparse.Namespace) -> int:
    _check_thread(args.thread)
    question = clean_question(" ".join(args.question))
    problem = question_problem(question)
    if problem:
        raise UserError(problem)
    settings = Settings.from_env()
    record = asyncio.run(_ask_async(settings, args.thread, question, _context(args)))
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        _print_turn(record)
    return 0


async def _ask_async(
    settings: Settings, thread: str, question: str, context: Any
) -> dict[str, Any]:
    from convrag.graph.builder import build_graph
    from convrag.graph.persistence import open_checkpointer

    kb = _open_kb(settings)
    try:
        _require_collection(kb, context.collection)
        async with open_checkpointer(settings) as saver:
            graph = build_graph(saver, knowledge=kb)
            return await _turn(graph, thread, question, context)
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
    thread = f"chat-{uuid.uuid4().hex[:8]}" if args.thread is None else args.thread
    _check_thread(thread)
    settings = Settings.from_env()
    asyncio.run(_chat_async(settings, thread, _context(args)))
    return 0


def _check_thread(thread: str) -> None:
    """Refuse a thread id the graph would refuse, before anything is opened."""
    problem = thread_problem(thread)
    if problem:
        raise UserError(problem)


async def _chat_async(settings: Settings, thread: str, context: Any) -> None:
    from convrag.graph.builder import build_graph
    from convrag.graph.persistence import open_checkpointer

    kb = _open_kb(settings)
    try:
        _require_collection(kb, context.collection)
        async with open_checkpointer(settings) as saver:
            graph = build_graph(saver, knowledge=kb)
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            state = await graph.aget_state(config)
            seen = len(state.values.get("messages", [])) if state.values else 0
            status = f"resuming ({seen} messages)" if seen else "new thread"
            print(f"convrag chat — thread {thread}, {status}. Empty line or Ctrl-D to quit.")
            while True:
                try:
                    typed = input("you> ")
                except EOFError:
                    print()
                    break
                if not typed.strip():
                    break
                # A line of control characters only is an empty question, not the end.
                question = clean_question(typed).strip()
                problem = question_problem(question)
                if problem:
                    print(f"convrag: {problem}")
                    continue
                await _stream_turn(graph, config, question, context)
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
            f"{settings.qdrant_url or settings.edge_path} — {report.documents} documents, "
            f"{report.chunks_added} chunks added, {report.chunks_unchanged} unchanged."
        )
        print(f"Chat model: {model_name(Context())}\n")
        context = Context(collection=DEMO_COLLECTION)
        async with open_checkpointer(settings, "memory") as saver:
            graph = build_graph(saver, knowledge=kb)
            stamp = time.strftime("%H%M%S")
            for lang, questions in DEMO_SCRIPT:
                thread = f"demo-{lang}-{stamp}"
                print(f"=== thread {thread} ===")
                for question in questions:
                    record = await _turn(graph, thread, question, context)
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
