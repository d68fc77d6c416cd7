"""Evaluation over JSONL data: metrics (pure scores) and runs (through the graph's code)."""

from convrag.evaluation.metrics import (
    PRF,
    bleu4,
    exact_match,
    format_metrics,
    gold_recall_at_k,
    mrr,
    recall_at_k,
    restoration_f1,
    restoration_micro,
    rouge_l,
    tokenize,
)
from convrag.evaluation.runs import (
    history_pairs,
    predict_rewrite,
    read_jsonl,
    run_retrieval_eval,
    run_rewrite_eval,
)

__all__ = [
    "PRF",
    "bleu4",
    "exact_match",
    "format_metrics",
    "gold_recall_at_k",
    "history_pairs",
    "mrr",
    "predict_rewrite",
    "read_jsonl",
    "recall_at_k",
    "restoration_f1",
    "restoration_micro",
    "rouge_l",
    "run_retrieval_eval",
    "run_rewrite_eval",
    "tokenize",
]
