"""The language layer's cost per call on ordinary, long and adversarial questions.

Every function the graph runs on a question is timed on each input (p50 and p99 over
repeated calls, in milliseconds, the per-text caches (words, tags, references, search
terms) emptied before each call), after one warm-up call that loads jieba's dictionary
and part-of-speech tables, so the figures are per-turn costs, not start-up. Inputs stay
within the question length limit (2,000 characters). Run from the checkout:
`python bench/language_cost.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from convrag.language import entities, gate, intent, references, tokens
from convrag.language.checks import DEFAULT_MAX_QUESTION_CHARS
from convrag.language.entities import extract_entities
from convrag.language.expansion import history_terms
from convrag.language.extractive import extractive_answer
from convrag.language.resolver import replay, resolve
from convrag.language.tokens import detect_lang, search_terms, zh_cut

LIMIT = DEFAULT_MAX_QUESTION_CHARS


def inputs() -> dict[str, str]:
    """Named questions: two ordinary ones, long natural text, and adversarial strings."""
    rng = random.Random(7)
    zh_sentence = "长江发源于青藏高原，流经十一个省级行政区，最后注入东海。"
    en_sentence = "The river rises in the highlands and flows east to the sea. "
    mixed = ["abc ", "中", "7", "？", "It ", "峰", "é", "—", "the "]
    return {
        "ordinary zh": "它有多长？",
        "ordinary en": "When did she die?",
        "long zh (2,000 chars)": (zh_sentence * 80)[:LIMIT],
        "long en (2,000 chars)": (en_sentence * 40)[:LIMIT],
        "random CJK (2,000)": "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(LIMIT)),
        "one repeated char (2,000)": "啊" * LIMIT,
        "mixed scripts (2,000)": "".join(rng.choice(mixed) for _ in range(LIMIT))[:LIMIT],
    }


def functions() -> dict[str, Callable[[str], object]]:
    """What the graph calls per question, each on a dialogue that has some history."""
    zh = replay([("user", "长江有多长？"), ("assistant", "长江全长约6300公里。")])
    en = replay([("user", "Who was Ada Lovelace?"),
                 ("assistant", "Ada Lovelace was a mathematician.")])
    passages = ["长江全长约6300公里，是中国最长的河流。它发源于青藏高原。",
                "The Danube is about 2,850 km long. It flows into the Black Sea."]

    def dialogue(text: str):  # noqa: ANN202 (a private helper of the benchmark)
        return zh if detect_lang(text) == "zh" else en

    return {
        "detect_lang": detect_lang,
        "gate.check": lambda t: gate.check(t, has_history=True, names_subject=False),
        "intent.classify": intent.classify,
        "intent.gibberish": intent.gibberish,
        "extract_entities": extract_entities,
        "resolve": lambda t: resolve(t, dialogue(t)),
        "search_terms": search_terms,
        "history_terms": lambda t: history_terms(["长江有多长？", "Who was Ada Lovelace?"], t),
        "extractive_answer": lambda t: extractive_answer(t, passages, lang=detect_lang(t)),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    texts, calls = inputs(), functions()
    for call in calls.values():  # warm-up: jieba's dictionary and tables load here
        call("长江有多长？")
    print(f"p50 / p99 ms over {args.repeat} calls each\n")
    print("| input | " + " | ".join(calls) + " |")
    print("|---|" + "---:|" * len(calls))
    for label, text in texts.items():
        cells = []
        for call in calls.values():
            times = []
            for _ in range(args.repeat):
                # A new question each time, as in a real turn: the per-text caches emptied.
                zh_cut.cache_clear()
                tokens._search_terms.cache_clear()
                entities._tagged.cache_clear()
                references._zh_references.cache_clear()
                started = time.perf_counter()
                call(text)
                times.append((time.perf_counter() - started) * 1000)
            cells.append(f"{statistics.median(times):.2f} / {percentile(times, 0.99):.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
