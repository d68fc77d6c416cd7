"""What each search leg contributes: recall@5 and MRR of leg combinations and baselines.

For every turn of MTRAG and DomainRAG the resolver runs as in the graph (the history
replayed, then the question), and the store is searched with the legs the retrieve node
builds (`convrag.nodes.retrieve.query_legs`) under different weights, beside query
baselines on the same store. Each set is split into tuning and check halves by
conversation, as in `bench/eval_halves.py`. TREC CAsT is not here: its gold passages
are ids in collections (MS MARCO, CAR) this repository does not hold.

Run from the checkout: `python bench/retrieval_legs.py [--data ../shared/data]`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_halves import SETS, half  # noqa: E402

from convrag.evaluation import history_pairs, mrr, read_jsonl, recall_at_k  # noqa: E402
from convrag.knowledge.ingest import SourceDocument  # noqa: E402
from convrag.knowledge.store import KnowledgeBase, QueryLeg  # noqa: E402
from convrag.language.expansion import current_topic, opens_topic, topic_openings  # noqa: E402
from convrag.language.resolver import is_knowledge_turn, replay, resolve  # noqa: E402
from convrag.nodes.retrieve import (  # noqa: E402
    HISTORY_WEIGHT,
    RAW_WEIGHT,
    STANDALONE_WEIGHT,
    query_legs,
)

K = 5


class Turn:
    """One scored turn: its questions as the graph sees them, and its gold ids."""

    def __init__(self, row: dict[str, Any]) -> None:
        pairs = history_pairs(row)
        dialogue = replay(pairs)
        self.raw = str(row["question"])
        self.standalone = resolve(self.raw, dialogue).standalone
        users = [text for role, text in pairs if role == "user" and is_knowledge_turn(text)]
        # Every earlier question, then the questions of the current topic as the graph
        # keeps them (none when this question opens a new topic).
        self.earlier = list(dialogue.questions)
        asked = users[len(users) - len(self.earlier):] if self.earlier else []
        opened = topic_openings(list(zip(self.earlier, asked, strict=True)))
        topic = current_topic(list(zip(self.earlier, opened, strict=True)))
        self.history = [] if opens_topic(self.standalone, self.raw, topic) else topic
        self.first = users[0] if users else ""
        self.last = users[-1] if users else ""
        self.gold = list(row.get("gold_passage_ids") or [])


def configurations() -> dict[str, Callable[[Turn], list[QueryLeg | str]]]:
    """Leg combinations (the graph's is "all legs") and baselines, by name."""
    def legs(standalone: float, raw: float, history: float) -> Callable[[Turn], list[Any]]:
        return lambda t: list(query_legs(t.standalone, t.raw, t.history,
                                         standalone_weight=standalone, raw_weight=raw,
                                         history_weight=history))

    s, r, h = STANDALONE_WEIGHT, RAW_WEIGHT, HISTORY_WEIGHT
    return {
        "raw question": lambda t: [t.raw],
        "prepend first user question": lambda t: [f"{t.first} {t.raw}".strip()],
        "prepend last user question": lambda t: [f"{t.last} {t.raw}".strip()],
        "standalone only": legs(s, 0, 0),
        "history-aware query only": lambda t: [
            leg for leg in query_legs(t.standalone, t.raw, t.history, standalone_weight=0,
                                      raw_weight=0, history_weight=h)
        ] or [t.raw],
        "standalone + raw (equal, before)": lambda t: list(dict.fromkeys([t.standalone, t.raw])),
        "standalone + raw (weighted)": legs(s, r, 0),
        "standalone + history": legs(s, 0, h),
        "raw + history": legs(0, r, h),
        "all legs, history across topic shifts (before)": lambda t: list(
            query_legs(t.standalone, t.raw, t.earlier)),
        "all legs (the graph)": legs(s, r, h),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="*", default=["mtrag", "domainrag"])
    args = parser.parse_args()
    configs = configurations()
    for name in args.sets:
        conversations, passages, conversation_of = SETS[name]
        assert passages is not None
        kb = KnowledgeBase.in_memory()
        kb.ingest(name, [
            SourceDocument(id=str(p["id"]), text=str(p["text"]), title=p.get("title"))
            for p in read_jsonl(args.data / passages) if p.get("text")
        ])
        rows = [r for r in read_jsonl(args.data / conversations) if r.get("gold_passage_ids")]
        turns = [(half(conversation_of(r)), Turn(r)) for r in rows]
        print(f"\n{name}: recall@{K} / MRR@{K} (tune n={sum(h == 'tune' for h, _ in turns)}, "
              f"check n={sum(h == 'check' for h, _ in turns)})")
        print("| configuration | tune | check | all |\n|---|---:|---:|---:|")
        for label, build in configs.items():
            found = [(h, t, [hit.doc_id for hit in kb.search(name, build(t), k=K)])
                     for h, t in turns]
            cells = []
            for which in ("tune", "check", "all"):
                chosen = [(t, ids) for h, t, ids in found if which in ("all", h)]
                recall = sum(recall_at_k(ids, t.gold, K) for t, ids in chosen) / len(chosen)
                rank = sum(mrr(ids, t.gold) for t, ids in chosen) / len(chosen)
                cells.append(f"{recall:.3f} / {rank:.3f}")
            print(f"| {label} | " + " | ".join(cells) + " |")
        kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
