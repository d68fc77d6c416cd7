"""Benchmark: `convrag ask` in a fresh process against a bare `import langgraph, qdrant_client`.

Not a test. Ingests the bundled sample corpus under a temporary CONVRAG_HOME, then runs
pairs of fresh processes, one after the other so both see the same machine load: the
baseline (`python -c "import langgraph, qdrant_client"`) and one `convrag ask` turn on a
new thread (an English and a Chinese question in turn). Prints the median of each and the
median of the per-pair ratios, over all pairs and per question.

    .venv/bin/python bench/cold_start.py [--pairs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "convrag" / "samples" / "knowledge.jsonl"
QUESTIONS = ["What is the Nile?", "尼罗河有多长？"]
TARGET = 1.3


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convrag-cold-") as home:
        env = {**os.environ, "CONVRAG_HOME": home}
        for name in ("QDRANT_URL", "CONVRAG_CHAT_MODEL", "CONVRAG_EMBEDDINGS"):
            env.pop(name, None)
        convrag = [sys.executable, "-m", "convrag.cli"]
        subprocess.run([*convrag, "ingest", str(SAMPLES)], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        bare = [sys.executable, "-c", "import langgraph, qdrant_client"]
        _timed(bare, env)  # the first run of each warms the OS file cache
        for question in QUESTIONS:  # and jieba's tables cache under CONVRAG_HOME
            _timed([*convrag, "ask", "--thread", "warm", question], env)
        pairs = []
        for number in range(args.pairs):
            question = QUESTIONS[number % len(QUESTIONS)]
            base = _timed(bare, env)
            ask = _timed([*convrag, "ask", "--thread", f"cold-{number}", question], env)
            pairs.append((base, ask, question))
    groups = {"all": pairs, **{q: [p for p in pairs if p[2] == q] for q in QUESTIONS}}
    for label, group in groups.items():
        result = {
            "question": label,
            "pairs": len(group),
            "bare_median_s": round(statistics.median(b for b, _, _ in group), 3),
            "ask_median_s": round(statistics.median(a for _, a, _ in group), 3),
            "ratio_median": round(statistics.median(a / b for b, a, _ in group), 3),
        }
        print(json.dumps(result, ensure_ascii=False))
        print(f"  {label}: convrag ask cold {result['ask_median_s']:.2f} s, bare import "
              f"{result['bare_median_s']:.2f} s, median ratio {result['ratio_median']:.2f} "
              f"(target ≤ {TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
