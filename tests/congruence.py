"""One ingest-and-query scenario run against any KnowledgeBase, for congruence tests.

qdrant-client's own habit: run the same calls against two modes and compare. The
scenario covers ingestion (with a re-ingest, a changed document and a prune), tenants,
several query legs (weighted, with extra terms) fused in one call, and the score threshold.
"""

from __future__ import annotations

import math
from typing import Any

from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase, QueryLeg, SearchHit
from tests.conftest import sample_documents

COLLECTION = "congruence"
# Relative difference of two scores that still counts as equal.
TOLERANCE = 1e-4

QUERIES: list[list[str | QueryLeg]] = [
    ["尼罗河有多长？"],
    ["它有多长？", "尼罗河有多长？"],
    ["亚马逊河的流量"],
    ["Who was Marie Curie?"],
    ["When did Marie Curie die?", "When did she die?"],
    ["How long is the Mississippi?"],
    ["Einstein relativity"],
    ["长江发源于哪里"],
    [QueryLeg("它有多长？", weight=0.5), QueryLeg("尼罗河有多长？", weight=2.0)],
    [QueryLeg("Who was she?", terms={"curie": 1.5}), "When did Marie Curie die?"],
    [QueryLeg(terms={"mississippi": 1.0, "river": 0.5})],
]


def ranking(hits: list[SearchHit], k: int) -> list[tuple[float, list[str]]]:
    """Hits as (score, ids) groups of equal score in rank order, ids sorted within a group.

    Engines order exact ties as they like and cut the candidate list inside a tie group, so
    when `k` hits came back the last group shows its score only: which of its tied ids made
    the cut is arbitrary.
    """
    groups: list[tuple[float, list[str]]] = []
    for hit in hits:
        if groups and math.isclose(groups[-1][0], hit.score, rel_tol=TOLERANCE):
            groups[-1][1].append(hit.doc_id)
        else:
            groups.append((hit.score, [hit.doc_id]))
    if groups and len(hits) == k:
        groups[-1] = (groups[-1][0], [])
    return [(score, sorted(ids)) for score, ids in groups]


def assert_congruent(observed: Any, expected: Any, where: str = "") -> None:
    """`observed` equals `expected`, floats within TOLERANCE (engines compute in f32 or f64)."""
    if isinstance(expected, float):
        assert math.isclose(observed, expected, rel_tol=TOLERANCE), (where, observed, expected)
    elif isinstance(expected, dict):
        assert observed.keys() == expected.keys(), where
        for key in expected:
            assert_congruent(observed[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(observed) == len(expected), (where, observed, expected)
        for index, (left, right) in enumerate(zip(observed, expected, strict=True)):
            assert_congruent(left, right, f"{where}[{index}]")
    else:
        assert observed == expected, (where, observed, expected)


def run_scenario(kb: KnowledgeBase) -> dict[str, Any]:
    """Ingest, change, prune and query; return what a user could observe, in rank order."""
    documents = sample_documents()
    first = kb.ingest(COLLECTION, documents)
    again = kb.ingest(COLLECTION, documents)
    extra = SourceDocument(id="private", text="The Nile notes of tenant a.", title="Notes")
    kb.ingest(COLLECTION, [extra], tenant="a")
    changed = [documents[0].__class__(**{**documents[0].__dict__, "text": "改写后的内容。"})]
    pruned = kb.ingest(COLLECTION, changed + documents[2:], prune=True)
    observed: dict[str, Any] = {
        "reports": [r.as_dict() for r in (first, again, pruned)],
        "rankings": [ranking(kb.search(COLLECTION, q, k=5), 5) for q in QUERIES],
        "tenant_a": [h.doc_id for h in kb.search(COLLECTION, ["Nile"], tenant="a")],
        "threshold": ranking(kb.search(COLLECTION, ["Nile river"], k=5, score_threshold=1.0), 5),
    }
    return observed
