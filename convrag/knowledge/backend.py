"""What the knowledge base needs from a Qdrant backend, in types neither backend owns.

`KnowledgeBase` (store.py) does everything that is the same for every backend: chunk ids,
diffing a document's chunks, encoding queries, keeping the best chunk per document. A
backend (edge.py: Qdrant Edge in this process; client.py: qdrant-client, for a server or
its local mode) stores points and runs one fused query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from convrag.knowledge.sparse import SparseVector

SPARSE_VECTOR = "bm25"
DENSE_VECTOR = "dense"
# Qdrant's default RRF constant, given explicitly so every backend fuses alike (Qdrant
# Edge has no default for it).
RRF_K = 2
# Payload fields with a keyword index: documents are looked up by id, and searches and
# prunes are filtered by tenant (a tenant index groups a tenant's points on disk).
DOC_ID = "doc_id"
TENANT = "tenant"


@dataclass(frozen=True)
class PointData:
    """A chunk to store: its id, vectors and payload."""

    id: str
    sparse: SparseVector | None
    dense: list[float] | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Leg:
    """One ranked list to fuse: a sparse (BM25) or dense query vector and its RRF weight."""

    vector: SparseVector | list[float]
    weight: float = 1.0

    @property
    def using(self) -> str:
        """The named vector the leg searches."""
        return SPARSE_VECTOR if isinstance(self.vector, SparseVector) else DENSE_VECTOR


@dataclass(frozen=True)
class Found:
    """A point a query found."""

    id: str
    score: float
    payload: dict[str, Any]


class Backend(Protocol):
    """Storage of points in named collections, and fused search over them."""

    #: True when filtering means scanning every point (qdrant-client's local mode), so
    #: one pass over a collection beats a filtered lookup per batch of documents.
    scans: bool

    def collection_names(self) -> list[str]:
        """The names of the collections, sorted."""
        ...

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        ...

    def create_collection(self, name: str, dense_size: int | None) -> None:
        """Create `name` with a BM25 vector (IDF modifier), a dense one of `dense_size`
        dimensions (cosine) unless None, and keyword indexes on doc_id and tenant."""
        ...

    def dense_size(self, name: str) -> int | None:
        """The dense dimension of collection `name`; None when it is sparse-only."""
        ...

    def count(self, name: str) -> int:
        """Number of points in collection `name`."""
        ...

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        """Store `points`, replacing points with the same ids."""
        ...

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the points `ids`."""
        ...

    def delete_tenant(self, name: str, tenant: str) -> int:
        """Remove every point of `tenant` from collection `name`; the number removed."""
        ...

    def scroll(
        self, name: str, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(point id, payload `fields`) of every point, or of the points of `doc_ids`."""
        ...

    def query(
        self,
        name: str,
        legs: Sequence[Leg],
        *,
        tenant: str | None,
        limit: int,
        score_threshold: float | None,
    ) -> list[Found]:
        """The best `limit` points: one leg ranks by its vector (BM25 score at least
        `score_threshold`), several are fused with weighted RRF (the threshold applies to
        sparse legs). `tenant` None searches every tenant's points."""
        ...

    def finish(self, name: str, added: int, removed: int) -> None:
        """Called after an ingest added and removed points: persist, build indexes if worth
        it."""
        ...

    def close(self) -> None:
        """Release the store (for an embedded one, so another process may open it)."""
        ...
