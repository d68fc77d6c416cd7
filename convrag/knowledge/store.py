"""The knowledge base: one facade over Qdrant Edge, a Qdrant server, and local mode.

Every chunk is a point with a sparse BM25 vector named "bm25" (Qdrant applies IDF) and a
payload carrying its document id, so re-ingestion can diff a document's chunks and search
can return one hit per document. With a dense embedding model (CONVRAG_EMBEDDINGS) the
collection also has a named vector "dense", and search is hybrid: every query leg becomes a
dense and a sparse candidate list, fused with weighted RRF inside Qdrant.

What differs between backends is in edge.py (the embedded default) and client.py (a server
via QDRANT_URL, or qdrant-client's local mode); backend.py is what they share, and
migrate.py moves an earlier version's store to Qdrant Edge. The backends are imported when
first opened, so a command that never searches never loads them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convrag.errors import UserError, missing_collection
from convrag.knowledge.backend import (
    DENSE_VECTOR,
    RRF_K,
    SPARSE_VECTOR,
    Backend,
    Leg,
    PointData,
)
from convrag.knowledge.dense import SPARSE_ONLY, embedding_errors, load_embeddings
from convrag.knowledge.ingest import IngestReport, SourceDocument, chunk_text
from convrag.knowledge.migrate import legacy_store
from convrag.knowledge.sparse import BM25Encoder
from convrag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "DENSE_VECTOR",
    "SPARSE_VECTOR",
    "DocumentInfo",
    "KnowledgeBase",
    "QueryLeg",
    "SearchHit",
    "chunk_id",
]

# Relative weight a query leg gives up to each leg before it: small enough never to
# reorder anything but exact ties (fused scores of different ranks differ by far more),
# large enough to survive the six digits scores are compared in.
TIE_BREAK = 1e-4
# Fixed forever: chunk ids derive from it, and changing it would re-add every chunk.
CHUNK_NAMESPACE = uuid.UUID("8f4c2e0a-3b5d-5c7e-9a1f-6d2b4e8c0a13")


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
    """The engine's score: BM25 for a search of one sparse leg, the fused RRF score
    otherwise (their scales differ; `relevance` is comparable)."""
    metadata: dict[str, Any]
    relevance: float = 0.0
    """The fused reciprocal-rank score as a share of the most a chunk can get, in [0, 1]:
    1.0 when every query leg ranked this chunk first. A one-leg search counts as a
    fusion of that leg alone, so every search path has the same scale."""


def _rrf_score(position: int, weight: float) -> float:
    """What one leg adds to a chunk's fused score in Qdrant's weighted RRF: `position`
    is the chunk's 0-based rank in that leg (the formula of Qdrant Edge and local mode)."""
    return 1.0 / ((position + 1) / weight + RRF_K - 1)


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


def _labelled(label: str) -> Callable[[str | None], bool]:
    """A prune scope: documents ingested under the source label `label`."""
    return lambda source: source == label


def _indexed_text(document: SourceDocument, chunk: str) -> str:
    # Later chunks of a long document rarely repeat its subject; the title brings it back.
    return f"{document.title}\n{chunk}" if document.title else chunk


@dataclass(frozen=True)
class DocumentInfo:
    """One stored document, as `convrag list` shows it."""

    id: str
    title: str | None
    source: str | None
    tenant: str | None
    chunks: int


_LEGACY_HINT = "convrag migrate"


class KnowledgeBase:
    """One facade over Qdrant Edge (embedded), a Qdrant server, and qdrant-client local mode."""

    def __init__(
        self,
        backend: Backend,
        encoder: BM25Encoder | None = None,
        embeddings: Embeddings | None = None,
        *,
        embeddings_name: str | None = None,
    ) -> None:
        """Wrap an open backend (see `open`, `in_memory`, `local_mode`).

        The encoder defaults to BM25 with its standard parameters. With `embeddings`,
        collections get a dense vector too and search is hybrid; `embeddings_name` (the
        CONVRAG_EMBEDDINGS value) names the model in messages.
        """
        self.backend = backend
        self.encoder = encoder or BM25Encoder()
        self.embeddings = embeddings
        self.embeddings_name = embeddings_name or (
            SPARSE_ONLY if embeddings is None else type(embeddings).__name__
        )
        self._dimension: int | None = None
        self._checked: set[str] = set()

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        """The server at `settings.qdrant_url`, else the Qdrant Edge store under `settings.home`.

        Dense embeddings come from `settings.embeddings` (CONVRAG_EMBEDDINGS). Raises
        UserError when the embeddings cannot be set up, when the server cannot be reached
        or rejects the key, when another process holds the embedded store, or when the
        store under `settings.home` was made by an earlier version and not migrated yet.
        """
        embeddings = load_embeddings(settings.embeddings)
        backend: Backend
        if settings.qdrant_url:
            from convrag.knowledge.client import ClientBackend

            backend = ClientBackend.connect(settings.qdrant_url, settings.qdrant_api_key)
        else:
            if legacy_store(settings) is not None:
                raise UserError(
                    f"The knowledge base at {settings.qdrant_path} was made by an earlier "
                    f"convrag version: run `{_LEGACY_HINT}` once to move it to the new store "
                    "(nothing is lost)."
                )
            from convrag.knowledge.edge import EdgeBackend

            backend = EdgeBackend(settings.edge_path)
        return cls(backend, embeddings=embeddings, embeddings_name=settings.embeddings)

    @classmethod
    def in_memory(cls, embeddings: Embeddings | None = None) -> KnowledgeBase:
        """A throw-away Qdrant Edge store, deleted on close (tests, evaluation runs)."""
        from convrag.knowledge.edge import EdgeBackend

        root = Path(tempfile.mkdtemp(prefix="convrag-kb-"))
        return cls(EdgeBackend(root, temporary=True), embeddings=embeddings)

    @classmethod
    def local_mode(cls, path: Path | None = None, embeddings: Embeddings | None = None
                   ) -> KnowledgeBase:
        """qdrant-client's local mode in folder `path` (None: in memory): the reference
        engine of the congruence tests, and the store of versions before Qdrant Edge."""
        from convrag.knowledge.client import ClientBackend

        return cls(ClientBackend.local(path), embeddings=embeddings)

    def close(self) -> None:
        """Release the backend; for an embedded store this frees it for other processes."""
        self.backend.close()

    @property
    def hybrid(self) -> bool:
        """True when chunks get dense vectors and search fuses dense with sparse."""
        return self.embeddings is not None

    def collections(self) -> list[str]:
        """The names of the collections, sorted."""
        return self.backend.collection_names()

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        return self.backend.collection_exists(name)

    def ensure_collection(self, name: str) -> None:
        """Create collection `name` unless it exists; check an existing one fits this base.

        Raises UserError when an existing collection was built for sparse-only search and
        this base is hybrid, or the other way round, or with another dense dimension.
        """
        if self.collection_exists(name):
            self._check_vectors(name)
            return
        self.backend.create_collection(
            name, None if self.embeddings is None else self._dense_dimension()
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
        size = self.backend.dense_size(name)
        new = "re-ingest your documents into a new collection (--collection NAME)"
        if size is None and self.embeddings is not None:
            raise UserError(
                f"The collection '{name}' was built for BM25 search only, but "
                f"CONVRAG_EMBEDDINGS={self.embeddings_name} asks for hybrid search: {new}, "
                "or set CONVRAG_EMBEDDINGS=bm25 to use it as it is."
            )
        if size is not None and self.embeddings is None:
            raise UserError(
                f"The collection '{name}' was built for hybrid search with dense vectors, but "
                f"CONVRAG_EMBEDDINGS={self.embeddings_name}: set CONVRAG_EMBEDDINGS to the "
                f"model it was built with, or {new}."
            )
        if size is not None and size != self._dense_dimension():
            raise UserError(
                f"The collection '{name}' holds {size}-dimensional dense vectors, but "
                f"{self.embeddings_name} makes {self._dense_dimension()}-dimensional ones: "
                f"use the model it was built with, or {new}."
            )
        self._checked.add(name)

    def count(self, name: str) -> int:
        """Number of chunks in collection `name`."""
        return self.backend.count(name)

    def documents(self, name: str, *, tenant: str | None = None,
                  all_tenants: bool = False) -> list[DocumentInfo]:
        """The documents of collection `name` (of `tenant`, or of every tenant), sorted by id.

        Raises UserError when the collection does not exist.
        """
        self._require(name, check_vectors=False)
        found: dict[tuple[str | None, str], list[Any]] = {}
        fields = ["doc_id", "title", "source", "tenant"]
        for _, payload in self.backend.scroll(name, None, fields):
            owner = payload.get("tenant")
            if not all_tenants and owner != tenant:
                continue
            key = (owner, str(payload.get("doc_id")))
            entry = found.setdefault(key, [payload.get("title"), payload.get("source"), 0])
            entry[2] += 1
        return [
            DocumentInfo(id=doc_id, title=title, source=source, tenant=owner, chunks=chunks)
            for (owner, doc_id), (title, source, chunks) in sorted(
                found.items(), key=lambda item: (item[0][1], item[0][0] or "")
            )
        ]

    def ingest(
        self,
        name: str,
        documents: Sequence[SourceDocument],
        *,
        tenant: str | None = None,
        max_tokens: int = 200,
        overlap_tokens: int = 40,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 256,
        prune: bool = False,
        prune_scope: Callable[[str | None], bool] | None = None,
        prune_source: str | None = None,
        dry_run: bool = False,
    ) -> IngestReport:
        """Index `documents` into collection `name`, creating it when needed.

        Each document's chunks are diffed against what is stored for that document id (and
        tenant): new chunks are added, chunks no longer produced are removed, identical ones
        are left alone. With `prune`, documents of this tenant that are stored but not in
        `documents` are removed too: all of them, or with `prune_scope` only those whose
        stored `source` it accepts (the CLI's "lies under the paths given"), or with
        `prune_source` only those ingested under that source label (the API's). With
        `dry_run` nothing is written and the report says what would change. Chunks are
        embedded and upserted `batch_size` at a
        time. `progress(done, total)` is called after each document. Raises UserError when
        an id repeats or the collection does not fit this base (see `ensure_collection`).
        """
        ids = [document.id for document in documents]
        if len(set(ids)) != len(ids):
            repeated = next(i for i, n in Counter(ids).items() if n > 1)
            raise UserError(
                f"The document id {repeated!r} is given twice: give each document a unique id."
            )
        exists = self.collection_exists(name)
        if exists:
            self._check_vectors(name)
        elif not dry_run:
            self.ensure_collection(name)
        # Backends that index doc_id look up only this run's documents; pruning needs all.
        scan = prune or self.backend.scans
        stored, sources = (
            self._stored(name, tenant, None if scan else ids) if exists else ({}, {})
        )
        added = unchanged = removed = 0
        changed: list[str] = []
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
                if len(pending) >= batch_size and not dry_run:
                    self._upsert(name, pending, tenant)
                    pending = []
            stale = previous - wanted
            if stale or wanted - previous:
                changed.append(document.id)
            if stale:
                removed += len(stale)
                if not dry_run:
                    # The replacements must be stored before the old chunks go, so a
                    # search in between still finds the document.
                    self._upsert(name, pending, tenant)
                    pending = []
                    self.backend.delete(name, sorted(stale))
            if progress is not None:
                progress(done, len(documents))
        pruned: list[str] = []
        if prune:
            if prune_scope is None and prune_source is not None:
                prune_scope = _labelled(prune_source)
            pruned = sorted(
                doc_id for doc_id in stored
                if prune_scope is None or prune_scope(sources.get(doc_id))
            )
            stale_points = sorted(set().union(*(stored[d] for d in pruned)))
            removed += len(stale_points)
            if not dry_run:
                self.backend.delete(name, stale_points)
        if not dry_run:
            self._upsert(name, pending, tenant)
            self.backend.finish(name, added, removed)
        total = self.count(name) if exists or not dry_run else 0
        return IngestReport(
            collection=name,
            documents=len(documents),
            chunks_added=added,
            chunks_unchanged=unchanged,
            chunks_removed=removed,
            total_chunks=total + (added - removed if dry_run else 0),
            changed=tuple(changed),
            pruned=tuple(pruned),
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
        stored, _ = self._stored(name, tenant, list(dict.fromkeys(doc_ids)))
        points = sorted(set().union(*stored.values()))
        self.backend.delete(name, points)
        self.backend.finish(name, 0, len(points))
        return IngestReport(
            collection=name,
            documents=len(stored),
            chunks_added=0,
            chunks_unchanged=0,
            chunks_removed=len(points),
            total_chunks=self.count(name),
            pruned=tuple(sorted(stored)),
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
        # Nanoseconds since the epoch plus the position in the batch: increases across
        # batches and runs, so search can rank the earlier stored of two tied chunks first.
        stored = time.time_ns()
        for number, ((point_id, document, index, chunk), text) in enumerate(
            zip(pending, texts, strict=True)
        ):
            sparse = self.encoder.encode_document(text)
            points.append(
                PointData(
                    id=point_id,
                    # A chunk without search terms (only numbers or symbols) is still stored
                    # so the diff sees it; it just has no sparse vector to match.
                    sparse=sparse if sparse.indices else None,
                    dense=None if dense is None else dense[number],
                    payload={
                        "doc_id": document.id,
                        "chunk_index": index,
                        "stored": stored + number,
                        "title": document.title,
                        "source": document.source,
                        "text": chunk,
                        "tenant": tenant,
                        "metadata": document.metadata,
                    },
                )
            )
        self.backend.upsert(name, points)

    def _stored(
        self, name: str, tenant: str | None, doc_ids: Sequence[str] | None
    ) -> tuple[dict[str, set[str]], dict[str, str | None]]:
        """Stored chunk ids and the source, by document id, for `tenant`; `doc_ids` None:
        every document."""
        stored: dict[str, set[str]] = {}
        sources: dict[str, str | None] = {}
        for point_id, payload in self.backend.scroll(
            name, doc_ids, ["doc_id", "tenant", "source"]
        ):
            # Tenant is compared here rather than in a filter, because "no tenant" is a
            # null payload value, which a match condition cannot express.
            if payload.get("tenant") == tenant:
                doc_id = str(payload.get("doc_id"))
                stored.setdefault(doc_id, set()).add(point_id)
                sources[doc_id] = payload.get("source")
        return stored, sources

    def erase_tenant(self, tenant: str) -> int:
        """Remove every chunk of `tenant` from every collection; the number removed."""
        removed = 0
        for name in self.backend.collection_names():
            removed += self.backend.delete_tenant(name, tenant)
        return removed

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
        # Legs come in order of precedence (the rewritten question before the raw one): a
        # hair less weight for each later leg makes a tie in fused rank go to the earlier.
        weights = [leg.weight * (1 - TIE_BREAK * n) for n, (leg, _) in enumerate(sparse)]
        fused = [Leg(vector, w) for (_, vector), w in zip(sparse, weights, strict=True)]
        if self.embeddings is not None:
            with embedding_errors(self.embeddings_name):
                fused += [
                    Leg(self.embeddings.embed_query(leg.text), w)
                    for (leg, _), w in zip(sparse, weights, strict=True)
                    if leg.text.strip()
                ]
        # Several chunks of one document often rank together; fetching more leaves k
        # distinct documents after keeping the best chunk of each.
        found = self.backend.query(
            name, fused, tenant=tenant, limit=4 * k, score_threshold=score_threshold or None
        )
        # Scores tie often (fused ranks, duplicate passages, short chunks with the same
        # terms). Engines order ties differently (local mode by insertion, Edge as its
        # threads finish), so every store breaks them the same way: the chunk stored first
        # ranks first, as in local mode, then point id. Six significant digits make a tie a
        # tie whether an engine computed in 32- or 64-bit floats.
        found.sort(key=lambda point: (
            -float(f"{point.score:.6g}"), point.payload.get("stored", 0), point.id
        ))
        best = sum(_rrf_score(0, leg.weight) for leg in fused)
        hits: dict[str, SearchHit] = {}
        for position, point in enumerate(found):
            payload = point.payload
            doc_id = str(payload.get("doc_id"))
            if doc_id in hits:
                continue
            # One leg comes back ranked by BM25 score, unfused: its rank is what a fusion
            # of that leg alone would score.
            fused_score = point.score if len(fused) > 1 else _rrf_score(position, fused[0].weight)
            hits[doc_id] = SearchHit(
                doc_id=doc_id,
                chunk_id=point.id,
                title=payload.get("title"),
                text=str(payload.get("text", "")),
                score=point.score,
                metadata=dict(payload.get("metadata") or {}),
                relevance=min(1.0, fused_score / best),
            )
            if len(hits) == k:
                break
        return list(hits.values())
