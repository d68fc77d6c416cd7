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
from convrag.nodes.models import Blocking, Core, run_async, run_sync
from convrag.nodes.resources import knowledge_base, open_knowledge_base


def to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain Document; metadata["id"] is the ingested document id."""
    metadata = dict(hit.metadata)
    metadata.update(id=hit.doc_id, chunk_id=hit.chunk_id, title=hit.title, score=hit.score)
    return Document(page_content=hit.text, metadata=metadata)


def _retrieve(state: State, context: Context, kb: KnowledgeBase) -> Core:
    queries = [state.get("standalone_question", ""), latest_question(state)]
    unique = list(dict.fromkeys(q.strip() for q in queries if q and q.strip()))
    if not unique:
        return {"documents": []}
    # Embedding the queries (an HTTP call in hybrid mode) and searching (a Qdrant server
    # with QDRANT_URL) block: under ainvoke they run in a worker thread, in one trip.
    hits = yield Blocking(_search, (kb, context.collection, unique), dict(
        k=context.top_k, tenant=context.tenant or None,
        score_threshold=context.score_threshold or None,
    ))
    return {"documents": [to_document(hit) for hit in hits]}


def _search(kb: KnowledgeBase, collection: str, queries: list[str], **options: Any
            ) -> list[SearchHit]:
    """The hits, or none when nothing was ingested into the collection yet."""
    if not kb.collection_exists(collection):
        return []
    return kb.search(collection, queries, **options)


async def retrieve(
    state: State, runtime: Runtime[Context], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Write this turn's documents: the top_k hits for both queries, fused."""
    context = get_context(runtime)
    kb = knowledge or await open_knowledge_base()
    return await run_async(_retrieve(state, context, kb), state, context)


def retrieve_sync(
    state: State, runtime: Runtime[Context], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """`retrieve` for the sync API (`invoke`, `stream`)."""
    context = get_context(runtime)
    return run_sync(_retrieve(state, context, knowledge or knowledge_base()), state, context)
