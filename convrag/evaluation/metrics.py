"""Evaluation metrics: pure functions, documented with their conventions.

Rewrite scores (exact match, BLEU-4, ROUGE-L, restoration P/R/F1) and retrieval scores
(success@k, gold recall@k, MRR), and the terminal table of a metrics dict. Most of a
rewrite is copied from the question, so BLEU and ROUGE-L reward copying; restoration F1
(over the tokens the rewrite adds) and retrieval recall say more.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# One token per CJK ideograph (and CJK-compatible kana/hangul), one per Latin/digit word.
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
    r"|[a-z0-9]+(?:['’][a-z]+)?"
)


# --- metrics ------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Evaluation tokens: each Chinese character, each lower-cased English word.

    Punctuation and whitespace are dropped, so "尼罗河有多长？" and "尼罗河 有多长" tokenize
    alike; Latin words inside Chinese text ("iphonex好不好") stay whole words.
    """
    return _TOKEN.findall(text.lower())


def normalise(text: str) -> str:
    """Lower-cased, whitespace collapsed: what exact match compares."""
    return " ".join(text.lower().split())


def exact_match(pred: str, gold: str) -> float:
    """1.0 when prediction and gold are equal after lower-casing and collapsing whitespace."""
    return 1.0 if normalise(pred) == normalise(gold) else 0.0


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu4(preds: Sequence[str], golds: Sequence[str]) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002) with one reference per prediction.

    Clipped n-gram matches and candidate n-gram counts are summed over the corpus for
    n = 1..4; the score is the geometric mean of the four precisions times the brevity
    penalty exp(1 - r/c) when the candidates are shorter than the references (c < r).
    Smoothing: add-one on the n > 1 precisions (Lin & Och 2004, "BLEU+1"), so a corpus
    of short sentences with no 4-gram match does not collapse to 0; unigram precision is
    not smoothed, so a prediction sharing no token with its reference scores 0.
    Tokens come from `tokenize` (characters for Chinese, words for English).
    """
    if len(preds) != len(golds):
        raise ValueError("bleu4 needs one gold per prediction")
    matches = [0] * 4
    totals = [0] * 4
    pred_len = gold_len = 0
    for pred, gold in zip(preds, golds, strict=True):
        p, g = tokenize(pred), tokenize(gold)
        pred_len += len(p)
        gold_len += len(g)
        for n in range(1, 5):
            cand, ref = _ngrams(p, n), _ngrams(g, n)
            matches[n - 1] += sum(min(c, ref[gram]) for gram, c in cand.items())
            totals[n - 1] += max(0, len(p) - n + 1)
    if pred_len == 0 or matches[0] == 0:
        return 0.0
    log_precision = math.log(matches[0] / totals[0])
    for n in range(1, 4):
        log_precision += math.log((matches[n] + 1) / (totals[n] + 1))
    brevity = 1.0 if pred_len >= gold_len else math.exp(1 - gold_len / pred_len)
    return brevity * math.exp(log_precision / 4)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(row[j], row[j - 1])
            diagonal = above
    return row[-1]


def rouge_l(pred: str, gold: str) -> float:
    """ROUGE-L F1 (beta = 1) on the longest common subsequence of `tokenize` tokens.

    P = LCS / |pred|, R = LCS / |gold|, F = 2PR / (P + R); 0.0 when either side is
    empty (1.0 when both are).
    """
    p, g = tokenize(pred), tokenize(gold)
    if not p or not g:
        return 1.0 if not p and not g else 0.0
    common = _lcs(p, g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Restoration:
    """Restored-token counts of one row: what both added, what each side added."""

    overlap: int
    predicted: int
    gold: int

    def __add__(self, other: Restoration) -> Restoration:
        return Restoration(
            self.overlap + other.overlap, self.predicted + other.predicted,
            self.gold + other.gold,
        )


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1."""

    precision: float
    recall: float
    f1: float


def added_tokens(question: str, rewrite: str) -> Counter[str]:
    """Tokens the rewrite adds to the question: the multiset difference rewrite − question."""
    return Counter(tokenize(rewrite)) - Counter(tokenize(question))


def restoration_counts(question: str, pred: str, gold: str) -> Restoration:
    """Counts for restoration scores of one row (see `restoration_f1`)."""
    predicted, wanted = added_tokens(question, pred), added_tokens(question, gold)
    return Restoration(
        overlap=sum((predicted & wanted).values()),
        predicted=sum(predicted.values()),
        gold=sum(wanted.values()),
    )


def prf(counts: Restoration) -> PRF:
    """Precision/recall/F1 from summed restoration counts (micro-averaging).

    Nothing to restore and nothing restored is a perfect 1/1/1; otherwise an empty
    denominator gives 0 for that side (a prediction that restores nothing has
    precision 0, not "undefined").
    """
    if counts.predicted == 0 and counts.gold == 0:
        return PRF(1.0, 1.0, 1.0)
    precision = counts.overlap / counts.predicted if counts.predicted else 0.0
    recall = counts.overlap / counts.gold if counts.gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def restoration_f1(question: str, pred: str, gold: str) -> PRF:
    """Restoration precision/recall/F1 of one row (Pan et al. 2019).

    The restored tokens of a rewrite are those it adds to the question (multiset
    difference, `added_tokens`): characters for Chinese, lower-cased words for English,
    punctuation and spaces ignored. P = |pred ∩ gold| / |pred added|,
    R = |pred ∩ gold| / |gold added|. A row where neither side adds anything scores
    1/1/1. For a corpus, use `restoration_micro`: as in Pan et al., counts are summed
    over all rows before dividing (micro-average), so such rows add nothing and long
    restorations weigh more than short ones.
    """
    return prf(restoration_counts(question, pred, gold))


def restoration_micro(rows: Iterable[tuple[str, str, str]]) -> PRF:
    """Micro-averaged restoration P/R/F1 over (question, prediction, gold) rows."""
    total = Restoration(0, 0, 0)
    for question, pred, gold in rows:
        total += restoration_counts(question, pred, gold)
    return prf(total)


def recall_at_k(retrieved_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """Success@k: 1.0 when any gold id is among the first k retrieved, else 0.0.

    This is the "recall@k" usual for conversational sets with one (or a few
    interchangeable) gold passages per turn; see `gold_recall_at_k` for the share of
    golds found.
    """
    gold = set(gold_ids)
    return 1.0 if any(r in gold for r in retrieved_ids[:k]) else 0.0


def gold_recall_at_k(retrieved_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """The fraction of distinct gold ids found among the first k retrieved (0.0 with no golds)."""
    gold = set(gold_ids)
    if not gold:
        return 0.0
    return len(gold & set(retrieved_ids[:k])) / len(gold)


def mrr(retrieved_ids: Sequence[str], gold_ids: Iterable[str]) -> float:
    """Reciprocal rank of the first gold id in the ranking (0.0 when none is retrieved).

    The cutoff is the ranking's own length, so a run of k results gives MRR@k.
    """
    gold = set(gold_ids)
    for rank, doc_id in enumerate(retrieved_ids, start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


def rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def retrieval_scores(
    runs: Sequence[Sequence[str]], golds: Sequence[Sequence[str]], k: int
) -> dict[str, Any]:
    """recall@k (success@k), gold_recall@k and MRR averaged over rows that have golds."""
    pairs = [(r, g) for r, g in zip(runs, golds, strict=True) if g]
    n = len(pairs)
    return {
        "scored": n,
        "recall@k": rate(sum(recall_at_k(r, g, k) for r, g in pairs), n),
        "gold_recall@k": rate(sum(gold_recall_at_k(r, g, k) for r, g in pairs), n),
        "mrr": rate(sum(mrr(r[:k], g) for r, g in pairs), n),
    }


# --- report -------------------------------------------------------------------------


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A compact table of a metrics dict for the terminal.

    Plain figures come first, one per line; then, when there are `baselines`, each
    scored metric side by side: this run, then every baseline. Nested keys are dotted.
    """
    baselines: Mapping[str, Mapping[str, Any]] = metrics.get("baselines") or {}
    own = dict(_flatten({k: v for k, v in metrics.items() if k != "baselines"}))
    columns = {name: dict(_flatten(values)) for name, values in baselines.items()}
    compared = list(dict.fromkeys(key for values in columns.values() for key in values))
    compared = [key for key in compared if key in own]
    plain = [(key, value) for key, value in own.items() if key not in compared]
    width = max((len(key) for key in own), default=0)
    lines = [f"{key:<{width}}  {_cell(value)}" for key, value in plain]
    if compared:
        header = ["run", *columns]
        cell_width = max(10, *(len(h) for h in header))
        lines.append("")
        lines.append(" " * width + "  " + "  ".join(f"{h:>{cell_width}}" for h in header))
        for key in compared:
            cells = [own[key], *(values.get(key) for values in columns.values())]
            lines.append(
                f"{key:<{width}}  " + "  ".join(f"{_cell(c):>{cell_width}}" for c in cells)
            )
    return "\n".join(lines)
