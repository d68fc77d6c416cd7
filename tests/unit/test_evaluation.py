"""Evaluation: metric values on hand-computed examples, and both eval runs end to end."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convrag.errors import UserError
from convrag.evaluation import (
    PRF,
    bleu4,
    exact_match,
    format_metrics,
    gold_recall_at_k,
    history_pairs,
    mrr,
    predict_rewrite,
    recall_at_k,
    restoration_f1,
    restoration_micro,
    rouge_l,
    run_retrieval_eval,
    run_rewrite_eval,
    tokenize,
)
from convrag.language.resolver import replay, resolve
from convrag.nodes.models import register_chat_model, unregister_chat_model
from tests.conftest import scripted_model, tool_reply


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def turns(*texts: str) -> list[dict[str, str]]:
    """History turns alternating user, assistant."""
    return [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(texts)]


# --- metrics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("尼罗河有多长？", ["尼", "罗", "河", "有", "多", "长"]),
        ("When did Marie Curie die?", ["when", "did", "marie", "curie", "die"]),
        ("iphonex 好不好", ["iphonex", "好", "不", "好"]),
        ("It's 6,650 km.", ["it's", "6", "650", "km"]),
    ],
)
def test_tokenize_characters_for_chinese_words_for_english(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("When did Marie Curie die?", "when did  marie curie die?", 1.0),
        ("尼罗河有多长", "尼罗河有多长", 1.0),
        ("尼罗河有多长", "它有多长", 0.0),
    ],
)
def test_exact_match_normalises_case_and_spaces(pred, gold, expected):
    assert exact_match(pred, gold) == expected


@pytest.mark.parametrize(
    ("preds", "golds", "expected"),
    [
        (["尼罗河有多长", "When did Marie Curie die?"],
         ["尼罗河有多长", "When did Marie Curie die?"], 1.0),
        (["the cat sat"], ["the cat sat"], 1.0),  # shorter than 4 tokens: smoothing keeps 1
        (["完全不同"], ["尼罗河有多长"], 0.0),
        ([""], ["尼罗河有多长"], 0.0),
    ],
)
def test_bleu4_extremes(preds, golds, expected):
    assert bleu4(preds, golds) == pytest.approx(expected)


def test_bleu4_by_hand():
    # pred a b c d (4 tokens), gold a b c e f (5): p1 = 3/4, p2 = (2+1)/(3+1),
    # p3 = (1+1)/(2+1), p4 = (0+1)/(1+1), brevity exp(1 - 5/4).
    expected = math.exp(1 - 5 / 4) * (3 / 4 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert bleu4(["a b c d"], ["a b c e f"]) == pytest.approx(expected)
    with pytest.raises(ValueError):
        bleu4(["a"], [])


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("a b c d", "a b c d", 1.0),
        # LCS(a b c d, a c d e f) = a c d = 3: P = 3/4, R = 3/5.
        ("a b c d", "a c d e f", 2 * (3 / 4) * (3 / 5) / (3 / 4 + 3 / 5)),
        # LCS(它有多长, 尼罗河有多长) = 有多长 = 3: P = 3/4, R = 3/6.
        ("它有多长", "尼罗河有多长", 2 * (3 / 4) * (3 / 6) / (3 / 4 + 3 / 6)),
        ("x y", "a b", 0.0),
        ("", "", 1.0),
        ("", "a", 0.0),
    ],
)
def test_rouge_l(pred, gold, expected):
    assert rouge_l(pred, gold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("question", "pred", "gold", "expected"),
    [
        ("它有多长", "尼罗河有多长", "尼罗河有多长", PRF(1.0, 1.0, 1.0)),
        ("它有多长", "它有多长", "尼罗河有多长", PRF(0.0, 0.0, 0.0)),
        # Adds 尼罗 (2 right) and 长江 (2 wrong) against 尼罗河 (3): P = 2/4, R = 2/3.
        ("它有多长", "尼罗长江有多长", "尼罗河有多长", PRF(0.5, 2 / 3, 4 / 7)),
        ("When did she die?", "When did Marie Curie die?", "When did Marie Curie die?",
         PRF(1.0, 1.0, 1.0)),
        # Adds curie only, gold adds marie + curie: P = 1, R = 1/2.
        ("When did she die?", "When did Curie die?", "When did Marie Curie die?",
         PRF(1.0, 0.5, 2 / 3)),
        # Nothing to restore and nothing restored.
        ("尼罗河有多长", "尼罗河有多长", "尼罗河有多长", PRF(1.0, 1.0, 1.0)),
        # Restored something when nothing was needed.
        ("尼罗河有多长", "非洲尼罗河有多长", "尼罗河有多长", PRF(0.0, 0.0, 0.0)),
    ],
)
def test_restoration_f1_per_row(question, pred, gold, expected):
    result = restoration_f1(question, pred, gold)
    assert result.precision == pytest.approx(expected.precision)
    assert result.recall == pytest.approx(expected.recall)
    assert result.f1 == pytest.approx(expected.f1)


def test_restoration_is_micro_averaged():
    rows = [
        ("它有多长", "尼罗河有多长", "尼罗河有多长"),  # 3 right of 3
        ("When did she die?", "When did she die?", "When did Marie Curie die?"),  # 0 of 2
        ("尼罗河有多长", "尼罗河有多长", "尼罗河有多长"),  # nothing either side: no weight
    ]
    result = restoration_micro(rows)
    assert result.precision == pytest.approx(1.0)
    assert result.recall == pytest.approx(3 / 5)
    assert result.f1 == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("retrieved", "gold", "k", "success", "gold_recall", "reciprocal"),
    [
        (["a", "b", "c"], ["a"], 1, 1.0, 1.0, 1.0),
        (["a", "b", "c"], ["c"], 2, 0.0, 0.0, 1 / 3),
        (["a", "b", "c"], ["b", "z"], 3, 1.0, 0.5, 1 / 2),
        (["a", "b", "c"], ["x"], 3, 0.0, 0.0, 0.0),
        ([], ["x"], 5, 0.0, 0.0, 0.0),
    ],
)
def test_recall_and_mrr(retrieved, gold, k, success, gold_recall, reciprocal):
    assert recall_at_k(retrieved, gold, k) == success
    assert gold_recall_at_k(retrieved, gold, k) == pytest.approx(gold_recall)
    assert mrr(retrieved, gold) == pytest.approx(reciprocal)


def test_format_metrics_puts_baselines_beside_the_run():
    table = format_metrics({
        "n": 3,
        "gate_pass_rate": None,
        "bleu4": 0.5,
        "baselines": {"copy": {"bleu4": 0.25}},
    })
    lines = table.splitlines()
    assert lines[0].split() == ["n", "3"]
    assert lines[1].split() == ["gate_pass_rate", "—"]
    assert lines[-2].split() == ["run", "copy"]
    assert lines[-1].split() == ["bleu4", "0.5000", "0.2500"]


# --- rewrite evaluation -------------------------------------------------------------

REWRITE_ROWS = [
    {"id": "zh-1", "history": turns("尼罗河是什么？", "尼罗河是非洲的一条大河。"),
     "question": "它有多长？", "rewrite": "尼罗河有多长？", "needs_rewrite": True},
    {"id": "en-1", "history": turns("Who was Marie Curie?", "A physicist and chemist."),
     "question": "When did she die?", "rewrite": "When did Marie Curie die?",
     "needs_rewrite": True},
    {"id": "en-2", "history": turns("Who was Marie Curie?", "A physicist and chemist."),
     "question": "How long is the Nile?", "rewrite": "How long is the Nile?",
     "needs_rewrite": False},
]


def test_run_rewrite_eval_writes_predictions_and_scores(tmp_path):
    data = write_jsonl(tmp_path / "rewrite.jsonl", REWRITE_ROWS)
    out = tmp_path / "runs" / "pred.jsonl"
    seen: list[tuple[int, int]] = []

    metrics = run_rewrite_eval(data, out, progress=lambda done, total: seen.append((done, total)))

    predictions = read_jsonl(out)
    assert [p["id"] for p in predictions] == ["zh-1", "en-1", "en-2"]
    assert "尼罗河" in predictions[0]["prediction"]
    assert predictions[1]["prediction"] == "When did Marie Curie die?"
    assert predictions[2]["prediction"] == "How long is the Nile?"
    assert seen[-1] == (3, 3)
    assert metrics["n"] == metrics["scored"] == 3
    assert metrics["llm_calls"] == 0
    assert metrics["exact_match"] == pytest.approx(1.0)
    assert metrics["restoration"]["f1"] == pytest.approx(1.0)
    assert metrics["baselines"]["copy"]["restoration"]["f1"] == 0.0
    assert metrics["bleu4"] > metrics["baselines"]["copy"]["bleu4"]
    assert metrics["gate_precision"] == metrics["gate_recall"] == 1.0
    assert metrics["kept_when_standalone"] == 1.0
    assert metrics["unchanged_rate"] == pytest.approx(1 / 3)
    assert "restoration.f1" in format_metrics(metrics)


def test_run_rewrite_eval_without_gold_only_predicts(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("rewrite", "needs_rewrite")}
            for r in REWRITE_ROWS]
    data = write_jsonl(tmp_path / "rewrite.jsonl", rows)
    metrics = run_rewrite_eval(data, tmp_path / "pred.jsonl", limit=2)
    assert len(read_jsonl(tmp_path / "pred.jsonl")) == 2
    assert metrics["n"] == 2
    assert "bleu4" not in metrics and "gate_precision" not in metrics


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "x", "history": []}\n', "lacks question"),
        ("not json\n", "not valid JSON"),
        ('{"id": "x", "history": [{"role": "system", "content": "hi"}], "question": "q"}\n',
         "is not 'user' or 'assistant'"),
    ],
)
def test_bad_rows_are_user_errors(tmp_path, content, message):
    data = tmp_path / "bad.jsonl"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        run_rewrite_eval(data, tmp_path / "pred.jsonl")


@pytest.mark.parametrize("row", REWRITE_ROWS[:2] + [
    {"id": "zh-2", "history": turns("尼罗河有多长？", "约6650公里。"),
     "question": "那亚马逊河呢？"},
])
def test_the_node_predicts_what_replay_and_resolve_predict(row):
    pairs = history_pairs(row)
    prediction = asyncio.run(predict_rewrite(pairs, row["question"]))
    offline = resolve(row["question"], replay(pairs))
    assert prediction.text == offline.standalone
    assert prediction.gate == offline.gate_reasons


def test_topic_gives_the_first_question_its_subject():
    prediction = asyncio.run(predict_rewrite([], "When was she born?", topic="Marie Curie — Life"))
    assert prediction.text == "When was Marie Curie born?"


@pytest.fixture
def scripted() -> Iterator[str]:
    name = "scripted:eval"
    register_chat_model(name, scripted_model(tool_reply("Rewrite", {
        "reasoning": "她 is Marie Curie.",
        "scenario": "pronoun",
        "mentions": [{"mention": "she", "antecedent": "Marie Curie"}],
        "standalone_question": "When did Marie Curie, the physicist, die?",
        "route": "retrieve",
    })))
    yield name
    unregister_chat_model(name)


def test_model_mode_runs_the_node_and_counts_calls(tmp_path, scripted):
    data = write_jsonl(tmp_path / "rewrite.jsonl", [REWRITE_ROWS[1], REWRITE_ROWS[2]])
    out = tmp_path / "pred.jsonl"
    metrics = run_rewrite_eval(data, out, model_name=scripted)
    predictions = read_jsonl(out)
    assert predictions[0]["prediction"] == "When did Marie Curie, the physicist, die?"
    # The standalone question passes the gate: no model call for it.
    assert predictions[1]["prediction"] == "How long is the Nile?"
    assert metrics["llm_calls"] == 1


# --- retrieval evaluation -----------------------------------------------------------

PASSAGES = [
    {"id": "p-nile", "title": "尼罗河", "text": "尼罗河是非洲东北部的一条大河，全长约6650公里。"},
    {"id": "p-amazon", "title": "亚马逊河", "text": "亚马逊河位于南美洲，全长约6400公里。"},
    {"id": "p-curie", "title": "Marie Curie",
     "text": "Marie Curie was a physicist and chemist. Curie died in 1934 in France."},
    {"id": "p-einstein", "title": "Albert Einstein",
     "text": "Albert Einstein was a theoretical physicist. Einstein died in 1955."},
]
CONVERSATIONS = [
    {"id": "c1-t1", "history": [], "question": "尼罗河是什么？", "gold_passage_ids": ["p-nile"]},
    {"id": "c1-t2", "history": turns("尼罗河是什么？", "尼罗河是非洲东北部的一条大河。"),
     "question": "它有多长？", "gold_passage_ids": ["p-nile"]},
    {"id": "c2-t2", "history": turns("Who was Marie Curie?", "A physicist and chemist."),
     "question": "When did she die?", "gold_passage_ids": ["p-curie"]},
    {"id": "c3-t1", "history": [], "question": "谢谢！", "gold_passage_ids": []},
]


def test_run_retrieval_eval_beats_the_raw_question_on_pronouns(tmp_path):
    conversations = write_jsonl(tmp_path / "conversations.jsonl", CONVERSATIONS)
    passages = write_jsonl(tmp_path / "passages.jsonl", PASSAGES)
    out = tmp_path / "run.jsonl"

    metrics = run_retrieval_eval(conversations, passages, out, k=1)

    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["c1-t1", "c1-t2", "c2-t2", "c3-t1"]
    assert set(rows[0]) == {"id", "standalone_question", "retrieved_ids"}
    assert "尼罗河" in rows[1]["standalone_question"]
    assert rows[1]["retrieved_ids"] == ["p-nile"]
    assert rows[2]["standalone_question"] == "When did Marie Curie die?"
    assert rows[2]["retrieved_ids"] == ["p-curie"]
    assert rows[3]["retrieved_ids"] == []
    assert metrics["n"] == 4 and metrics["scored"] == 3
    assert metrics["recall@k"] == pytest.approx(1.0)
    assert metrics["mrr"] == pytest.approx(1.0)
    assert metrics["llm_calls"] == 0
    assert metrics["respond_rate"] == pytest.approx(1 / 4)
    assert 0 < metrics["gate_skip_rate"] < 1
    raw = metrics["baselines"]["raw"]
    assert set(metrics["baselines"]) == {
        "raw", "prepend_last_user", "prepend_first_user", "standalone_only",
    }
    assert raw["recall@k"] < metrics["recall@k"]
    assert metrics["baselines"]["prepend_last_user"]["recall@k"] <= metrics["recall@k"]


def test_run_retrieval_eval_uses_a_given_knowledge_base_and_limit(tmp_path, kb):
    conversations = write_jsonl(tmp_path / "conversations.jsonl", CONVERSATIONS)
    passages = write_jsonl(tmp_path / "passages.jsonl", PASSAGES)
    metrics = run_retrieval_eval(
        conversations, passages, tmp_path / "run.jsonl", knowledge=kb, collection="eval", limit=2
    )
    assert metrics["n"] == 2
    assert kb.collection_exists("eval")  # still open: the caller's knowledge base
    assert len(read_jsonl(tmp_path / "run.jsonl")) == 2
