"""One ingest-and-query scenario run against any KnowledgeBase, for congruence tests.

qdrant-client's own habit: run the same calls against two modes and compare. The
scenario covers ingestion (with a re-ingest, a changed document and a prune), tenants,
several queries fused in one call, and the score threshold.
"""

from __future__ import annotations

from typing import Any

from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from tests.conftest import sample_documents

COLLECTION = "congruence"

QUERIES: list[list[str]] = [
    ["尼罗河有多长？"],
    ["它有多长？", "尼罗河有多长？"],
    ["亚马逊河的流量"],
    ["Who was Marie Curie?"],
    ["When did Marie Curie die?", "When did she die?"],
    ["How long is the Mississippi?"],
    ["Einstein relativity"],
    ["长江发源于哪里"],
]


def run_scenario(kb: KnowledgeBase) -> dict[str, Any]:
    """Ingest, change, prune and query; return what a user could observe, ids in rank order."""
    documents = sample_documents()
    first = kb.ingest(COLLECTION, documents)
    again = kb.ingest(COLLECTION, documents)
    extra = SourceDocument(id="private", text="The Nile notes of tenant a.", title="Notes")
    kb.ingest(COLLECTION, [extra], tenant="a")
    changed = [documents[0].__class__(**{**documents[0].__dict__, "text": "改写后的内容。"})]
    pruned = kb.ingest(COLLECTION, changed + documents[2:], prune=True)
    observed: dict[str, Any] = {
        "reports": [r.as_dict() for r in (first, again, pruned)],
        "rankings": [[h.doc_id for h in kb.search(COLLECTION, q, k=5)] for q in QUERIES],
        "tenant_a": [h.doc_id for h in kb.search(COLLECTION, ["Nile"], tenant="a")],
        "threshold": [
            h.doc_id for h in kb.search(COLLECTION, ["Nile river"], k=5, score_threshold=1.0)
        ],
    }
    return observed
