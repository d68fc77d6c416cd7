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

from convrag.language.tokens import search_terms

# Weight of a term from the question just before the current one. Below 1.0, so an
# expansion term counts less than a word the user actually typed now; 0.5 was best
# of 0.25/0.5/1.0 on the tuning halves of MTRAG and DomainRAG.
PREVIOUS_QUESTION_WEIGHT = 0.5
# Each step further back multiplies a term's weight by this: sub-topics drift, so an
# older question says less about this one. 0.5 against 0.7 and 0.3 on the same halves.
HISTORY_DECAY = 0.5
# The first question's terms never weigh less than this however far back it is: it
# names what the conversation is about (HQE's "topic keywords"). Chosen like the above.
FIRST_QUESTION_WEIGHT = 0.3
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
