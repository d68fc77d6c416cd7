"""`convrag ingest`, `list`, `delete` and `migrate` in real subprocesses.

CONVRAG_HOME is tmp_path/home (tests/conftest.py), so file ids are paths from tmp_path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
    assert INGEST_KEYS <= set(parsed)
    return dict(parsed)


def listed(*args: str) -> dict[str, Any]:
    result = convrag("list", *args, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


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

    deleted = report("delete", "docs/nile.md", "missing.md")
    assert (deleted["documents"], deleted["chunks_removed"], deleted["total_chunks"]) == (1, 1, 1)
    assert deleted["unknown"] == ["missing.md"]
    text = convrag("delete", "docs/yangtze.txt")
    assert text.returncode == 0 and "1 removed, 0 in total" in text.stdout
    unknown = convrag("delete", "docs/yangtze.txt")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "convrag: No document with the id 'docs/yangtze.txt' is in the collection 'convrag': "
        "`convrag list` shows the ids it has."
    )


def test_same_named_files_in_two_folders_are_both_kept(tmp_path: Path) -> None:
    write(tmp_path / "kb" / "handbook" / "README.md", "# Handbook\n\nHolidays are 30 days.")
    write(tmp_path / "kb" / "engineering" / "README.md", "# Engineering\n\nDeploys on Friday.")
    first = report("ingest", str(tmp_path / "kb" / "handbook"))
    second = report("ingest", str(tmp_path / "kb" / "engineering"))
    assert (first["chunks_added"], second["chunks_added"], second["chunks_removed"]) == (1, 1, 0)
    items = listed()["items"]
    assert [(d["id"], d["title"], d["chunks"]) for d in items] == [
        ("kb/engineering/README.md", "Engineering", 1),
        ("kb/handbook/README.md", "Handbook", 1),
    ]
    # The same folder reached another way is the same documents.
    again = subprocess.run(
        [sys.executable, "-m", "convrag.cli", "ingest", "handbook", "--json"],
        cwd=tmp_path / "kb", capture_output=True, text=True, timeout=120,
    )
    assert json.loads(again.stdout)["chunks_unchanged"] == 1, again.stderr


def test_prune_of_one_folder_keeps_the_other_folders_documents(tmp_path: Path) -> None:
    write(tmp_path / "a" / "one.md", "# One\n\nAlpha text.")
    write(tmp_path / "a" / "two.md", "# Two\n\nBeta text.")
    write(tmp_path / "b" / "three.md", "# Three\n\nGamma text.")
    report("ingest", str(tmp_path / "a"))
    report("ingest", str(tmp_path / "b"))
    (tmp_path / "a" / "two.md").unlink()
    dry = report("ingest", "--prune", "--dry-run", str(tmp_path / "a"))
    assert (dry["dry_run"], dry["would_remove"], dry["chunks_removed"]) == (True, ["a/two.md"], 1)
    assert [d["id"] for d in listed()["items"]] == ["a/one.md", "a/two.md", "b/three.md"]
    text = convrag("ingest", "--prune", "--dry-run", str(tmp_path / "a"))
    assert "would remove: a/two.md" in text.stdout and "dry run" in text.stdout
    pruned = report("ingest", "--prune", str(tmp_path / "a"))
    assert (pruned["pruned"], pruned["chunks_removed"], pruned["total_chunks"]) == (
        ["a/two.md"], 1, 2)
    assert [d["id"] for d in listed()["items"]] == ["a/one.md", "b/three.md"]


def test_a_folder_with_bad_files_ingests_the_rest_and_names_them(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write(folder / "good.md", "# Good\n\nUseful text.")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    write(folder / "rows.jsonl", '{"id": "r1", "text": "row one"}\nnot json\n{"id": "r3"}\n')
    result = convrag("ingest", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["documents"], summary["skipped"]) == (2, 3)
    assert f"{folder / 'latin1.txt'} is not UTF-8" in result.stderr
    assert f"{folder / 'rows.jsonl'}:2 is not valid JSON" in result.stderr
    assert f"{folder / 'rows.jsonl'}:3 has no string" in result.stderr
    assert summary["problems"] == [
        line.removeprefix("convrag: skipped: ")
        for line in result.stderr.splitlines() if line.startswith("convrag: skipped: ")
    ]
    text = convrag("ingest", str(folder))
    assert "3 bad files or lines skipped" in text.stdout
    strict = convrag("ingest", "--strict", str(folder), "--json")
    assert strict.returncode == 1 and not strict.stdout
    assert "not UTF-8" in json.loads(strict.stderr)["error"]
    assert "(2 more bad files or lines.)" in json.loads(strict.stderr)["error"]


def test_progress_lines_are_written_when_not_a_terminal(tmp_path: Path) -> None:
    for number in range(25):
        write(tmp_path / "many" / f"n{number:02}.md", f"# Note {number}\n\nText {number}.")
    result = convrag("ingest", str(tmp_path / "many"))
    lines = [line for line in result.stderr.splitlines() if line.startswith("ingesting: ")]
    assert lines[0] == "ingesting: 1/25" and lines[-1] == "ingesting: 25/25"
    assert len(lines) <= 11


def test_list_shows_documents_and_stats(tmp_path: Path) -> None:
    write(tmp_path / "d" / "nile.md", "# Nile\n\nThe Nile flows north. " * 60)
    report("ingest", str(tmp_path / "d"))
    report("ingest", "--tenant", "acme", str(tmp_path / "d"))
    everything = listed()
    assert (everything["documents"], everything["chunks"], everything["search"]) == (
        2, 2 * everything["items"][0]["chunks"], "bm25")
    assert everything["items"][0]["chunks"] > 1
    assert [d["tenant"] for d in everything["items"]] == [None, "acme"]
    assert [d["tenant"] for d in listed("--tenant", "acme")["items"]] == ["acme"]
    text = convrag("list")
    assert "d/nile.md\tNile\t" in text.stdout and "2 documents" in text.stdout


def test_delete_from_a_missing_collection_says_what_to_do() -> None:
    result = convrag("delete", "--collection", "nothing-here", "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "convrag: The collection 'nothing-here' does not exist yet: run `convrag ingest PATH` "
        "first."
    )


def test_a_store_of_an_earlier_version_is_migrated_in_one_command(
    tmp_path: Path, isolated_env: Path
) -> None:
    from convrag.knowledge.ingest import SourceDocument
    from convrag.knowledge.store import KnowledgeBase
    from convrag.settings import Settings

    settings = Settings(home=isolated_env)
    # What versions before Qdrant Edge left under CONVRAG_HOME: a local-mode store.
    old = KnowledgeBase.local_mode(settings.qdrant_path)
    old.ingest("convrag", [SourceDocument(id="nile", text="The Nile flows north.", title="Nile"),
                           SourceDocument(id="own", text="Tenant notes on the Nile.")])
    old.ingest("convrag", [SourceDocument(id="own", text="Tenant notes.")], tenant="acme")
    old.ingest("other", [SourceDocument(id="amazon", text="The Amazon is wide.")])
    old.close()

    before = convrag("list")
    assert before.returncode == 1 and "Traceback" not in before.stderr
    assert before.stderr.strip() == (
        f"convrag: The knowledge base at {settings.qdrant_path} was made by an earlier convrag "
        "version: run `convrag migrate` once to move it to the new store (nothing is lost)."
    )
    moved = convrag("migrate", "--json")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["collections"] == ["convrag", "other"]
    assert not settings.qdrant_path.exists()
    assert (isolated_env / "qdrant.before-edge").is_dir()

    after = listed()
    assert [(d["id"], d["tenant"]) for d in after["items"]] == [
        ("nile", None), ("own", None), ("own", "acme")
    ]
    assert [d["id"] for d in listed("--collection", "other")["items"]] == ["amazon"]
    asked = convrag("ask", "--thread", "t", "--json", "Which way does the Nile flow?")
    assert [s["id"] for s in json.loads(asked.stdout)["sources"]][0] == "nile"
    again = convrag("migrate")
    assert again.returncode == 1 and "nothing to migrate" in again.stderr


def test_user_errors_under_json_are_one_json_object_on_stderr() -> None:
    result = convrag("list", "--collection", "nothing-here", "--json")
    assert (result.returncode, result.stdout) == (1, "")
    assert json.loads(result.stderr) == {
        "error": "The collection 'nothing-here' does not exist yet: run `convrag ingest PATH` "
        "first."
    }
    usage = convrag("ask", "--thread", "t", "--top-k", "0", "--json", "Hi?")
    assert usage.returncode == 2
    assert "'0' is not a number of passages from 1 to 50" in json.loads(usage.stderr)["error"]


@pytest.mark.parametrize("name", ["", "../up", "a b", "x" * 129, "_under", "é"])
def test_invalid_collection_names_get_one_sentence(name: str) -> None:
    result = convrag("ingest", f"--collection={name}", str(ROOT / "README.md"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{name!r} is not a valid collection name: use 1 to 128 letters" in result.stderr


def test_version() -> None:
    from importlib.metadata import version

    result = convrag("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"convrag {version('convrag')}")


def test_delete_names_the_tenant_that_holds_the_id(tmp_path: Path) -> None:
    # `convrag list` lists every tenant's documents; deleting one of them without its
    # tenant must not send the user back to that list.
    write(tmp_path / "teams" / "roadmap.md", "# Roadmap\n\nThe kiosk ships in spring.")
    write(tmp_path / "common" / "menu.md", "# Menu\n\nSoup on Mondays.")
    report("ingest", "--tenant", "kiosk", str(tmp_path / "teams"))
    report("ingest", str(tmp_path / "common"))
    untagged = convrag("delete", "teams/roadmap.md")
    assert untagged.returncode == 1
    assert untagged.stderr.strip() == (
        "convrag: No document with the id 'teams/roadmap.md' is in the collection 'convrag' "
        "without a tenant: it is stored under tenant 'kiosk', so add --tenant kiosk.")
    tagged = convrag("delete", "--tenant", "kiosk", "common/menu.md")
    assert tagged.stderr.strip().endswith(
        "under tenant 'kiosk': it is stored without a tenant, so leave --tenant out.")
    assert report("delete", "--tenant", "kiosk", "teams/roadmap.md")["deleted"] == [
        "teams/roadmap.md"]
