"""The knowledge base: loading and chunking documents, BM25 vectors, the Qdrant store."""

from convrag.knowledge.ingest import (
    IngestReport,
    SourceDocument,
    chunk_text,
    load_paths,
)
from convrag.knowledge.sparse import BM25Encoder
from convrag.knowledge.store import DocumentInfo, KnowledgeBase, QueryLeg, SearchHit

__all__ = [
    "BM25Encoder",
    "DocumentInfo",
    "IngestReport",
    "KnowledgeBase",
    "QueryLeg",
    "SearchHit",
    "SourceDocument",
    "chunk_text",
    "load_paths",
]
