"""The qdrant-client backend: a Qdrant server or cluster (QDRANT_URL), or local mode.

Local mode (a folder, or ':memory:') is qdrant-client's pure-Python engine: the reference
the embedded Qdrant Edge store is compared against in tests, and the store of convrag
versions before Qdrant Edge (see `convrag migrate`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from convrag.errors import UserError
from convrag.knowledge.backend import (
    DENSE_VECTOR,
    DOC_ID,
    RRF_K,
    SPARSE_VECTOR,
    TENANT,
    Found,
    Leg,
    PointData,
)
from convrag.knowledge.sparse import SparseVector

_SCROLL_PAGE = 1024
# Document ids per lookup of stored chunks on a server (a MatchAny on the indexed doc_id).
_LOOKUP_BATCH = 256
_DELETE_BATCH = 1024


def _vector(vector: SparseVector | list[float]) -> models.SparseVector | list[float]:
    if isinstance(vector, SparseVector):
        return models.SparseVector(indices=vector.indices, values=vector.values)
    return vector


def _tenant_filter(tenant: str) -> models.Filter:
    match = models.MatchValue(value=tenant)
    return models.Filter(must=[models.FieldCondition(key=TENANT, match=match)])


class ClientBackend:
    """Collections of a QdrantClient (server, cluster, or local mode)."""

    def __init__(self, client: QdrantClient) -> None:
        """Wrap an open client."""
        self.client = client
        options = client.init_options
        self.scans = bool(options.get("path")) or options.get("location") == ":memory:"

    @classmethod
    def connect(cls, url: str, api_key: str | None) -> ClientBackend:
        """The server at `url`, checked with a cheap call so failures surface here."""
        # The client's own version check runs on a background thread and, when the server
        # is down, prints a warning next to the clear error raised below.
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
        return cls(client)

    @classmethod
    def local(cls, path: Path | None = None) -> ClientBackend:
        """qdrant-client's local mode in folder `path`, or in memory when None."""
        if path is None:
            return cls(QdrantClient(":memory:"))
        try:
            return cls(QdrantClient(path=str(path)))
        except RuntimeError as exc:
            if "already accessed by another instance" not in str(exc):
                raise
            raise UserError(
                f"The knowledge base at {path} is in use by another convrag process: stop "
                "that process, or set QDRANT_URL to share a Qdrant server."
            ) from exc

    def collection_names(self) -> list[str]:
        """The names of the collections, sorted."""
        return sorted(c.name for c in self.client.get_collections().collections)

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        return bool(self.client.collection_exists(name))

    def create_collection(self, name: str, dense_size: int | None) -> None:
        """Create `name` with BM25 (IDF) and optionally dense vectors, and its indexes."""
        vectors: dict[str, models.VectorParams] = {}
        if dense_size is not None:
            vectors[DENSE_VECTOR] = models.VectorParams(
                size=dense_size, distance=models.Distance.COSINE
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
                name, DOC_ID, field_schema=models.PayloadSchemaType.KEYWORD
            )
            self.client.create_payload_index(
                name,
                TENANT,
                field_schema=models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=True
                ),
            )

    def dense_size(self, name: str) -> int | None:
        """The dense dimension of collection `name`; None when it is sparse-only."""
        vectors = self.client.get_collection(name).config.params.vectors
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        return None if dense is None else dense.size

    def count(self, name: str) -> int:
        """Number of points in collection `name`."""
        return self.client.count(name, exact=True).count

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        """Store `points`, replacing points with the same ids."""
        structs = []
        for point in points:
            vector: dict[str, Any] = {}
            if point.sparse is not None:
                vector[SPARSE_VECTOR] = _vector(point.sparse)
            if point.dense is not None:
                vector[DENSE_VECTOR] = point.dense
            structs.append(models.PointStruct(id=point.id, vector=vector, payload=point.payload))
        self.client.upsert(name, structs)

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the points `ids`."""
        for start in range(0, len(ids), _DELETE_BATCH):
            batch = list(ids[start : start + _DELETE_BATCH])
            self.client.delete(name, models.PointIdsList(points=list(batch)))

    def delete_tenant(self, name: str, tenant: str) -> int:
        """Remove every point of `tenant` from collection `name`; the number removed."""
        condition = _tenant_filter(tenant)
        removed = self.client.count(name, count_filter=condition, exact=True).count
        self.client.delete(name, models.FilterSelector(filter=condition))
        return removed

    def scroll(
        self, name: str, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(point id, payload `fields`) of every point, or of the points of `doc_ids`."""
        if doc_ids is None:
            yield from self._scroll(name, None, fields)
            return
        for start in range(0, len(doc_ids), _LOOKUP_BATCH):
            batch = list(doc_ids[start : start + _LOOKUP_BATCH])
            condition = models.FieldCondition(key=DOC_ID, match=models.MatchAny(any=batch))
            yield from self._scroll(name, models.Filter(must=[condition]), fields)

    def _scroll(
        self, name: str, condition: models.Filter | None, fields: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                name,
                scroll_filter=condition,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=list(fields),
                with_vectors=False,
            )
            for record in records:
                yield str(record.id), dict(record.payload or {})
            if offset is None:
                return

    def export(self, name: str) -> Iterator[list[PointData]]:
        """Every point of collection `name` with its vectors, a page at a time."""
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                name, limit=_SCROLL_PAGE, offset=offset, with_payload=True, with_vectors=True
            )
            batch = []
            for record in records:
                vectors = record.vector if isinstance(record.vector, dict) else {}
                sparse = vectors.get(SPARSE_VECTOR)
                dense = vectors.get(DENSE_VECTOR)
                batch.append(
                    PointData(
                        id=str(record.id),
                        sparse=None
                        if not isinstance(sparse, models.SparseVector)
                        else SparseVector(list(sparse.indices), list(sparse.values)),
                        dense=None if dense is None else list(dense),  # type: ignore[arg-type]
                        payload=dict(record.payload or {}),
                    )
                )
            yield batch
            if offset is None:
                return

    def query(
        self,
        name: str,
        legs: Sequence[Leg],
        *,
        tenant: str | None,
        limit: int,
        score_threshold: float | None,
    ) -> list[Found]:
        """One leg ranked by its vector, or several fused with weighted RRF, in one call."""
        condition = None if tenant is None else _tenant_filter(tenant)
        if len(legs) == 1:
            (leg,) = legs
            response = self.client.query_points(
                name,
                query=_vector(leg.vector),
                using=leg.using,
                query_filter=condition,
                limit=limit,
                score_threshold=score_threshold,
                with_payload=True,
            )
        else:
            prefetches = [
                models.Prefetch(
                    query=_vector(leg.vector),
                    using=leg.using,
                    filter=condition,
                    limit=limit,
                    score_threshold=score_threshold if leg.using == SPARSE_VECTOR else None,
                )
                for leg in legs
            ]
            rrf = models.Rrf(k=RRF_K, weights=[leg.weight for leg in legs])
            response = self.client.query_points(
                name,
                prefetch=prefetches,
                query=models.RrfQuery(rrf=rrf),
                query_filter=condition,
                limit=limit,
                with_payload=True,
            )
        return [Found(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def finish(self, name: str, added: int, removed: int) -> None:
        """Nothing to do: a server indexes by itself, local mode has no indexes."""

    def close(self) -> None:
        """Release the client; for local mode this frees the folder for other processes."""
        self.client.close()
