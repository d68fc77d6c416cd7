"""retrieve: search the knowledge base with three weighted legs, fused in Qdrant.

- the standalone question (the resolver's rewrite);
- the raw question, so a wrong rewrite cannot lose what the question alone would find;
- the history-aware query (HQE): the raw question plus the salient terms of the
  thread's earlier knowledge questions with decaying weights, so a follow-up the
  resolver left incomplete still finds the passages of its topic. Only the current
  topic's questions count, and a question that opens a new topic has no history leg
  (`convrag.language.expansion.opens_topic`): the old topic's passages would crowd it.

The rankings are fused with weighted RRF in one call; the weights below were measured.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langgraph.runtime import Runtime

from convrag.graph.context import Context, get_context
from convrag.graph.state import State, latest_question
from convrag.knowledge.store import KnowledgeBase, QueryLeg, SearchHit
from convrag.language.expansion import current_topic, history_terms
from convrag.nodes.models import Blocking, Core, run_async, run_sync
from convrag.nodes.resources import knowledge_base, open_knowledge_base

# The leg weights were measured on the tuning halves of MTRAG and DomainRAG with
# bench/retrieval_legs.py (which also reports each leg's contribution on both halves).

# RRF weight of the standalone question: the resolver's best reading of the question,
# so it leads; when it changed nothing it is the raw question and merges with that leg.
STANDALONE_WEIGHT = 1.0
# RRF weight of the raw question: a safety net for a wrong rewrite. Below the standalone
# leg so an unresolved "它有多长？" cannot tie the resolved one as equal weights let it;
# 0.3 and 0.5 measured the same, 0.5 keeps more of the net.
RAW_WEIGHT = 0.5
# RRF weight of the history-aware query: it finds the topic's passages when the rewrite
# missed. 0.5, 0.7 and 1.0 were within one turn of each other; 0.7 sits between MTRAG
# (which liked more) and DomainRAG (which liked less).
HISTORY_WEIGHT = 0.7


def to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain Document; metadata["id"] is the ingested document id
    and metadata["score"] the hit's relevance in [0, 1] (`SearchHit.relevance`): the same
    scale whichever legs the search had."""
    metadata = dict(hit.metadata)
    metadata.update(id=hit.doc_id, chunk_id=hit.chunk_id, title=hit.title,
                    score=round(hit.relevance, 4))
    return Document(page_content=hit.text, metadata=metadata)


def _retrieve(state: State, context: Context, kb: KnowledgeBase) -> Core:
    legs = query_legs(state.get("standalone_question", ""), latest_question(state),
                      topic_history(state))
    if not legs:
        return {"documents": []}
    # Embedding the queries (an HTTP call in hybrid mode) and searching (a Qdrant server
    # with QDRANT_URL) block: under ainvoke they run in a worker thread, in one trip.
    hits = yield Blocking(_search, (kb, context.collection, legs), dict(
        k=context.top_k, tenant=context.tenant or None,
        score_threshold=context.score_threshold or None,
    ))
    return {"documents": [to_document(hit) for hit in hits]}


def topic_history(state: State) -> list[str]:
    """The earlier knowledge questions the history-aware query is built from: those of
    the current topic, none when this turn's question opened a new one."""
    turn = state.get("turn", 0)
    earlier: list[tuple[str, bool]] = []
    for record in state.get("questions") or []:
        if record["turn"] == turn and record.get("opens_topic"):
            return []
        if record["turn"] < turn:
            earlier.append((str(record["question"]), bool(record.get("opens_topic"))))
    return current_topic(earlier)


def _search(kb: KnowledgeBase, collection: str, legs: list[QueryLeg], **options: Any
            ) -> list[SearchHit]:
    """The hits, or none when nothing was ingested into the collection yet."""
    if not kb.collection_exists(collection):
        return []
    return kb.search(collection, legs, **options)


async def retrieve(
    state: State, runtime: Runtime[Context], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Write this turn's documents: the top_k hits of the fused legs."""
    context = get_context(runtime)
    kb = knowledge or await open_knowledge_base()
    return await run_async(_retrieve(state, context, kb), state, context)


def retrieve_sync(
    state: State, runtime: Runtime[Context], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """`retrieve` for the sync API (`invoke`, `stream`)."""
    context = get_context(runtime)
    return run_sync(_retrieve(state, context, knowledge or knowledge_base()), state, context)


def query_legs(
    standalone: str,
    raw: str,
    earlier: list[str],
    *,
    standalone_weight: float = STANDALONE_WEIGHT,
    raw_weight: float = RAW_WEIGHT,
    history_weight: float = HISTORY_WEIGHT,
) -> list[QueryLeg]:
    """The search legs of one turn; a leg whose weight is 0 is left out (for ablations).

    `earlier` are the thread's earlier knowledge questions, oldest first. A raw question
    equal to the standalone one adds its weight to that leg instead of a second leg.
    """
    standalone, raw = standalone.strip(), raw.strip()
    legs: list[QueryLeg] = []
    if standalone and raw == standalone:
        weight = standalone_weight + raw_weight
        if weight > 0:
            legs.append(QueryLeg(text=standalone, weight=weight))
    else:
        for text, weight in ((standalone, standalone_weight), (raw, raw_weight)):
            if text and weight > 0:
                legs.append(QueryLeg(text=text, weight=weight))
    terms = history_terms(earlier, raw or standalone) if earlier else {}
    if terms and history_weight > 0:
        legs.append(QueryLeg(text=raw or standalone, terms=terms, weight=history_weight))
    return legs
