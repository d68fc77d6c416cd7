"""Evaluation runs over JSONL data, through the same code the chat graph runs.

Two runs back the `convrag eval` commands:

- `run_rewrite_eval`: rewrite each row's follow-up into a standalone question with the
  graph's resolver and score it against the human rewrite (exact match, BLEU-4,
  ROUGE-L, restoration P/R/F1) beside the copy-the-question baseline.
- `run_retrieval_eval`: index the passages, run every turn through the compiled graph,
  and score the retrieved document ids (success@k, gold recall@k, MRR) beside two
  query baselines searched on the same store with the same k.

Most of a rewrite is copied from the question, so BLEU and ROUGE-L reward copying;
restoration F1 (over the tokens the rewrite adds) and retrieval recall say more.
The metric functions are pure and documented with their conventions.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from convrag.errors import UserError
from convrag.graph.builder import build_graph, build_rewrite_graph
from convrag.graph.context import Context
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.settings import OFFLINE

Progress = Callable[[int, int], None]

EVAL_COLLECTION = "convrag-eval"

# One token per CJK ideograph (and CJK-compatible kana/hangul), one per Latin/digit word.
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
    r"|[a-z0-9]+(?:['’][a-z]+)?"
)


# --- metrics ------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Evaluation tokens: each Chinese character, each lower-cased English word.

    Punctuation and whitespace are dropped, so "尼罗河有多长？" and "尼罗河 有多长" tokenize
    alike; Latin words inside Chinese text ("iphonex好不好") stay whole words.
    """
    return _TOKEN.findall(text.lower())


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def exact_match(pred: str, gold: str) -> float:
    """1.0 when prediction and gold are equal after lower-casing and collapsing whitespace."""
    return 1.0 if _normalise(pred) == _normalise(gold) else 0.0


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu4(preds: Sequence[str], golds: Sequence[str]) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002) with one reference per prediction.

    Clipped n-gram matches and candidate n-gram counts are summed over the corpus for
    n = 1..4; the score is the geometric mean of the four precisions times the brevity
    penalty exp(1 - r/c) when the candidates are shorter than the references (c < r).
    Smoothing: add-one on the n > 1 precisions (Lin & Och 2004, "BLEU+1"), so a corpus
    of short sentences with no 4-gram match does not collapse to 0; unigram precision is
    not smoothed, so a prediction sharing no token with its reference scores 0.
    Tokens come from `tokenize` (characters for Chinese, words for English).
    """
    if len(preds) != len(golds):
        raise ValueError("bleu4 needs one gold per prediction")
    matches = [0] * 4
    totals = [0] * 4
    pred_len = gold_len = 0
    for pred, gold in zip(preds, golds, strict=True):
        p, g = tokenize(pred), tokenize(gold)
        pred_len += len(p)
        gold_len += len(g)
        for n in range(1, 5):
            cand, ref = _ngrams(p, n), _ngrams(g, n)
            matches[n - 1] += sum(min(c, ref[gram]) for gram, c in cand.items())
            totals[n - 1] += max(0, len(p) - n + 1)
    if pred_len == 0 or matches[0] == 0:
        return 0.0
    log_precision = math.log(matches[0] / totals[0])
    for n in range(1, 4):
        log_precision += math.log((matches[n] + 1) / (totals[n] + 1))
    brevity = 1.0 if pred_len >= gold_len else math.exp(1 - gold_len / pred_len)
    return brevity * math.exp(log_precision / 4)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(row[j], row[j - 1])
            diagonal = above
    return row[-1]


def rouge_l(pred: str, gold: str) -> float:
    """ROUGE-L F1 (beta = 1) on the longest common subsequence of `tokenize` tokens.

    P = LCS / |pred|, R = LCS / |gold|, F = 2PR / (P + R); 0.0 when either side is
    empty (1.0 when both are).
    """
    p, g = tokenize(pred), tokenize(gold)
    if not p or not g:
        return 1.0 if not p and not g else 0.0
    common = _lcs(p, g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Restoration:
    """Restored-token counts of one row: what both added, what each side added."""

    overlap: int
    predicted: int
    gold: int

    def __add__(self, other: Restoration) -> Restoration:
        return Restoration(
            self.overlap + other.overlap, self.predicted + other.predicted,
            self.gold + other.gold,
        )


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1."""

    precision: float
    recall: float
    f1: float


def added_tokens(question: str, rewrite: str) -> Counter[str]:
    """Tokens the rewrite adds to the question: the multiset difference rewrite − question."""
    return Counter(tokenize(rewrite)) - Counter(tokenize(question))


def restoration_counts(question: str, pred: str, gold: str) -> Restoration:
    """Counts for restoration scores of one row (see `restoration_f1`)."""
    predicted, wanted = added_tokens(question, pred), added_tokens(question, gold)
    return Restoration(
        overlap=sum((predicted & wanted).values()),
        predicted=sum(predicted.values()),
        gold=sum(wanted.values()),
    )


def prf(counts: Restoration) -> PRF:
    """Precision/recall/F1 from summed restoration counts (micro-averaging).

    Nothing to restore and nothing restored is a perfect 1/1/1; otherwise an empty
    denominator gives 0 for that side (a prediction that restores nothing has
    precision 0, not "undefined").
    """
    if counts.predicted == 0 and counts.gold == 0:
        return PRF(1.0, 1.0, 1.0)
    precision = counts.overlap / counts.predicted if counts.predicted else 0.0
    recall = counts.overlap / counts.gold if counts.gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def restoration_f1(question: str, pred: str, gold: str) -> PRF:
    """Restoration precision/recall/F1 of one row (Pan et al. 2019).

    The restored tokens of a rewrite are those it adds to the question (multiset
    difference, `added_tokens`): characters for Chinese, lower-cased words for English,
    punctuation and spaces ignored. P = |pred ∩ gold| / |pred added|,
    R = |pred ∩ gold| / |gold added|. A row where neither side adds anything scores
    1/1/1. For a corpus, use `restoration_micro`: as in Pan et al., counts are summed
    over all rows before dividing (micro-average), so such rows add nothing and long
    restorations weigh more than short ones.
    """
    return prf(restoration_counts(question, pred, gold))


def restoration_micro(rows: Iterable[tuple[str, str, str]]) -> PRF:
    """Micro-averaged restoration P/R/F1 over (question, prediction, gold) rows."""
    total = Restoration(0, 0, 0)
    for question, pred, gold in rows:
        total += restoration_counts(question, pred, gold)
    return prf(total)


def recall_at_k(retrieved_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """Success@k: 1.0 when any gold id is among the first k retrieved, else 0.0.

    This is the "recall@k" usual for conversational sets with one (or a few
    interchangeable) gold passages per turn; see `gold_recall_at_k` for the share of
    golds found.
    """
    gold = set(gold_ids)
    return 1.0 if any(r in gold for r in retrieved_ids[:k]) else 0.0


def gold_recall_at_k(retrieved_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """The fraction of distinct gold ids found among the first k retrieved (0.0 with no golds)."""
    gold = set(gold_ids)
    if not gold:
        return 0.0
    return len(gold & set(retrieved_ids[:k])) / len(gold)


def mrr(retrieved_ids: Sequence[str], gold_ids: Iterable[str]) -> float:
    """Reciprocal rank of the first gold id in the ranking (0.0 when none is retrieved).

    The cutoff is the ranking's own length, so a run of k results gives MRR@k.
    """
    gold = set(gold_ids)
    for rank, doc_id in enumerate(retrieved_ids, start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


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


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


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
    unchanged = [_normalise(p.text) == _normalise(str(r["question"]))
                 for r, p in zip(rows, predictions, strict=True)]
    metrics: dict[str, Any] = {
        "n": n,
        "llm_calls": sum(p.llm_calls for p in predictions),
        "seconds": round(seconds, 2),
        "gate_pass_rate": _rate(sum(not p.gate for p in predictions), n),
        "unchanged_rate": _rate(sum(unchanged), n),
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
            gate_precision=_rate(hits, fired),
            gate_recall=_rate(hits, needed),
            kept_when_standalone=_rate(sum(standalone), len(standalone)),
            standalone_rows=len(standalone),
        )
    return metrics


# --- retrieval evaluation -----------------------------------------------------------


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def retrieval_scores(
    runs: Sequence[Sequence[str]], golds: Sequence[Sequence[str]], k: int
) -> dict[str, Any]:
    """recall@k (success@k), gold_recall@k and MRR averaged over rows that have golds."""
    pairs = [(r, g) for r, g in zip(runs, golds, strict=True) if g]
    n = len(pairs)
    return {
        "scored": n,
        "recall@k": _rate(sum(recall_at_k(r, g, k) for r, g in pairs), n),
        "gold_recall@k": _rate(sum(gold_recall_at_k(r, g, k) for r, g in pairs), n),
        "mrr": _rate(sum(mrr(r[:k], g) for r, g in pairs), n),
    }


def _last_user(pairs: Sequence[tuple[str, str]]) -> str:
    return next((text for role, text in reversed(pairs) if role == "user"), "")


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
    for the raw question, for the last user question prepended to it, and for the
    graph's standalone question alone (what fusing in the raw question adds), searched
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
        raw, prepend, standalone = [], [], []
        for row, result in zip(rows, results, strict=True):
            question = str(row["question"])
            last = _last_user(history_pairs(row))
            raw.append(_search_ids(kb, collection, question, k))
            prepend.append(_search_ids(kb, collection, f"{last} {question}".strip(), k))
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
        gate_skip_rate=_rate(sum(not r["gate"] for r in results), n),
        respond_rate=_rate(sum(r["route"] == "respond" for r in results), n),
        llm_calls=sum(r["llm_calls"] for r in results),
        index_seconds=round(indexed, 2),
        seconds=round(seconds, 2),
        baselines={
            "raw": retrieval_scores(raw, golds, k),
            "prepend_last_user": retrieval_scores(prepend, golds, k),
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


# --- report -------------------------------------------------------------------------


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A compact table of a metrics dict for the terminal.

    Plain figures come first, one per line; then, when there are `baselines`, each
    scored metric side by side: this run, then every baseline. Nested keys are dotted.
    """
    baselines: Mapping[str, Mapping[str, Any]] = metrics.get("baselines") or {}
    own = dict(_flatten({k: v for k, v in metrics.items() if k != "baselines"}))
    columns = {name: dict(_flatten(values)) for name, values in baselines.items()}
    compared = list(dict.fromkeys(key for values in columns.values() for key in values))
    compared = [key for key in compared if key in own]
    plain = [(key, value) for key, value in own.items() if key not in compared]
    width = max((len(key) for key in own), default=0)
    lines = [f"{key:<{width}}  {_cell(value)}" for key, value in plain]
    if compared:
        header = ["run", *columns]
        cell_width = max(10, *(len(h) for h in header))
        lines.append("")
        lines.append(" " * width + "  " + "  ".join(f"{h:>{cell_width}}" for h in header))
        for key in compared:
            cells = [own[key], *(values.get(key) for values in columns.values())]
            lines.append(
                f"{key:<{width}}  " + "  ".join(f"{_cell(c):>{cell_width}}" for c in cells)
            )
    return "\n".join(lines)
