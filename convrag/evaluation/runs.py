"""Evaluation runs over JSONL data, through the same code the chat graph runs.

Two runs back the `convrag eval` commands:

- `run_rewrite_eval`: rewrite each row's follow-up into a standalone question with the
  graph's resolver and score it against the human rewrite (exact match, BLEU-4,
  ROUGE-L, restoration P/R/F1) beside the copy-the-question baseline.
- `run_retrieval_eval`: index the passages, run every turn through the compiled graph,
  and score the retrieved document ids (success@k, gold recall@k, MRR) beside two
  query baselines searched on the same store with the same k.

The scores themselves are in `convrag.evaluation.metrics`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from convrag.errors import UserError
from convrag.evaluation.metrics import (
    bleu4,
    exact_match,
    normalise,
    rate,
    restoration_micro,
    retrieval_scores,
    rouge_l,
)
from convrag.graph.builder import build_graph, build_rewrite_graph
from convrag.graph.context import Context
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.settings import OFFLINE

Progress = Callable[[int, int], None]

EVAL_COLLECTION = "convrag-eval"


# --- data ---------------------------------------------------------------------------


def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (blank lines skipped), the first `limit` only."""
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if limit is not None and len(rows) >= limit:
                    break
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(
                        f"{path}:{number} is not valid JSON ({exc.msg}): fix or remove that line."
                    ) from exc
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{number} is not a JSON object: fix that line.")
                rows.append(row)
    except FileNotFoundError as exc:
        raise UserError(f"{path} does not exist: check the path.") from exc
    return rows


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _require(row: Mapping[str, Any], path: Path, *fields: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise UserError(
            f"{path}: row {row.get('id', '?')!r} lacks {', '.join(missing)}: every row needs "
            "'id', 'history' and 'question'."
        )


def history_pairs(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A row's history as (role, content) pairs, oldest first; roles are user|assistant."""
    pairs: list[tuple[str, str]] = []
    for turn in row.get("history") or []:
        role = turn.get("role")
        if role not in ("user", "assistant"):
            raise UserError(
                f"row {row.get('id', '?')!r}: history role {role!r} is not 'user' or 'assistant'."
            )
        pairs.append((role, str(turn.get("content") or "")))
    return pairs


def to_messages(pairs: Sequence[tuple[str, str]], question: str) -> list[AnyMessage]:
    """History pairs plus the question as LangChain messages, as a thread would hold them."""
    messages: list[AnyMessage] = [
        HumanMessage(text) if role == "user" else AIMessage(text) for role, text in pairs
    ]
    messages.append(HumanMessage(question))
    return messages



# --- rewrite evaluation -------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """One rewrite: the standalone question, the gate's reasons, model calls spent."""

    text: str
    gate: tuple[str, ...]
    llm_calls: int = 0


@lru_cache(maxsize=1)
def _rewriter() -> Any:
    return build_rewrite_graph()


async def predict_rewrite(
    pairs: Sequence[tuple[str, str]],
    question: str,
    *,
    topic: str | None = None,
    model_name: str | None = None,
) -> Prediction:
    """Rewrite `question` with the graph's own resolve_coreference node.

    The node itself runs on a state holding the history and the question as messages;
    it rebuilds the discourse entities from them (`replay`) as for a thread that arrived
    without state. A row's `topic` goes in the state's `topic` field, as a caller of the
    graph would send it.
    """
    state: dict[str, Any] = {"messages": to_messages(pairs, question)}
    if topic:
        state["topic"] = topic
    context = Context(chat_model=model_name or OFFLINE)
    update = await _rewriter().ainvoke(state, context=context)
    trace = update.get("rewrite", {})
    return Prediction(
        update.get("standalone_question") or question,
        tuple(trace.get("gate", ())),
        int(update.get("llm_calls", 0)),
    )


def run_rewrite_eval(
    data: Path,
    out: Path,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """Rewrite every row of `data`, write `{"id", "prediction"}` rows to `out`, score them.

    Call it from synchronous code (it runs its own event loop), as the CLI does.

    Rows are `{"id", "history", "question", "topic"?, "rewrite"?, "needs_rewrite"?}`.
    Predictions come from the graph's resolver (`predict_rewrite`); `model_name` selects
    a chat model (`provider:model`, or a name registered with
    `nodes.models.register_chat_model`), None or "offline" the rule-based mode.

    Returns `n`, `llm_calls`, `seconds`, the gate's figures and, over rows with a
    non-null `rewrite`, `exact_match`, `bleu4`, `rouge_l`, `restoration` (micro P/R/F1)
    and `baselines.copy` (the question copied unchanged). Gate figures:
    `gate_pass_rate` is the share of rows the gate let through with no reason;
    `unchanged_rate` the share returned unchanged. With `needs_rewrite` labels the gate
    counts as *fired* on a row when the prediction differs from the question or the
    gate reported a reason; `gate_precision`/`gate_recall` score fired against
    needs_rewrite == true, and `kept_when_standalone` is the share of
    needs_rewrite == false rows returned unchanged.
    """
    rows = read_jsonl(data, limit)
    for row in rows:
        _require(row, data, "id", "question")
    started = time.perf_counter()
    predictions = asyncio.run(_predict_rows(rows, model_name, progress))
    seconds = time.perf_counter() - started
    _write_jsonl(out, ({"id": r["id"], "prediction": p.text} for r, p in zip(
        rows, predictions, strict=True)))
    return rewrite_metrics(rows, predictions, seconds=seconds)


async def _predict_rows(
    rows: Sequence[Mapping[str, Any]], model_name: str | None, progress: Progress | None
) -> list[Prediction]:
    predictions: list[Prediction] = []
    for done, row in enumerate(rows, start=1):
        question = str(row["question"])
        predictions.append(await predict_rewrite(
            history_pairs(row), question, topic=row.get("topic") or None, model_name=model_name
        ))
        if progress is not None:
            progress(done, len(rows))
    return predictions


def rewrite_metrics(
    rows: Sequence[Mapping[str, Any]], predictions: Sequence[Prediction], *, seconds: float = 0.0
) -> dict[str, Any]:
    """Scores of `predictions` against the rows (see `run_rewrite_eval` for the keys)."""
    n = len(rows)
    unchanged = [normalise(p.text) == normalise(str(r["question"]))
                 for r, p in zip(rows, predictions, strict=True)]
    metrics: dict[str, Any] = {
        "n": n,
        "llm_calls": sum(p.llm_calls for p in predictions),
        "seconds": round(seconds, 2),
        "gate_pass_rate": rate(sum(not p.gate for p in predictions), n),
        "unchanged_rate": rate(sum(unchanged), n),
    }
    scored = [(str(r["question"]), p.text, str(r["rewrite"]))
              for r, p in zip(rows, predictions, strict=True) if r.get("rewrite") is not None]
    if scored:
        questions, preds, golds = zip(*scored, strict=True)
        ours = restoration_micro(scored)
        copy = restoration_micro((q, q, g) for q, g in zip(questions, golds, strict=True))
        metrics.update(
            scored=len(scored),
            exact_match=sum(map(exact_match, preds, golds)) / len(scored),
            bleu4=bleu4(preds, golds),
            rouge_l=sum(map(rouge_l, preds, golds)) / len(scored),
            restoration={"precision": ours.precision, "recall": ours.recall, "f1": ours.f1},
            baselines={"copy": {
                "exact_match": sum(map(exact_match, questions, golds)) / len(scored),
                "bleu4": bleu4(questions, golds),
                "rouge_l": sum(map(rouge_l, questions, golds)) / len(scored),
                "restoration": {
                    "precision": copy.precision, "recall": copy.recall, "f1": copy.f1,
                },
            }},
        )
    labelled = [(bool(r["needs_rewrite"]), bool(p.gate) or not same)
                for r, p, same in zip(rows, predictions, unchanged, strict=True)
                if r.get("needs_rewrite") is not None]
    if labelled:
        fired = sum(f for _, f in labelled)
        needed = sum(w for w, _ in labelled)
        hits = sum(w and f for w, f in labelled)
        standalone = [same for r, same in zip(rows, unchanged, strict=True)
                      if r.get("needs_rewrite") is False]
        metrics.update(
            gate_precision=rate(hits, fired),
            gate_recall=rate(hits, needed),
            kept_when_standalone=rate(sum(standalone), len(standalone)),
            standalone_rows=len(standalone),
        )
    return metrics


# --- retrieval evaluation -----------------------------------------------------------


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def run_retrieval_eval(
    conversations: Path,
    passages: Path,
    out: Path,
    *,
    k: int = 5,
    model_name: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    knowledge: KnowledgeBase | None = None,
    collection: str = EVAL_COLLECTION,
) -> dict[str, Any]:
    """Index `passages`, run each conversation row through the graph, score retrieval.

    Call it from synchronous code (it runs its own event loop), as the CLI does.

    Passages are `{"id", "text", "title"?}` rows, indexed into `collection` of
    `knowledge` (by default a fresh in-memory knowledge base, closed afterwards).
    Each conversation row `{"id", "history", "question", "gold_passage_ids"?}` is one
    independent `ainvoke` of the compiled graph (no checkpointer): the history as
    messages, then the question. Writes `{"id", "standalone_question",
    "retrieved_ids"}` rows (document ids, first occurrence of each, best first).

    Returns `n`, `k`, `recall@k` (success@k: any gold in the top k), `gold_recall@k`,
    `mrr` (over rows with gold ids), `gate_skip_rate` (share of rows whose gate reported
    no reason), `respond_rate` (share routed past retrieval), `llm_calls`,
    `index_seconds`, `seconds` (the graph runs), and `baselines` with the same scores
    for the raw question, for the last and for the first user question prepended to it,
    and for the graph's standalone question alone (what the other legs add), searched
    directly on the same store with the same k.
    """
    rows = read_jsonl(conversations, limit)
    for row in rows:
        _require(row, conversations, "id", "question")
    kb = knowledge or KnowledgeBase.in_memory()
    try:
        started = time.perf_counter()
        documents = [
            SourceDocument(id=str(p["id"]), text=str(p["text"]), title=p.get("title"))
            for p in read_jsonl(passages) if p.get("text")
        ]
        kb.ingest(collection, documents)
        indexed = time.perf_counter() - started
        started = time.perf_counter()
        results = asyncio.run(_run_graph(rows, kb, collection, k, model_name, progress))
        seconds = time.perf_counter() - started
        raw, prepend, first, standalone = [], [], [], []
        for row, result in zip(rows, results, strict=True):
            question = str(row["question"])
            users = [text for role, text in history_pairs(row) if role == "user"]
            raw.append(_search_ids(kb, collection, question, k))
            last_user = users[-1] if users else ""
            prepend.append(_search_ids(kb, collection, f"{last_user} {question}".strip(), k))
            first_user = users[0] if users else ""
            first.append(_search_ids(kb, collection, f"{first_user} {question}".strip(), k))
            # The graph's rewrite alone, without fusing in the raw question.
            standalone.append(_search_ids(
                kb, collection, result["standalone_question"] or question, k
            ))
    finally:
        if knowledge is None:
            kb.close()
    _write_jsonl(out, (
        {"id": r["id"], "standalone_question": res["standalone_question"],
         "retrieved_ids": res["retrieved_ids"]}
        for r, res in zip(rows, results, strict=True)
    ))
    golds = [list(r.get("gold_passage_ids") or []) for r in rows]
    n = len(rows)
    metrics: dict[str, Any] = {"n": n, "k": k, "passages": len(documents)}
    metrics.update(retrieval_scores([r["retrieved_ids"] for r in results], golds, k))
    metrics.update(
        gate_skip_rate=rate(sum(not r["gate"] for r in results), n),
        respond_rate=rate(sum(r["route"] == "respond" for r in results), n),
        llm_calls=sum(r["llm_calls"] for r in results),
        index_seconds=round(indexed, 2),
        seconds=round(seconds, 2),
        baselines={
            "raw": retrieval_scores(raw, golds, k),
            "prepend_last_user": retrieval_scores(prepend, golds, k),
            "prepend_first_user": retrieval_scores(first, golds, k),
            "standalone_only": retrieval_scores(standalone, golds, k),
        },
    )
    return metrics


def _search_ids(kb: KnowledgeBase, collection: str, query: str, k: int) -> list[str]:
    return _unique(hit.doc_id for hit in kb.search(collection, [query], k=k))


async def _run_graph(
    rows: Sequence[Mapping[str, Any]],
    kb: KnowledgeBase,
    collection: str,
    k: int,
    model_name: str | None,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    graph = build_graph(knowledge=kb)
    context = Context(collection=collection, top_k=k, chat_model=model_name or OFFLINE)
    results: list[dict[str, Any]] = []
    for done, row in enumerate(rows, start=1):
        messages = to_messages(history_pairs(row), str(row["question"]))
        state = await graph.ainvoke({"messages": messages}, context=context)
        results.append({
            "standalone_question": state.get("standalone_question", ""),
            "retrieved_ids": _unique(
                str(d.metadata["id"]) for d in state.get("documents") or []
            ),
            "gate": list((state.get("rewrite") or {}).get("gate") or []),
            "route": state.get("route"),
            "llm_calls": int(state.get("llm_calls") or 0),
        })
        if progress is not None:
            progress(done, len(rows))
    return results
