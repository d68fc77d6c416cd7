"""Rewrite and retrieval figures on the evaluation sets, each split into two halves.

Every set is split by a hash of its conversation id into a tuning half (rules were
adjusted while looking at it) and a check half (only run on the result), so a rule
that fits one conversation shows up as a gap between the halves. Run from the
checkout: `python bench/eval_halves.py [--data ../shared/data] [--sets NAME...]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convrag.evaluation import format_metrics, read_jsonl, run_retrieval_eval, run_rewrite_eval

# name: (conversations file, passages file or None, conversation id of a row)
SETS: dict[str, tuple[str, str | None, Callable[[dict[str, Any]], str]]] = {
    "rewrite_zh": ("rewrite_zh/train.jsonl", None, lambda r: str(r["id"])),
    "canard": ("canard/dev_a.jsonl", None, lambda r: str(r["quac_dialog_id"])),
    "cast2019": ("trec_cast/cast2019.jsonl", None, lambda r: str(r["id"]).split("_")[0]),
    "cast2020": ("trec_cast/cast2020.jsonl", None, lambda r: str(r["id"]).split("_")[0]),
    "mtrag": ("mtrag/conversations.jsonl", "mtrag/passages.jsonl",
              lambda r: str(r["id"]).split("<::>")[0]),
    "domainrag": ("domainrag_zh/conversations.jsonl", "domainrag_zh/passages.jsonl",
                  lambda r: re.sub(r"-t\d+$", "", str(r["id"]))),
}


def half(conversation: str) -> str:
    """'tune' or 'check', stable across runs and machines."""
    digest = hashlib.sha256(conversation.encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "check"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--halves", nargs="*", default=["tune", "check", "all"])
    parser.add_argument("--json", action="store_true", help="print one JSON object per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            conversations, passages, conversation_of = SETS[name]
            rows = read_jsonl(args.data / conversations)
            for which in args.halves:
                chosen = [r for r in rows if which == "all" or half(conversation_of(r)) == which]
                path = Path(tmp) / f"{name}-{which}.jsonl"
                path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                        for r in chosen), encoding="utf-8")
                out = Path(tmp) / f"{name}-{which}.pred.jsonl"
                if passages is None:
                    metrics = run_rewrite_eval(path, out)
                else:
                    metrics = run_retrieval_eval(path, args.data / passages, out)
                if args.json:
                    print(json.dumps({"set": name, "half": which, **metrics}))
                else:
                    print(f"== {name} / {which}\n{format_metrics(metrics)}\n")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
