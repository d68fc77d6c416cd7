"""Benchmark: ingest throughput and query latency of the knowledge base in local mode.

Not a test. Builds a synthetic zh + en corpus from the public MTRAG and DomainRAG passages
(../shared/data), perturbed (sentence windows, shuffled, mixed with a sentence of another
passage) so that every document is one chunk and no two are identical, then, for each size
and mode, ingests it into a fresh on-disk Qdrant local store (what `convrag ingest` uses
without QDRANT_URL) and times single-query searches the way the retrieve node runs them.

Modes: sparse (BM25 only, the default) and hybrid (BM25 + a dense vector fused with RRF in
Qdrant). The dense vectors come from the deterministic feature-hashing embedding of the
tests (tests/hash_embeddings.py, 256 dimensions): it costs almost nothing to compute, so
the hybrid figures measure Qdrant's side of hybrid search, not a model.

    .venv/bin/python bench/ingest_query.py                 # 1k, 10k and 50k chunks
    .venv/bin/python bench/ingest_query.py --sizes 1000 --queries 50

Prints a Markdown table and writes the raw figures as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qdrant_client import QdrantClient  # noqa: E402

from convrag.knowledge.ingest import SourceDocument, chunk_text  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.language.tokens import count_tokens, search_terms  # noqa: E402
from tests.hash_embeddings import HashEmbeddings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MAX_TOKENS = 200  # the product's chunk size
INTERACTIVE_P95_MS = 200.0


def _sentences(text: str) -> list[str]:
    found = [s.strip() for s in re.split(r"(?<=[。！？!?])|(?<=\.)\s+|\n+", text)]
    return [s for s in found if len(s) > 3]


def _passages() -> list[dict[str, Any]]:
    rows = []
    for name in ("mtrag", "domainrag_zh"):
        with open(DATA / name / "passages.jsonl", encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines)
    return rows


def synthetic_corpus(size: int, seed: int = 7) -> list[SourceDocument]:
    """`size` one-chunk documents: windows of real passages, shuffled and cross-mixed."""
    rng = random.Random(seed)
    passages = [p for p in _passages() if _sentences(p["text"])]
    documents = []
    for number in range(size):
        base = passages[number % len(passages)]
        sentences = _sentences(base["text"])
        start = rng.randrange(len(sentences))
        window = sentences[start : start + rng.randint(2, 6)]
        rng.shuffle(window)
        other = _sentences(rng.choice(passages)["text"])
        window.insert(rng.randrange(len(window) + 1), rng.choice(other))
        text = ""
        for sentence in window:
            joined = f"{text} {sentence}".strip()
            if count_tokens(joined) > MAX_TOKENS - 20:
                break
            text = joined
        documents.append(
            SourceDocument(id=f"syn-{number}", text=text or window[0][:100],
                           title=base.get("title"), source=base["id"])
        )
    return documents


def queries(count: int, seed: int = 11) -> list[str]:
    """Real user questions (both languages) from the conversations files."""
    rows = []
    for name in ("mtrag", "domainrag_zh"):
        with open(DATA / name / "conversations.jsonl", encoding="utf-8") as lines:
            rows.extend(json.loads(line)["question"] for line in lines)
    return random.Random(seed).sample(rows, count)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_case(size: int, hybrid: bool, questions: list[str], home: Path) -> dict[str, Any]:
    documents = synthetic_corpus(size)
    path = home / f"{'hybrid' if hybrid else 'sparse'}-{size}"
    embeddings = HashEmbeddings(dimension=256) if hybrid else None
    kb = KnowledgeBase(QdrantClient(path=str(path)), embeddings=embeddings)
    started = time.perf_counter()
    report = kb.ingest("bench", documents)
    ingest_s = time.perf_counter() - started
    kb.close()
    assert report.total_chunks == report.chunks_added, report

    started = time.perf_counter()  # what every `convrag ask` pays in local mode
    kb = KnowledgeBase(QdrantClient(path=str(path)), embeddings=embeddings)
    kb.count("bench")
    open_s = time.perf_counter() - started
    for question in questions[:5]:  # warm-up
        kb.search("bench", [question], k=5)
    latencies = []
    for question in questions:
        started = time.perf_counter()
        kb.search("bench", [question], k=5)
        latencies.append((time.perf_counter() - started) * 1000)
    kb.close()
    return {
        "chunks": report.total_chunks,
        "mode": "hybrid" if hybrid else "sparse",
        "ingest_s": round(ingest_s, 2),
        "chunks_per_s": round(report.total_chunks / ingest_s, 1),
        "open_s": round(open_s, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(_percentile(latencies, 0.95), 1),
        "queries": len(latencies),
    }


def table(results: list[dict[str, Any]]) -> str:
    base = next(r for r in results if r["mode"] == "sparse")
    lines = [
        "| chunks | mode | ingest chunks/s | × baseline | open s | query p50 ms | p95 ms | "
        "p50 × baseline | interactive (p95 ≤ 200 ms) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['chunks']:,} | {r['mode']} | {r['chunks_per_s']:,.0f} | "
            f"{r['chunks_per_s'] / base['chunks_per_s']:.2f} | {r['open_s']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p50_ms'] / base['p50_ms']:.1f} | "
            f"{'yes' if r['p95_ms'] <= INTERACTIVE_P95_MS else 'no'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--modes", nargs="+", default=["sparse", "hybrid"],
                        choices=["sparse", "hybrid"])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "ingest_query.json")
    args = parser.parse_args()
    # Chunking is the product's; check the corpus really is one chunk per document.
    sample = synthetic_corpus(200)
    assert all(len(chunk_text(d.text)) == 1 for d in sample)
    questions = queries(args.queries)
    search_terms("加载结巴词典")  # jieba loads its dictionary once; keep that out of the timings
    results = []
    with tempfile.TemporaryDirectory(prefix="convrag-bench-") as tmp:
        for size in args.sizes:
            for mode in args.modes:
                result = run_case(size, mode == "hybrid", questions, Path(tmp))
                print(json.dumps(result), file=sys.stderr, flush=True)
                results.append(result)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
