"""Benchmark: the retriever alone against plain Okapi BM25 on the same passages.

Not a test. For MTRAG (en) and DomainRAG (zh) in ../shared/data, every passage is indexed
(`KnowledgeBase.ingest`: chunks of 200 tokens, BM25 vectors with Qdrant's IDF, title
prepended) and each question is searched alone (one query, k=5, best chunk per passage),
in Qdrant Edge (the embedded store) and, as the earlier store, in qdrant-client's local mode.
The reference is `rank_bm25.BM25Okapi` (k1=1.2, b=0.75, whole passages, title + text) with
two tokenizations: convrag's own search terms (jieba for zh, Snowball stems for en,
stopwords dropped) and a plain one (lower-cased words for en, single characters for zh).

Rows: the first turns of each conversation (no history, so no rewriting is involved) —
what the issue asks for — and, as a larger sample for the same comparison, every turn
searched with its raw question (follow-ups unresolved, so lower for both; the data has no
human rewrites). Only turns with gold passages count.

    .venv/bin/python bench/retrieval_quality.py
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rank_bm25 import BM25Okapi  # noqa: E402

from convrag.knowledge.ingest import SourceDocument  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.language.tokens import search_terms  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
K = 5
_PLAIN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]+")


def plain_tokens(text: str) -> list[str]:
    """Whitespace-style words for English, one token per character for Chinese."""
    return _PLAIN.findall(text.lower())


def _load(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def rows(file: str) -> list[dict[str, Any]]:
        with open(DATA / name / file, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines]

    return rows("passages.jsonl"), rows("conversations.jsonl")


def _indexed(passage: dict[str, Any]) -> str:
    title = passage.get("title")
    return f"{title}\n{passage['text']}" if title else passage["text"]


def recall(rankings: list[list[str]], golds: list[set[str]]) -> float:
    hits = sum(1 for ranked, gold in zip(rankings, golds, strict=True) if gold & set(ranked[:K]))
    return hits / len(golds) if golds else 0.0


def bm25_rankings(
    passages: list[dict[str, Any]], questions: list[str], tokenize: Callable[[str], list[str]]
) -> list[list[str]]:
    index = BM25Okapi([tokenize(_indexed(p)) for p in passages], k1=1.2, b=0.75)
    ids = [p["id"] for p in passages]
    rankings = []
    for question in questions:
        scores = index.get_scores(tokenize(question))
        best = sorted(range(len(ids)), key=lambda i: -scores[i])[:K]
        rankings.append([ids[i] for i in best if scores[i] > 0])
    return rankings


def evaluate(name: str) -> dict[str, Any]:
    passages, conversations = _load(name)
    documents = [SourceDocument(id=p["id"], text=p["text"], title=p.get("title"))
                 for p in passages]
    stores = {"edge": KnowledgeBase.in_memory(), "local": KnowledgeBase.local_mode()}
    for kb in stores.values():
        kb.ingest(name, documents)
    samples = {
        "first turns": [(r["question"], r) for r in conversations if not r["history"]],
        "all turns, raw question": [(r["question"], r) for r in conversations],
    }
    out: dict[str, Any] = {"dataset": name, "passages": len(passages)}
    for label, rows in samples.items():
        rows = [(q, r) for q, r in rows if r.get("gold_passage_ids")]
        questions = [q for q, _ in rows]
        golds = [set(r["gold_passage_ids"]) for _, r in rows]
        found = {
            store: [[h.doc_id for h in kb.search(name, [q], k=K)] for q in questions]
            for store, kb in stores.items()
        }
        out[label] = {
            "n": len(rows),
            "convrag": round(recall(found["edge"], golds), 3),
            "convrag local mode": round(recall(found["local"], golds), 3),
            "bm25 same tokens": round(recall(bm25_rankings(passages, questions, search_terms),
                                             golds), 3),
            "bm25 plain tokens": round(recall(bm25_rankings(passages, questions, plain_tokens),
                                              golds), 3),
        }
    for kb in stores.values():
        kb.close()
    return out


def main() -> int:
    results = [evaluate("mtrag"), evaluate("domainrag_zh")]
    print(f"| data | sample | n | convrag recall@{K} (Qdrant Edge) | convrag (local mode) | "
          "BM25 (same tokens) | BM25 (plain tokens) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for result in results:
        for label in ("first turns", "all turns, raw question"):
            row = result[label]
            print(f"| {result['dataset']} ({result['passages']} passages) | {label} | {row['n']} "
                  f"| {row['convrag']:.3f} | {row['convrag local mode']:.3f} "
                  f"| {row['bm25 same tokens']:.3f} "
                  f"| {row['bm25 plain tokens']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
