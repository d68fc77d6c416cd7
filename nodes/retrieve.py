"""retrieve: search the knowledge base with the standalone and the raw question.

Both queries go to Qdrant in one call and their rankings are fused there (RRF), so a
wrong rewrite cannot lose what the raw question alone would have found.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langgraph.runtime import Runtime

from convrag.graph.context import Context, get_context
from convrag.graph.state import State, latest_question
from convrag.knowledge.store import KnowledgeBase, SearchHit
from convrag.nodes.resources import open_knowledge_base


def to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain Document; metadata["id"] is the ingested document id."""
    metadata = dict(hit.metadata)
    metadata.update(id=hit.doc_id, chunk_id=hit.chunk_id, title=hit.title, score=hit.score)
    return Document(page_content=hit.text, metadata=metadata)


async def retrieve(
    state: State, runtime: Runtime[Context], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Write this turn's documents: the top_k hits for both queries, fused."""
    context = get_context(runtime)
    kb = knowledge or await open_knowledge_base()
    queries = [state.get("standalone_question", ""), latest_question(state)]
    unique = list(dict.fromkeys(q.strip() for q in queries if q and q.strip()))
    if not unique or not kb.collection_exists(context.collection):
        return {"documents": []}
    hits = kb.search(
        context.collection, unique, k=context.top_k, tenant=context.tenant or None,
        score_threshold=context.score_threshold or None,
    )
    return {"documents": [to_document(hit) for hit in hits]}
