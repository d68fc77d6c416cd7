"""The distribution adds one import name, `convrag`, and nothing imports `graph`/`nodes` bare."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("convrag", "graph", "nodes", "tests", "bench")


def _python_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCE_DIRS:
        # convrag/graph and convrag/nodes are symlinks to the top-level folders: skip them
        # so each file is read once.
        files.extend(p for p in (ROOT / name).rglob("*.py")
                     if not p.is_relative_to(ROOT / "convrag" / "graph")
                     and not p.is_relative_to(ROOT / "convrag" / "nodes"))
    return files


def _bare_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in ("graph", "nodes")]
    return found


def test_no_module_imports_graph_or_nodes_as_a_top_level_name() -> None:
    # A second import name would load a second store singleton, which the embedded store refuses.
    offenders = [hit for path in _python_files() for hit in _bare_imports(path)]
    assert offenders == []


def test_the_package_folders_are_reachable_under_convrag() -> None:
    assert (ROOT / "convrag" / "graph" / "builder.py").resolve() == ROOT / "graph" / "builder.py"
    assert (ROOT / "convrag" / "nodes" / "answer.py").resolve() == ROOT / "nodes" / "answer.py"


def test_wheel_has_one_top_level_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("convrag-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"convrag"}
    assert "convrag/graph/builder.py" in names
    assert "convrag/nodes/retrieve.py" in names
    assert "convrag/samples/knowledge.jsonl" in names
