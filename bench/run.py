"""`make bench`: run every benchmark in turn (not tests; figures go to bench/RESULTS.md).

    .venv/bin/python bench/run.py [NAME ...]     # all, or only the named ones

The knowledge-base benchmark (`ingest_query`, 1k/10k/50k chunks) takes several minutes
on two cores; the others under a minute or two each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["compaction", "embedding", "overhead", "server_turn", "server_storage",
           "server_load", "retrieval_quality", "language_cost", "retrieval_legs",
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
