"""index_documents: add documents sent through the LangGraph server to the knowledge base.

The same diffing ingestion as `convrag ingest`: stable chunk ids, so sending the same
documents again adds nothing and a changed document replaces its chunks.
"""

from __future__ import annotations

import asyncio
from typing import Any

from convrag.errors import UserError
from convrag.graph.state import IndexInput
from convrag.knowledge.ingest import document_from_record
from convrag.knowledge.store import KnowledgeBase
from convrag.nodes.resources import open_knowledge_base
from convrag.settings import DEFAULT_COLLECTION


async def index_documents(
    state: IndexInput, knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Validate the documents, ingest them, and write the ingestion report.

    Embedding and upserting block on I/O, so they run in a worker thread and the
    server's event loop stays free.
    """
    records = state.get("documents")
    if not isinstance(records, list):
        raise UserError('"documents" must be a list of {"id", "text", "title"?, "metadata"?}.')
    documents = [
        document_from_record(record, f"documents[{number}]", source="api")
        for number, record in enumerate(records)
    ]
    kb = knowledge or await open_knowledge_base()
    report = await asyncio.to_thread(
        kb.ingest,
        state.get("collection") or DEFAULT_COLLECTION,
        documents,
        tenant=state.get("tenant") or None,
        prune=bool(state.get("prune")),
    )
    return report.as_dict()
