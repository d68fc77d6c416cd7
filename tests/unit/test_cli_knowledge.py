"""`convrag ingest --prune` and `convrag delete` in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INGEST_KEYS = {"collection", "documents", "chunks_added", "chunks_unchanged", "chunks_removed",
               "total_chunks"}


def convrag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convrag.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def report(*args: str) -> dict[str, Any]:
    result = convrag(*args, "--json")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert set(parsed) == INGEST_KEYS
    return dict(parsed)


def test_prune_then_delete(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "nile.md").write_text("# Nile\n\nThe Nile flows north.", encoding="utf-8")
    (folder / "amazon.html").write_text(
        "<title>Amazon</title><p>The Amazon carries the most water.</p>", encoding="utf-8"
    )
    (folder / "yangtze.txt").write_text("长江是中国最长的河流。", encoding="utf-8")
    first = report("ingest", str(folder))
    assert (first["documents"], first["chunks_added"], first["total_chunks"]) == (3, 3, 3)

    (folder / "amazon.html").unlink()
    kept = report("ingest", str(folder))  # without --prune the removed file's chunks stay
    assert (kept["chunks_removed"], kept["total_chunks"]) == (0, 3)
    pruned = report("ingest", "--prune", str(folder))
    assert (pruned["chunks_unchanged"], pruned["chunks_removed"], pruned["total_chunks"]) == (
        2, 1, 2)

    deleted = report("delete", "nile.md", "missing.md")
    assert (deleted["documents"], deleted["chunks_removed"], deleted["total_chunks"]) == (1, 1, 1)
    text = convrag("delete", "yangtze.txt")
    assert text.returncode == 0 and "1 removed, 0 in total" in text.stdout


def test_delete_from_a_missing_collection_says_what_to_do() -> None:
    result = convrag("delete", "--collection", "nothing-here", "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "convrag: The collection 'nothing-here' does not exist yet: run `convrag ingest PATH` "
        "first."
    )
