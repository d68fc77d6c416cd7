"""The knowledge base: one facade over Qdrant local mode and a Qdrant server.

Every chunk is a point with a sparse BM25 vector named "bm25" (Qdrant applies IDF) and a
payload carrying its document id, so re-ingestion can diff a document's chunks and search
can return one hit per document. With a dense embedding model (CONVRAG_EMBEDDINGS) the
collection also has a named vector "dense", and search is hybrid: Qdrant's Query API
prefetches dense and sparse candidates for every query and fuses them with RRF itself.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from convrag.errors import UserError, missing_collection
from convrag.knowledge.dense import SPARSE_ONLY, embedding_errors, load_embeddings
from convrag.knowledge.ingest import IngestReport, SourceDocument, chunk_text
from convrag.knowledge.sparse import BM25Encoder
from convrag.settings import Settings

SPARSE_VECTOR = "bm25"
DENSE_VECTOR = "dense"
# Fixed forever: chunk ids derive from it, and changing it would re-add every chunk.
CHUNK_NAMESPACE = uuid.UUID("8f4c2e0a-3b5d-5c7e-9a1f-6d2b4e8c0a13")
_SCROLL_PAGE = 1024
# Document ids per lookup of stored chunks on a server (a MatchAny on the indexed doc_id).
_LOOKUP_BATCH = 256
_DELETE_BATCH = 1024


@dataclass(frozen=True)
class QueryLeg:
    """One query of a search: its text, extra sparse terms, and its weight in the fusion.

    `terms` are weighted search terms in the BM25 token space (see
    `convrag.language.tokens.search_terms`), added to the sparse vector of `text`; a leg may
    carry terms only. `weight` scales the leg's reciprocal ranks in RRF (its dense leg too,
    when search is hybrid).
    """

    text: str = ""
    terms: Mapping[str, float] | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"a query leg's weight must be positive, not {self.weight!r}")


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

    def __init__(
        self,
        client: QdrantClient,
        encoder: BM25Encoder | None = None,
        embeddings: Embeddings | None = None,
        *,
        embeddings_name: str | None = None,
    ) -> None:
        """Wrap an open client.

        The encoder defaults to BM25 with its standard parameters. With `embeddings`,
        collections get a dense vector too and search is hybrid; `embeddings_name` (the
        CONVRAG_EMBEDDINGS value) names the model in messages.
        """
        self.client = client
        self.encoder = encoder or BM25Encoder()
        self.embeddings = embeddings
        self.embeddings_name = embeddings_name or (
            SPARSE_ONLY if embeddings is None else type(embeddings).__name__
        )
        self._dimension: int | None = None
        self._checked: set[str] = set()
        options = client.init_options
        # Local mode evaluates filters by scanning every point, so one pass over the
        # collection beats a filtered lookup per batch of documents; a server has indexes.
        self._local = bool(options.get("path")) or options.get("location") == ":memory:"

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        """The server at `settings.qdrant_url`, else the local store under `settings.home`.

        Dense embeddings come from `settings.embeddings` (CONVRAG_EMBEDDINGS). Raises
        UserError when the embeddings cannot be set up, when the server cannot be reached
        or rejects the key, or when another process holds the local store.
        """
        embeddings = load_embeddings(settings.embeddings)

        def build(client: QdrantClient) -> KnowledgeBase:
            return cls(client, embeddings=embeddings, embeddings_name=settings.embeddings)

        if settings.qdrant_url:
            return build(_connect(settings.qdrant_url, settings.qdrant_api_key))
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
        return build(client)

    @classmethod
    def in_memory(cls, embeddings: Embeddings | None = None) -> KnowledgeBase:
        """A throw-away knowledge base in this process's memory (tests, evaluation runs)."""
        return cls(QdrantClient(":memory:"), embeddings=embeddings)

    def close(self) -> None:
        """Release the client; for local mode this frees the store for other processes."""
        self.client.close()

    @property
    def hybrid(self) -> bool:
        """True when chunks get dense vectors and search fuses dense with sparse."""
        return self.embeddings is not None

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        return bool(self.client.collection_exists(name))

    def ensure_collection(self, name: str) -> None:
        """Create collection `name` unless it exists; check an existing one fits this base.

        Raises UserError when an existing collection was built for sparse-only search and
        this base is hybrid, or the other way round, or with another dense dimension.
        """
        if self.collection_exists(name):
            self._check_vectors(name)
            return
        vectors: dict[str, models.VectorParams] = {}
        if self.embeddings is not None:
            vectors[DENSE_VECTOR] = models.VectorParams(
                size=self._dense_dimension(), distance=models.Distance.COSINE
            )
        self.client.create_collection(
            name,
            vectors_config=vectors,
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
        self._checked.add(name)

    def _dense_dimension(self) -> int:
        if self._dimension is None:
            assert self.embeddings is not None
            with embedding_errors(self.embeddings_name):
                self._dimension = len(self.embeddings.embed_query("dimension"))
        return self._dimension

    def _check_vectors(self, name: str) -> None:
        if name in self._checked:
            return
        vectors = self.client.get_collection(name).config.params.vectors
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        new = "re-ingest your documents into a new collection (--collection NAME)"
        if dense is None and self.embeddings is not None:
            raise UserError(
                f"The collection '{name}' was built for BM25 search only, but "
                f"CONVRAG_EMBEDDINGS={self.embeddings_name} asks for hybrid search: {new}, "
                "or set CONVRAG_EMBEDDINGS=bm25 to use it as it is."
            )
        if dense is not None and self.embeddings is None:
            raise UserError(
                f"The collection '{name}' was built for hybrid search with dense vectors, but "
                f"CONVRAG_EMBEDDINGS={self.embeddings_name}: set CONVRAG_EMBEDDINGS to the "
                f"model it was built with, or {new}."
            )
        if dense is not None and dense.size != self._dense_dimension():
            raise UserError(
                f"The collection '{name}' holds {dense.size}-dimensional dense vectors, but "
                f"{self.embeddings_name} makes {self._dense_dimension()}-dimensional ones: "
                f"use the model it was built with, or {new}."
            )
        self._checked.add(name)

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
        prune: bool = False,
        prune_source: str | None = None,
    ) -> IngestReport:
        """Index `documents` into collection `name`, creating it when needed.

        Each document's chunks are diffed against what is stored for that document id (and
        tenant): new chunks are added, chunks no longer produced are removed, identical ones
        are left alone. With `prune`, documents of this tenant that are stored but not in
        `documents` are removed too (with `prune_source`, only those ingested under that
        source). Chunks are embedded and upserted `batch_size` at a
        time. `progress(done, total)` is called after each document. Raises UserError when
        an id repeats or the collection does not fit this base (see `ensure_collection`).
        """
        ids = [document.id for document in documents]
        if len(set(ids)) != len(ids):
            repeated = next(i for i in ids if ids.count(i) > 1)
            raise UserError(
                f"The document id {repeated!r} is given twice: give each document a unique id."
            )
        self.ensure_collection(name)
        # On a server only this run's documents are looked up; pruning needs them all.
        stored = self._stored(name, tenant, None if prune or self._local else ids)
        prunable = (set(stored) if prune_source is None
                    else self._sources(name, tenant, prune_source)) if prune else set()
        added = unchanged = removed = 0
        pending: list[tuple[str, SourceDocument, int, str]] = []
        for done, document in enumerate(documents, start=1):
            previous = stored.pop(document.id, set())
            wanted: set[str] = set()
            for index, chunk in enumerate(chunk_text(document.text, max_tokens, overlap_tokens)):
                point_id = chunk_id(document.id, index, _fingerprint(document, chunk), tenant)
                wanted.add(point_id)
                if point_id in previous:
                    unchanged += 1
                    continue
                pending.append((point_id, document, index, chunk))
                added += 1
                if len(pending) >= batch_size:
                    self._upsert(name, pending, tenant)
                    pending = []
            stale = previous - wanted
            if stale:
                # The replacements must be stored before the old chunks go, so a search in
                # between still finds the document.
                self._upsert(name, pending, tenant)
                pending = []
                removed += self._delete_points(name, stale)
            if progress is not None:
                progress(done, len(documents))
        self._upsert(name, pending, tenant)
        if prune:
            removed += self._delete_points(
                name, set().union(*(ids for doc, ids in stored.items() if doc in prunable)))
        return IngestReport(
            collection=name,
            documents=len(documents),
            chunks_added=added,
            chunks_unchanged=unchanged,
            chunks_removed=removed,
            total_chunks=self.count(name),
        )

    def delete(
        self, name: str, doc_ids: Sequence[str], *, tenant: str | None = None
    ) -> IngestReport:
        """Remove the chunks of documents `doc_ids` (of `tenant`) from collection `name`.

        The report's `documents` counts the ids that had chunks. Raises UserError when
        the collection does not exist.
        """
        # No embedding is involved, so a collection of either mode can be pruned by hand.
        self._require(name, check_vectors=False)
        stored = self._stored(name, tenant, list(dict.fromkeys(doc_ids)))
        removed = self._delete_points(name, set().union(*stored.values()))
        return IngestReport(
            collection=name,
            documents=len(stored),
            chunks_added=0,
            chunks_unchanged=0,
            chunks_removed=removed,
            total_chunks=self.count(name),
        )

    def _upsert(
        self, name: str, pending: list[tuple[str, SourceDocument, int, str]], tenant: str | None
    ) -> None:
        if not pending:
            return
        texts = [_indexed_text(document, chunk) for _, document, _, chunk in pending]
        dense: list[list[float]] | None = None
        if self.embeddings is not None:
            with embedding_errors(self.embeddings_name):
                dense = self.embeddings.embed_documents(texts)
        points = []
        for number, ((point_id, document, index, chunk), text) in enumerate(
            zip(pending, texts, strict=True)
        ):
            sparse = self.encoder.encode_document(text)
            # A chunk without search terms (only numbers or symbols) is still stored so the
            # diff sees it; it just has no sparse vector to match.
            vector: dict[str, Any] = {SPARSE_VECTOR: sparse} if sparse.indices else {}
            if dense is not None:
                vector[DENSE_VECTOR] = dense[number]
            points.append(
                models.PointStruct(
                    id=point_id,
                    vector=vector,
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
            )
        self.client.upsert(name, points)

    def _delete_points(self, name: str, point_ids: set[str]) -> int:
        ordered = sorted(point_ids)
        for start in range(0, len(ordered), _DELETE_BATCH):
            batch = ordered[start : start + _DELETE_BATCH]
            self.client.delete(name, models.PointIdsList(points=list(batch)))
        return len(ordered)

    def _stored(
        self, name: str, tenant: str | None, doc_ids: Sequence[str] | None
    ) -> dict[str, set[str]]:
        """Stored chunk ids by document id, for `tenant`; `doc_ids` None: every document."""
        stored: dict[str, set[str]] = {}
        if doc_ids is None:
            self._scroll_into(stored, name, None, tenant)
        else:
            for start in range(0, len(doc_ids), _LOOKUP_BATCH):
                batch = list(doc_ids[start : start + _LOOKUP_BATCH])
                condition = models.FieldCondition(key="doc_id", match=models.MatchAny(any=batch))
                self._scroll_into(stored, name, models.Filter(must=[condition]), tenant)
        return stored

    def _sources(self, name: str, tenant: str | None, source: str) -> set[str]:
        """Ids of `tenant`'s documents in collection `name` ingested under `source`."""
        found: dict[str, set[str]] = {}
        condition = models.Filter(must=[_match("source", source)])
        self._scroll_into(found, name, condition, tenant)
        return set(found)

    def erase_tenant(self, tenant: str) -> int:
        """Remove every chunk of `tenant` from every collection; the number removed."""
        removed = 0
        for collection in self.client.get_collections().collections:
            condition = models.Filter(must=[_match("tenant", tenant)])
            removed += self.client.count(collection.name, count_filter=condition,
                                         exact=True).count
            self.client.delete(collection.name, models.FilterSelector(filter=condition))
        return removed

    def _scroll_into(
        self,
        stored: dict[str, set[str]],
        name: str,
        condition: models.Filter | None,
        tenant: str | None,
    ) -> None:
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                name,
                scroll_filter=condition,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=["doc_id", "tenant"],
                with_vectors=False,
            )
            for record in records:
                payload = record.payload or {}
                # Tenant is compared here rather than in the filter, because "no tenant" is
                # a null payload value, which a match condition cannot express.
                if payload.get("tenant") == tenant:
                    stored.setdefault(str(payload.get("doc_id")), set()).add(str(record.id))
            if offset is None:
                return

    def _require(self, name: str, *, check_vectors: bool = True) -> None:
        if not self.collection_exists(name):
            raise missing_collection(name)
        if check_vectors:
            self._check_vectors(name)

    def search(
        self,
        name: str,
        legs: Sequence[QueryLeg | str],
        *,
        k: int = 5,
        tenant: str | None = None,
        score_threshold: float | None = None,
    ) -> list[SearchHit]:
        """The `k` best documents for the query `legs`, best chunk of each, in rank order.

        A string is `QueryLeg(text=string)`. One leg on a sparse-only base is a BM25 search.
        Otherwise every leg becomes a BM25 prefetch (and, when hybrid and the leg has text, a
        dense prefetch too), fused with reciprocal rank fusion inside Qdrant, each prefetch
        weighted by its leg's weight. `score_threshold` (None or 0: off) is the BM25 score a
        chunk must reach for one of the legs; dense candidates are kept by rank. Legs
        without search terms are dropped; if none is left, returns []. Raises UserError when
        the collection does not exist or does not fit this base.
        """
        self._require(name)
        queries = [QueryLeg(text=leg) if isinstance(leg, str) else leg for leg in legs]
        sparse = [
            (leg, vector)
            for leg in queries
            if (vector := self.encoder.encode_query(leg.text, leg.terms)).indices
        ]
        if not sparse or k < 1:
            return []
        threshold = score_threshold or None
        # Several chunks of one document often rank together; fetching more leaves k
        # distinct documents after keeping the best chunk of each.
        fetch = 4 * k
        condition = None if tenant is None else models.Filter(must=[_match("tenant", tenant)])
        prefetches = [
            models.Prefetch(
                query=v, using=SPARSE_VECTOR, filter=condition, limit=fetch,
                score_threshold=threshold,
            )
            for _, v in sparse
        ]
        weights = [leg.weight for leg, _ in sparse]
        if self.embeddings is not None:
            texts = [leg for leg, _ in sparse if leg.text.strip()]
            with embedding_errors(self.embeddings_name):
                prefetches += [
                    models.Prefetch(
                        query=self.embeddings.embed_query(leg.text), using=DENSE_VECTOR,
                        filter=condition, limit=fetch,
                    )
                    for leg in texts
                ]
            weights += [leg.weight for leg in texts]
        if len(prefetches) == 1:
            response = self.client.query_points(
                name,
                query=sparse[0][1],
                using=SPARSE_VECTOR,
                query_filter=condition,
                limit=fetch,
                score_threshold=threshold,
                with_payload=True,
            )
        else:
            # Equal weights are plain RRF, asked for in the form servers before 1.16 know.
            fusion: models.FusionQuery | models.RrfQuery = (
                models.FusionQuery(fusion=models.Fusion.RRF)
                if len(set(weights)) == 1
                else models.RrfQuery(rrf=models.Rrf(weights=weights))
            )
            response = self.client.query_points(
                name,
                prefetch=prefetches,
                query=fusion,
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
