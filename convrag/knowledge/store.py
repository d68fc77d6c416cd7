"""The knowledge base: one facade over Qdrant local mode and a Qdrant server.

Every chunk is a point with a sparse BM25 vector named "bm25" (Qdrant applies IDF) and a
payload carrying its document id, so re-ingestion can diff a document's chunks and search
can return one hit per document. A dense vector for hybrid search would be a second named
vector next to "bm25", fused with RRF in the same `query_points` call.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from convrag.errors import UserError
from convrag.knowledge.ingest import IngestReport, SourceDocument, chunk_text
from convrag.knowledge.sparse import BM25Encoder
from convrag.settings import Settings

SPARSE_VECTOR = "bm25"
# Fixed forever: chunk ids derive from it, and changing it would re-add every chunk.
CHUNK_NAMESPACE = uuid.UUID("8f4c2e0a-3b5d-5c7e-9a1f-6d2b4e8c0a13")
_SCROLL_PAGE = 256


@dataclass(frozen=True)
class SearchHit:
    """The best chunk of one document for a search."""

    doc_id: str
    chunk_id: str
    title: str | None
    text: str
    score: float
    metadata: dict[str, Any]


def chunk_id(doc_id: str, index: int, fingerprint: str, tenant: str | None = None) -> str:
    """Point id of a chunk: the same document, position and content always get the same id."""
    key = f"{doc_id}\x1f{index}\x1f{fingerprint}"
    # Two tenants may ingest the same document; their points must not overwrite each other.
    if tenant is not None:
        key = f"{tenant}\x1f{key}"
    return str(uuid.uuid5(CHUNK_NAMESPACE, key))


def _fingerprint(document: SourceDocument, chunk: str) -> str:
    # Title and metadata are part of what a chunk stores (and the title of what it is
    # indexed under), so editing them must replace the chunk, like editing its text.
    content = json.dumps(
        [document.title, document.metadata, chunk], ensure_ascii=False, sort_keys=True, default=str
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _indexed_text(document: SourceDocument, chunk: str) -> str:
    # Later chunks of a long document rarely repeat its subject; the title brings it back.
    return f"{document.title}\n{chunk}" if document.title else chunk


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


class KnowledgeBase:
    """One facade over Qdrant local mode (path or ':memory:') and a Qdrant server (URL)."""

    def __init__(self, client: QdrantClient, encoder: BM25Encoder | None = None) -> None:
        """Wrap an open client; the encoder defaults to BM25 with its standard parameters."""
        self.client = client
        self.encoder = encoder or BM25Encoder()

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        """The server at `settings.qdrant_url`, else the local store under `settings.home`.

        Raises UserError when the server cannot be reached or rejects the key, or when
        another process holds the local store.
        """
        if settings.qdrant_url:
            return cls(_connect(settings.qdrant_url, settings.qdrant_api_key))
        path = settings.qdrant_path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed by another instance" not in str(exc):
                raise
            raise UserError(
                f"The knowledge base at {path} is in use by another convrag process: stop that "
                "process, or set QDRANT_URL to share a Qdrant server."
            ) from exc
        return cls(client)

    @classmethod
    def in_memory(cls) -> KnowledgeBase:
        """A throw-away knowledge base in this process's memory (tests, evaluation runs)."""
        return cls(QdrantClient(":memory:"))

    def close(self) -> None:
        """Release the client; for local mode this frees the store for other processes."""
        self.client.close()

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        return bool(self.client.collection_exists(name))

    def ensure_collection(self, name: str) -> None:
        """Create collection `name` for BM25 search unless it exists."""
        if self.collection_exists(name):
            return
        self.client.create_collection(
            name,
            vectors_config={},
            sparse_vectors_config={
                SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
        )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes do nothing there; they matter on a server.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            self.client.create_payload_index(
                name, "doc_id", field_schema=models.PayloadSchemaType.KEYWORD
            )
            self.client.create_payload_index(
                name,
                "tenant",
                field_schema=models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=True
                ),
            )

    def count(self, name: str) -> int:
        """Number of chunks in collection `name`."""
        return self.client.count(name, exact=True).count

    def ingest(
        self,
        name: str,
        documents: Sequence[SourceDocument],
        *,
        tenant: str | None = None,
        max_tokens: int = 200,
        overlap_tokens: int = 40,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 64,
    ) -> IngestReport:
        """Index `documents` into collection `name`, creating it when needed.

        Each document's chunks are diffed against what is stored for that document id (and
        tenant): new chunks are added, chunks no longer produced are removed, identical ones
        are left alone. `progress(done, total)` is called after each document.
        """
        self.ensure_collection(name)
        added = unchanged = removed = 0
        pending: list[models.PointStruct] = []
        for done, document in enumerate(documents, start=1):
            stored = self._stored_ids(name, document.id, tenant)
            wanted: set[str] = set()
            for index, chunk in enumerate(chunk_text(document.text, max_tokens, overlap_tokens)):
                point_id = chunk_id(document.id, index, _fingerprint(document, chunk), tenant)
                wanted.add(point_id)
                if point_id in stored:
                    unchanged += 1
                    continue
                pending.append(self._point(point_id, document, index, chunk, tenant))
                added += 1
                if len(pending) >= batch_size:
                    self.client.upsert(name, pending)
                    pending = []
            stale = stored - wanted
            if stale:
                # The replacements must be stored before the old chunks go, so a search in
                # between still finds the document.
                if pending:
                    self.client.upsert(name, pending)
                    pending = []
                self.client.delete(name, models.PointIdsList(points=sorted(stale)))
                removed += len(stale)
            if progress is not None:
                progress(done, len(documents))
        if pending:
            self.client.upsert(name, pending)
        return IngestReport(
            collection=name,
            documents=len(documents),
            chunks_added=added,
            chunks_unchanged=unchanged,
            chunks_removed=removed,
            total_chunks=self.count(name),
        )

    def _point(
        self, point_id: str, document: SourceDocument, index: int, chunk: str, tenant: str | None
    ) -> models.PointStruct:
        vector = self.encoder.encode_document(_indexed_text(document, chunk))
        return models.PointStruct(
            id=point_id,
            # A chunk without search terms (only numbers or symbols) is still stored so the
            # diff sees it; it just has no sparse vector to match.
            vector={SPARSE_VECTOR: vector} if vector.indices else {},
            payload={
                "doc_id": document.id,
                "chunk_index": index,
                "title": document.title,
                "source": document.source,
                "text": chunk,
                "tenant": tenant,
                "metadata": document.metadata,
            },
        )

    def _stored_ids(self, name: str, doc_id: str, tenant: str | None) -> set[str]:
        ids: set[str] = set()
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                name,
                scroll_filter=models.Filter(must=[_match("doc_id", doc_id)]),
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=["tenant"],
                with_vectors=False,
            )
            # Tenant is compared here rather than in the filter, because "no tenant" is a
            # null payload value, which a match condition cannot express.
            ids.update(str(r.id) for r in records if (r.payload or {}).get("tenant") == tenant)
            if offset is None:
                return ids

    def search(
        self, name: str, queries: Sequence[str], *, k: int = 5, tenant: str | None = None
    ) -> list[SearchHit]:
        """The `k` best documents for `queries`, best chunk of each, in rank order.

        One query is a BM25 search; several are fused with reciprocal rank fusion inside
        Qdrant. Queries without search terms are dropped; if none is left, returns [].
        Raises UserError when the collection does not exist.
        """
        if not self.collection_exists(name):
            raise UserError(
                f"The collection '{name}' does not exist yet: run `convrag ingest PATH` first."
            )
        vectors = [v for v in (self.encoder.encode_query(q) for q in queries) if v.indices]
        if not vectors or k < 1:
            return []
        # Several chunks of one document often rank together; fetching more leaves k
        # distinct documents after keeping the best chunk of each.
        fetch = 4 * k
        condition = None if tenant is None else models.Filter(must=[_match("tenant", tenant)])
        if len(vectors) == 1:
            response = self.client.query_points(
                name,
                query=vectors[0],
                using=SPARSE_VECTOR,
                query_filter=condition,
                limit=fetch,
                with_payload=True,
            )
        else:
            response = self.client.query_points(
                name,
                prefetch=[
                    models.Prefetch(query=v, using=SPARSE_VECTOR, filter=condition, limit=fetch)
                    for v in vectors
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                query_filter=condition,
                limit=fetch,
                with_payload=True,
            )
        hits: dict[str, SearchHit] = {}
        for point in response.points:
            payload = point.payload or {}
            doc_id = str(payload.get("doc_id"))
            if doc_id in hits:
                continue
            hits[doc_id] = SearchHit(
                doc_id=doc_id,
                chunk_id=str(point.id),
                title=payload.get("title"),
                text=str(payload.get("text", "")),
                score=float(point.score),
                metadata=dict(payload.get("metadata") or {}),
            )
            if len(hits) == k:
                break
        return list(hits.values())


def _connect(url: str, api_key: str | None) -> QdrantClient:
    """A client for the server at `url`, checked with a cheap call so failures surface here."""
    # The client's own version check runs on a background thread and, when the server is
    # down, prints a warning next to the clear error raised below; the call below suffices.
    client = QdrantClient(url=url, api_key=api_key, check_compatibility=False)
    try:
        client.get_collections()
    except UnexpectedResponse as exc:
        client.close()
        if exc.status_code in (401, 403):
            raise UserError(
                f"The Qdrant server at {url} rejected the API key: fix QDRANT_API_KEY."
            ) from exc
        raise UserError(
            f"The Qdrant server at {url} answered with HTTP {exc.status_code}: check that "
            "QDRANT_URL points at a Qdrant server."
        ) from exc
    except (ResponseHandlingException, OSError) as exc:
        client.close()
        raise UserError(
            f"Cannot reach the Qdrant server at {url}: start it, fix QDRANT_URL, or unset "
            "QDRANT_URL to use the embedded store."
        ) from exc
    return client
