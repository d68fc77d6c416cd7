"""index_documents: add documents sent through the LangGraph server to the knowledge base.

The same diffing ingestion as `convrag ingest`: stable chunk ids, so sending the same
documents again adds nothing and a changed document replaces its chunks.

With auth on, the tenant is the caller's own (from the verified identity, never from the
input), so a user writes and prunes only their own documents, in any collection; a prune
reaches only documents sent through the API under the same `source` label.
"""

from __future__ import annotations

import os
from typing import Any

from langgraph.runtime import Runtime

from convrag.errors import UserError
from convrag.graph.context import DEFAULT_CONTEXT, user_tenant
from convrag.graph.state import IndexInput
from convrag.knowledge.ingest import document_from_record
from convrag.knowledge.store import KnowledgeBase
from convrag.nodes.models import Blocking, Core, run_async, run_sync
from convrag.nodes.resources import knowledge_base, open_knowledge_base
from convrag.settings import DEFAULT_COLLECTION

DEFAULT_SOURCE = "api"
# Documents per call: each is chunked and embedded inside the run, so one call's size
# bounds how long it holds the store and the run's memory.
MAX_DOCUMENTS_PER_CALL = int(os.environ.get("CONVRAG_MAX_DOCUMENTS_PER_CALL", 500))


def check_document_count(records: Any) -> None:
    """UserError when a call sends more than MAX_DOCUMENTS_PER_CALL documents."""
    if isinstance(records, list) and len(records) > MAX_DOCUMENTS_PER_CALL:
        raise UserError(
            f"One convrag_index call takes at most {MAX_DOCUMENTS_PER_CALL} documents "
            f"({len(records)} sent): send them in batches."
        )


def index_tenant(state: IndexInput, runtime: Runtime[Any] | None) -> str | None:
    """The tenant a call writes to: the verified user's, else the input's (auth off)."""
    requested = state.get("tenant") or None
    verified = user_tenant(runtime)
    if verified is None:
        return requested
    if requested not in (None, verified):
        raise UserError(
            f'"tenant" is {requested!r} but you may index only into your own tenant '
            f'({verified!r}): leave "tenant" out.'
        )
    return verified


def _index_documents(state: IndexInput, tenant: str | None, kb: KnowledgeBase) -> Core:
    records = state.get("documents")
    if not isinstance(records, list):
        raise UserError('"documents" must be a list of {"id", "text", "title"?, "metadata"?}.')
    check_document_count(records)
    source = state.get("source") or DEFAULT_SOURCE
    if not isinstance(source, str):
        raise UserError('"source" must be a string label, such as "api".')
    documents = [
        document_from_record(record, f"documents[{number}]", source=source)
        for number, record in enumerate(records)
    ]
    # Embedding and upserting block on I/O: under ainvoke they run in a worker thread,
    # so the server's event loop stays free.
    report = yield Blocking(kb.ingest, (state.get("collection") or DEFAULT_COLLECTION, documents),
                            dict(tenant=tenant, prune=bool(state.get("prune")),
                                 prune_source=source))
    return dict(report.as_dict())


async def index_documents(
    state: IndexInput, runtime: Runtime[Any], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Validate the documents, ingest them, and write the ingestion report."""
    tenant = index_tenant(state, runtime)
    kb = knowledge or await open_knowledge_base()
    return await run_async(_index_documents(state, tenant, kb), state, DEFAULT_CONTEXT)


def index_documents_sync(
    state: IndexInput, runtime: Runtime[Any], knowledge: KnowledgeBase | None = None
) -> dict[str, Any]:
    """`index_documents` for the sync API (`invoke`, `stream`)."""
    return run_sync(_index_documents(state, index_tenant(state, runtime),
                                     knowledge or knowledge_base()), state, DEFAULT_CONTEXT)
