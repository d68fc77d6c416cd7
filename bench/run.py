"""`make bench`: run every benchmark in turn (not tests; figures go to bench/RESULTS.md).

    .venv/bin/python bench/run.py [NAME ...]     # all, or only the named ones

The knowledge-base benchmark (`ingest_query`: Qdrant Edge at 1k-200k chunks, local mode up
to 50k) takes about an hour on two cores, most of it local mode; the others a few minutes
each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["compaction", "embedding", "overhead", "server_turn", "server_storage",
           "server_load", "retrieval_quality", "language_cost", "retrieval_legs", "cold_start",
           "ingest_query"]


def main(names: list[str]) -> int:
    """Run the named benchmarks (all by default); the exit status is the first failure's."""
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        print(f"bench: unknown benchmark {', '.join(unknown)}: choose from {', '.join(SCRIPTS)}",
              file=sys.stderr)
        return 2
    for name in names or SCRIPTS:
        print(f"\n=== bench/{name}.py ===", flush=True)
        status = subprocess.call([sys.executable, str(BENCH / f"{name}.py")], cwd=BENCH.parent)
        if status:
            return status
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
