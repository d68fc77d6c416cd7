"""index_documents: add documents sent through the LangGraph server to the knowledge base.

The same diffing ingestion as `convrag ingest`: stable chunk ids, so sending the same
documents again adds nothing and a changed document replaces its chunks.
"""

from __future__ import annotations

from typing import Any

from convrag.errors import UserError
from convrag.graph.context import DEFAULT_CONTEXT
from convrag.graph.state import IndexInput
from convrag.knowledge.ingest import document_from_record
from convrag.knowledge.store import KnowledgeBase
from convrag.nodes.models import Blocking, Core, run_async, run_sync
from convrag.nodes.resources import knowledge_base, open_knowledge_base
from convrag.settings import DEFAULT_COLLECTION


def _index_documents(state: IndexInput, kb: KnowledgeBase) -> Core:
    records = state.get("documents")
    if not isinstance(records, list):
        raise UserError('"documents" must be a list of {"id", "text", "title"?, "metadata"?}.')
    documents = [
        document_from_record(record, f"documents[{number}]", source="api")
        for number, record in enumerate(records)
    ]
    # Embedding and upserting block on I/O: under ainvoke they run in a worker thread,
    # so the server's event loop stays free.
    report = yield Blocking(kb.ingest, (state.get("collection") or DEFAULT_COLLECTION, documents),
                            dict(tenant=state.get("tenant") or None,
                                 prune=bool(state.get("prune"))))
    return dict(report.as_dict())


async def index_documents(
    state: IndexInput, knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Validate the documents, ingest them, and write the ingestion report."""
    kb = knowledge or await open_knowledge_base()
    return await run_async(_index_documents(state, kb), state, DEFAULT_CONTEXT)


def index_documents_sync(
    state: IndexInput, knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """`index_documents` for the sync API (`invoke`, `stream`)."""
    return run_sync(_index_documents(state, knowledge or knowledge_base()), state,
                    DEFAULT_CONTEXT)
