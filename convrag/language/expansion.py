"""History-aware query expansion: weighted search terms from earlier questions.

After Lin et al. (2020), "Query Reformulation using Query History for Passage Retrieval
in Conversational Search" (HQE): a follow-up is searched together with the salient terms
of the questions before it, the conversation's first question (which usually sets the
topic) and the most recent ones (the current sub-topic) weighing most. The terms are in
the token space of `search_terms`, ready to ride as extra sparse terms on a query, so a
follow-up the resolver could not complete still finds the passages of its topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from convrag.language.entities import extract_entities
from convrag.language.tokens import search_terms

# The weights below were chosen one at a time on the tuning halves of MTRAG and DomainRAG
# (bench/retrieval_legs.py splits them), by the sum of the two recall@5 figures, MRR
# breaking ties; the check halves were only run on the result.

# Weight of a term from the question just before the current one. Below 1.0, so an
# expansion term counts less than a word the user typed now: at 1.0 DomainRAG's
# follow-ups were pulled back to the previous question's passage (recall@5 0.69 → 0.59);
# 0.25 lost MRR on MTRAG.
PREVIOUS_QUESTION_WEIGHT = 0.5
# Each step further back multiplies a term's weight by this: sub-topics drift, so an
# older question says less about this one. 0.3 and 0.5 tied; 0.7 lost on DomainRAG.
HISTORY_DECAY = 0.5
# The first question's terms never weigh less than this however far back it is: it
# names what the conversation is about (HQE's "topic keywords"). 0.6 beat 0 and 0.3 on
# DomainRAG (one topic per conversation) and cost nothing on MTRAG.
FIRST_QUESTION_WEIGHT = 0.6
# Terms below this weight are dropped: they add cost to the query and only noise.
MIN_TERM_WEIGHT = 0.05


def history_terms(earlier: Sequence[str], current: str) -> dict[str, float]:
    """Weighted search terms of the `earlier` questions (oldest first) for `current`.

    A term takes the highest weight any earlier question gives it; terms the current
    question already has are left out (its own leg carries them).
    """
    own = set(search_terms(current))
    weights: dict[str, float] = {}
    for distance, question in enumerate(reversed(earlier), start=1):
        weight = PREVIOUS_QUESTION_WEIGHT * HISTORY_DECAY ** (distance - 1)
        if distance == len(earlier):
            weight = max(weight, FIRST_QUESTION_WEIGHT)
        if weight < MIN_TERM_WEIGHT:
            continue
        for term in search_terms(question):
            if term not in own and weights.get(term, 0.0) < weight:
                weights[term] = weight
    return weights


# --- topic shifts -------------------------------------------------------------------
#
# The history-aware query carries the earlier questions' topic into a follow-up. When
# the user moves on ("尼罗河有多长？" … "居里夫人获得过哪些奖？"), that topic is noise: the
# old topic's passages crowd the new one's. A question opens a new topic when all three
# hold: the rewrite left it as typed (nothing was resolved from the conversation), it
# names a subject of its own, and it shares no search term with the questions of the
# current topic. Requiring a name keeps the history for follow-ups that only name an
# aspect ("学院有多少位教师？", "What about the fees?"), which the history is there for:
# without it, MTRAG lost recall@5 (0.961 → 0.951). Measured with bench/retrieval_legs.py.


def _names(text: str) -> list[str]:
    """The names a question gives: proper names; in Chinese only people, places and
    organisations, because jieba tags many common nouns (本科生) as "other proper noun"."""
    return [
        e.text for e in extract_entities(text)
        if e.proper and (e.lang == "en" or e.kind != "thing")
    ]


def opens_topic(standalone: str, raw: str, topic: Sequence[str]) -> bool:
    """Whether a question starts a new topic after `topic`, the current topic's
    questions (standalone forms, oldest first); see the comment above."""
    if not topic or standalone.strip() != raw.strip():
        return False
    own = set(search_terms(standalone))
    if not own:
        return False
    for question in topic:
        if own.intersection(search_terms(question)):
            return False
    return bool(_names(standalone))


def current_topic(questions: Sequence[tuple[str, bool]]) -> list[str]:
    """The questions of the current topic: from the last one that opened a topic on.

    `questions` are (standalone question, whether it opened a topic), oldest first.
    """
    start = 0
    for index, (_, opened) in enumerate(questions):
        if opened:
            start = index
    return [question for question, _ in questions[start:]]


def topic_openings(questions: Sequence[tuple[str, str]]) -> list[bool]:
    """For (standalone, raw) questions in the order asked, whether each opened a topic:
    what a thread records turn by turn, for a history that arrives all at once."""
    flags: list[bool] = []
    for index, (standalone, raw) in enumerate(questions):
        before = [(q, opened) for (q, _), opened in zip(questions[:index], flags, strict=True)]
        flags.append(opens_topic(standalone, raw, current_topic(before)))
    return flags
