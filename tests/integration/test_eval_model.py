"""Both eval commands in model mode, through the real OpenAI client, against a loopback stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .openai_stub import OpenAIStub, Reply, Text, ToolCall

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REWRITE = "How long is the Nile?"


def responder(request: dict[str, Any]) -> Reply:
    """The rewrite call gets a structured rewrite; any other call a short answer."""
    decision = {"reasoning": "it is the Nile", "scenario": "pronoun",
                "mentions": [{"mention": "it", "antecedent": "the Nile"}],
                "standalone_question": REWRITE, "route": "retrieve"}
    if request.get("tools"):
        return ToolCall(request["tools"][0]["function"]["name"], decision)
    if request.get("response_format"):
        return Text(json.dumps(decision))
    return Text("About 6,650 km [1].")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_cli(stub: OpenAIStub, *args: str) -> dict[str, Any]:
    env = dict(os.environ, CONVRAG_CHAT_MODEL="openai:stub-model", OPENAI_BASE_URL=stub.base_url,
               OPENAI_API_KEY="test")
    result = subprocess.run([sys.executable, "-m", "convrag.cli", *args, "--json"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


HISTORY = [{"role": "user", "content": "What is the Nile?"},
           {"role": "assistant", "content": "The Nile is a river in Africa."}]


def test_eval_rewrite_in_model_mode(tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", [
        {"id": "a", "history": HISTORY, "question": "How long is it?", "rewrite": REWRITE},
        {"id": "b", "history": [], "question": "What is the Nile?", "rewrite": None},
    ])
    with OpenAIStub(responder) as stub:
        metrics = run_cli(stub, "eval", "rewrite", "--data", str(data),
                          "--out", str(tmp_path / "pred.jsonl"))
        calls = len(stub.chat_requests)
    predictions = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert predictions == [{"id": "a", "prediction": REWRITE},
                           {"id": "b", "prediction": "What is the Nile?"}]
    assert metrics["exact_match"] == 1.0
    # The gate spares the standalone first question its model call.
    assert metrics["llm_calls"] == calls == 1


def test_eval_retrieval_in_model_mode(tmp_path):
    passages = write_jsonl(tmp_path / "passages.jsonl", [
        {"id": "nile", "text": "The Nile is about 6,650 km long, in Africa.", "title": "Nile"},
        {"id": "seine", "text": "The Seine flows through Paris.", "title": "Seine"},
    ])
    conversations = write_jsonl(tmp_path / "conv.jsonl", [
        {"id": "c1", "history": HISTORY, "question": "How long is it?",
         "gold_passage_ids": ["nile"]},
    ])
    with OpenAIStub(responder) as stub:
        metrics = run_cli(stub, "eval", "retrieval", "--conversations", str(conversations),
                          "--passages", str(passages), "--k", "1",
                          "--out", str(tmp_path / "run.jsonl"))
    run = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert run[0]["standalone_question"] == REWRITE
    assert run[0]["retrieved_ids"] == ["nile"]
    assert metrics["recall@k"] == 1.0
    assert metrics["llm_calls"] == 2  # one rewrite call, one answer call
