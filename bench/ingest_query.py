"""Benchmark: ingest throughput, open time and query latency, Qdrant Edge against local mode.

Not a test. Builds a synthetic zh + en corpus from the public MTRAG and DomainRAG passages
(../shared/data), perturbed (sentence windows, shuffled, mixed with a sentence of another
passage) so that every document is one chunk and no two are identical. For each size and
store it ingests the corpus into a fresh on-disk store (a tenth of it under tenant "small",
the rest under "big"), reopens it, and times single-query searches the way the retrieve
node runs them: sparse (BM25), hybrid (BM25 + dense, RRF) and filtered (BM25 within the
small tenant).

Stores: Qdrant Edge (the embedded default) and qdrant-client's local mode (the embedded
store of earlier versions, the baseline), both in the same run. Local mode scans every point per
query and commits every point on ingest, so it runs up to --local-max chunks (hybrid up to
--local-hybrid-max) and with fewer queries past 10k.

The dense vectors come from the deterministic feature-hashing embedding of the tests
(tests/hash_embeddings.py, 256 dimensions): it costs little to compute, so the hybrid
figures measure Qdrant's side of hybrid search, not a model.

First, `convrag ingest` of the MTRAG passages: the command on Qdrant Edge against the same
loading and ingest code on local mode (what the command did before Qdrant Edge), one after
the other.

    .venv/bin/python bench/ingest_query.py                 # 1k, 10k, 50k and 200k chunks
    .venv/bin/python bench/ingest_query.py --sizes 1000 --queries 50

Prints Markdown tables and writes the raw figures as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convrag.knowledge.edge import EdgeBackend  # noqa: E402
from convrag.knowledge.ingest import SourceDocument, chunk_text  # noqa: E402
from convrag.knowledge.store import KnowledgeBase  # noqa: E402
from convrag.language.tokens import count_tokens, search_terms  # noqa: E402
from tests.hash_embeddings import HashEmbeddings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MAX_TOKENS = 200  # the product's chunk size


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


def _time_queries(kb: KnowledgeBase, questions: list[str], tenant: str | None) -> list[float]:
    for question in questions[:3]:  # warm-up
        kb.search("bench", [question], k=5, tenant=tenant)
    latencies = []
    for question in questions:
        started = time.perf_counter()
        kb.search("bench", [question], k=5, tenant=tenant)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _open(store: str, path: Path, embeddings: HashEmbeddings | None) -> KnowledgeBase:
    if store == "edge":
        return KnowledgeBase(EdgeBackend(path), embeddings=embeddings)
    return KnowledgeBase.local_mode(path, embeddings)


def run_case(
    store: str, size: int, hybrid: bool, questions: list[str], home: Path
) -> dict[str, Any]:
    documents = synthetic_corpus(size)
    small = len(documents) // 10
    path = home / f"{store}-{'hybrid' if hybrid else 'sparse'}-{size}"
    embeddings = HashEmbeddings(dimension=256) if hybrid else None
    kb = _open(store, path, embeddings)
    started = time.perf_counter()
    first = kb.ingest("bench", documents[:small], tenant="small", batch_size=256)
    second = kb.ingest("bench", documents[small:], tenant="big", batch_size=256)
    ingest_s = time.perf_counter() - started
    kb.close()
    chunks = first.chunks_added + second.chunks_added
    assert second.total_chunks == chunks, second

    started = time.perf_counter()  # what every `convrag ask` pays before its first search
    kb = _open(store, path, embeddings)
    kb.count("bench")
    open_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "store": store,
        "chunks": chunks,
        "mode": "hybrid" if hybrid else "sparse",
        "ingest_s": round(ingest_s, 2),
        "chunks_per_s": round(chunks / ingest_s, 1),
        "open_s": round(open_s, 3),
        "queries": len(questions),
    }
    kinds = [("hybrid", None)] if hybrid else [("sparse", None), ("filtered", "small")]
    for kind, tenant in kinds:
        latencies = _time_queries(kb, questions, tenant)
        result[f"{kind}_p50_ms"] = round(statistics.median(latencies), 2)
        result[f"{kind}_p95_ms"] = round(_percentile(latencies, 0.95), 2)
    kb.close()
    return result


def cli_ingest(home: Path) -> dict[str, Any]:
    """`convrag ingest` of the MTRAG passages on Qdrant Edge, against local mode."""
    passages = DATA / "mtrag" / "passages.jsonl"
    env = {**os.environ, "CONVRAG_HOME": str(home / "cli")}
    env.pop("QDRANT_URL", None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "convrag.cli", "ingest", str(passages), "--json"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )
    edge_s = time.perf_counter() - started
    chunks = json.loads(done.stdout)["total_chunks"]
    # The same command before Qdrant Edge: load, then ingest into local mode, in a fresh process.
    script = (
        "import sys; from pathlib import Path; "
        "from convrag.knowledge.ingest import load_paths; "
        "from convrag.knowledge.store import KnowledgeBase; "
        "kb = KnowledgeBase.local_mode(Path(sys.argv[2])); "
        "print(kb.ingest('convrag', load_paths([sys.argv[1]])).total_chunks); kb.close()"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(passages), str(home / "cli-local")],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )
    local_s = time.perf_counter() - started
    assert int(done.stdout) == chunks
    return {
        "chunks": chunks,
        "edge_s": round(edge_s, 2),
        "edge_chunks_per_s": round(chunks / edge_s, 1),
        "local_s": round(local_s, 2),
        "local_chunks_per_s": round(chunks / local_s, 1),
        "speedup": round(local_s / edge_s, 2),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| chunks | store | mode | ingest chunks/s | open s | p50 ms | p95 ms | "
        "filtered p50 ms | filtered p95 ms | queries |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        kind = r["mode"]
        filtered = (
            f"{r['filtered_p50_ms']:.2f} | {r['filtered_p95_ms']:.2f}"
            if "filtered_p50_ms" in r else "– | –"
        )
        lines.append(
            f"| {r['chunks']:,} | {r['store']} | {kind} | {r['chunks_per_s']:,.0f} | "
            f"{r['open_s']:.3f} | {r[f'{kind}_p50_ms']:.2f} | {r[f'{kind}_p95_ms']:.2f} | "
            f"{filtered} | {r['queries']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000, 200000])
    parser.add_argument("--modes", nargs="+", default=["sparse", "hybrid"],
                        choices=["sparse", "hybrid"])
    parser.add_argument("--stores", nargs="+", default=["edge", "local"],
                        choices=["edge", "local"])
    parser.add_argument("--local-max", type=int, default=50000,
                        help="largest size run on local mode")
    # Local mode commits every point to SQLite (about 50 points/s on this machine's disk), so
    # its hybrid case stops earlier to keep a whole run under an hour.
    parser.add_argument("--local-hybrid-max", type=int, default=10000,
                        help="largest size run on local mode with hybrid search")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-cli", action="store_true", help="skip the `convrag ingest` case")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "ingest_query.json")
    args = parser.parse_args()
    # Chunking is the product's; check the corpus really is one chunk per document.
    sample = synthetic_corpus(200)
    assert all(len(chunk_text(d.text)) == 1 for d in sample)
    questions = queries(args.queries)
    search_terms("加载结巴词典")  # jieba loads its dictionary once; keep that out of the timings
    results = []
    cli: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="convrag-bench-") as tmp:
        if not args.no_cli:
            cli = cli_ingest(Path(tmp))
            print(json.dumps(cli), file=sys.stderr, flush=True)
        for size in args.sizes:
            for store in args.stores:
                if store == "local" and size > args.local_max:
                    continue
                # Local mode takes about a second per query at 50k: fewer queries there.
                asked = questions if store == "edge" or size <= 10000 else questions[:20]
                for mode in args.modes:
                    if store == "local" and mode == "hybrid" and size > args.local_hybrid_max:
                        continue
                    result = run_case(store, size, mode == "hybrid", asked, Path(tmp))
                    print(json.dumps(result), file=sys.stderr, flush=True)
                    results.append(result)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.out.write_text(
        json.dumps({"machine": machine, "cli_ingest": cli, "results": results}, indent=1) + "\n"
    )
    print(table(results))
    if cli:
        print(f"\nconvrag ingest, MTRAG passages ({cli['chunks']:,} chunks): Qdrant Edge "
              f"{cli['edge_chunks_per_s']:,.0f} chunks/s, local mode "
              f"{cli['local_chunks_per_s']:,.0f} chunks/s ({cli['speedup']:.1f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
