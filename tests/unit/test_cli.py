"""The `convrag` command in real subprocesses: contracts, persistence, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
ASK_KEYS = {"thread_id", "answer", "standalone_question", "route", "sources", "llm_calls"}
INGEST_KEYS = {"collection", "documents", "chunks_added", "chunks_unchanged", "chunks_removed",
               "total_chunks"}


def convrag(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "convrag.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_clear_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


@pytest.fixture
def ingested() -> None:
    convrag("ingest", str(SAMPLES))


def test_ingest_twice_adds_nothing_the_second_time():
    first = json.loads(convrag("ingest", "--json", str(SAMPLES)).stdout)
    assert INGEST_KEYS <= set(first)  # DESIGN: more keys may follow these
    assert (first["skipped"], first["problems"]) == (0, [])
    assert first["chunks_added"] == first["total_chunks"] > 0
    second = json.loads(convrag("ingest", "--json", str(SAMPLES)).stdout)
    assert second["chunks_added"] == 0
    assert second["chunks_unchanged"] == first["total_chunks"]
    assert second["total_chunks"] == first["total_chunks"]


def test_ask_json_continues_a_thread_across_processes(ingested):
    first = json.loads(convrag("ask", "--thread", "t1", "--json", "尼罗河是什么？").stdout)
    assert set(first) == ASK_KEYS
    assert first["route"] == "retrieve"
    assert first["sources"][0]["id"] == "zh-nile"
    assert set(first["sources"][0]) == {"id", "title", "score"}

    second = json.loads(convrag("ask", "--thread", "t1", "--json", "它有多长？").stdout)
    assert "尼罗河" in second["standalone_question"]
    assert "[1]" in second["answer"] and second["llm_calls"] == 0

    other = json.loads(convrag("ask", "--thread", "t2", "--json", "它有多长？").stdout)
    assert other["standalone_question"] == "它有多长？"


def test_ask_takes_tenant_and_top_k(ingested, tmp_path):
    private = tmp_path / "private.jsonl"
    record = {"id": "acme-nile", "title": "Acme Nile notes",
              "text": "尼罗河是 Acme 公司的笔记主题。"}
    private.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    convrag("ingest", "--tenant", "acme", str(private))
    everyone = json.loads(convrag("ask", "--thread", "a", "--json", "尼罗河是什么？").stdout)
    assert {"zh-nile", "acme-nile"} <= {s["id"] for s in everyone["sources"]}
    acme = json.loads(
        convrag("ask", "--thread", "b", "--tenant", "acme", "--json", "尼罗河是什么？").stdout
    )
    assert [s["id"] for s in acme["sources"]] == ["acme-nile"]
    one = json.loads(
        convrag("ask", "--thread", "c", "--top-k", "1", "--json", "尼罗河是什么？").stdout
    )
    assert len(one["sources"]) == 1 < len(everyone["sources"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("ask", "--thread", "t", "  "), "The question is empty"),
        (("ask", "--thread", "t", "x" * 2001), "over the limit"),
        (("ingest", "/no/such/path"), "/no/such/path"),
    ],
)
def test_bad_input_gets_one_clear_sentence(args, fragment):
    assert_clear_error(convrag(*args, check=False), fragment)


def test_asking_before_ingesting_says_what_to_do():
    result = convrag("ask", "--thread", "t", "尼罗河是什么？", check=False)
    assert_clear_error(result, "convrag ingest")


def test_a_store_held_by_another_process_is_reported(ingested, isolated_env):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from convrag.knowledge.store import KnowledgeBase;"
         "from convrag.settings import Settings; kb=KnowledgeBase.open(Settings.from_env());"
         "kb.count('convrag'); print('ready', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = convrag("ask", "--thread", "t", "尼罗河是什么？", check=False)
        assert_clear_error(result, "another")
    finally:
        holder.kill()
        holder.wait()
    # Nothing was lost: once the other process is gone, the store answers again.
    assert json.loads(convrag("ask", "--thread", "t", "--json", "尼罗河是什么？").stdout)["sources"]


def test_demo_resolves_the_nile_follow_up():
    out = convrag("demo").stdout
    assert "'尼罗河有多长？'" in out
    assert "6650" in out and "[1]" in out
    assert "When did Marie Curie die?" in out
    # After the rivers, the question about 居里夫人 opens a new topic: the rivers do not
    # come back as sources, on that turn or on its follow-up.
    assert out.count("retrieve: [1] 居里夫人\n") == 2
