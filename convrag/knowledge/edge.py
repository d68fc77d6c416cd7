"""The Qdrant Edge backend: Qdrant's engine inside this process, one shard per collection.

A collection is a shard directory under the store's folder (CONVRAG_HOME/edge/NAME).
Shards are opened on first use and kept open; an open shard holds a lock on its write-ahead
log, so a second handle, from another process or this one, fails with a bare "WouldBlock":
`_open` turns that into the one sentence users see.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as edge

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
_LOOKUP_BATCH = 256
# Below this many new points an ingest leaves segments as they are: searching a few
# unindexed points is cheap, and optimizing costs about a second per 10k points.
OPTIMIZE_AFTER = 5_000
# Deleted points count in Edge's IDF statistics until their segment is rebuilt, so every
# BM25 score drifts with the share of points deleted since; past this share it is rebuilt.
# (A 1% share moves scores in the fifth digit; the scenario tests delete a third.)
REBUILD_AFTER_DELETED = 0.05


def in_use_message(path: Path) -> str:
    """The one sentence for a store another process (or handle) holds."""
    return (
        f"The knowledge base at {path} is in use by another convrag process: stop that "
        "process, or set QDRANT_URL to share a Qdrant server."
    )


def _vector(vector: SparseVector | list[float]) -> edge.SparseVector | list[float]:
    if isinstance(vector, SparseVector):
        return edge.SparseVector(indices=vector.indices, values=vector.values)
    return vector


def _tenant_filter(tenant: str) -> edge.Filter:
    return edge.Filter(must=[edge.FieldCondition(key=TENANT, match=edge.MatchValue(value=tenant))])


class EdgeBackend:
    """Collections as Qdrant Edge shards under one folder."""

    scans = False

    def __init__(self, root: Path, *, temporary: bool = False) -> None:
        """Use folder `root` (created on first write); `temporary`: delete it on close."""
        self.root = root
        self._temporary = temporary
        self._shards: dict[str, edge.EdgeShard] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path:
        return self.root / name

    def _open(self, name: str, config: edge.EdgeConfig | None = None) -> edge.EdgeShard:
        with self._lock:
            shard = self._shards.get(name)
            if shard is not None:
                return shard
            path = self._path(name)
            try:
                if config is None:
                    shard = edge.EdgeShard.load(str(path))
                else:
                    shard = edge.EdgeShard.create(str(path), config)
            except Exception as exc:
                # The engine raises a bare Exception; the lock conflict is told by its text.
                if "WouldBlock" not in str(exc):
                    raise
                raise UserError(in_use_message(self.root)) from exc
            self._shards[name] = shard
            return shard

    def collection_names(self) -> list[str]:
        """The names of the collections, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/edge_config.json"))

    def collection_exists(self, name: str) -> bool:
        """True when collection `name` exists."""
        return name in self._shards or (self._path(name) / "edge_config.json").is_file()

    def create_collection(self, name: str, dense_size: int | None) -> None:
        """Create shard `name` with BM25 (IDF) and optionally dense vectors, and its indexes."""
        vectors = {}
        if dense_size is not None:
            vectors[DENSE_VECTOR] = edge.EdgeVectorParams(
                size=dense_size, distance=edge.Distance.Cosine
            )
        config = edge.EdgeConfig(
            vectors=vectors,
            sparse_vectors={SPARSE_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            optimizers=edge.EdgeOptimizersConfig(
                deleted_threshold=REBUILD_AFTER_DELETED, vacuum_min_vector_number=0
            ),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        shard = self._open(name, config)
        index = edge.UpdateOperation.create_field_index
        shard.update(index(DOC_ID, edge.PayloadSchemaType.Keyword))
        shard.update(index(TENANT, edge.KeywordIndexParams(is_tenant=True)))

    def dense_size(self, name: str) -> int | None:
        """The dense dimension of collection `name`; None when it is sparse-only."""
        self._open(name)
        # The engine persists the shard's vector configuration here and offers no getter.
        config = json.loads((self._path(name) / "edge_config.json").read_text(encoding="utf-8"))
        dense = (config.get("vectors") or {}).get(DENSE_VECTOR)
        return None if dense is None else int(dense["size"])

    def count(self, name: str) -> int:
        """Number of points in collection `name`."""
        return int(self._open(name).count(edge.CountRequest(exact=True)))

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        """Store `points`, replacing points with the same ids."""
        converted = []
        for point in points:
            vector: dict[str, Any] = {}
            if point.sparse is not None:
                vector[SPARSE_VECTOR] = _vector(point.sparse)
            if point.dense is not None:
                vector[DENSE_VECTOR] = point.dense
            converted.append(edge.Point(id=point.id, vector=vector, payload=point.payload))
        self._open(name).update(edge.UpdateOperation.upsert_points(converted))

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the points `ids`."""
        if ids:
            self._open(name).update(edge.UpdateOperation.delete_points(list(ids)))

    def delete_tenant(self, name: str, tenant: str) -> int:
        """Remove every point of `tenant` from collection `name`; the number removed."""
        shard = self._open(name)
        condition = _tenant_filter(tenant)
        removed = int(shard.count(edge.CountRequest(exact=True, filter=condition)))
        if removed:
            shard.update(edge.UpdateOperation.delete_points_by_filter(condition))
            self.finish(name, 0, removed)
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
            condition = edge.FieldCondition(key=DOC_ID, match=edge.MatchAny(any=batch))
            yield from self._scroll(name, edge.Filter(must=[condition]), fields)

    def _scroll(
        self, name: str, condition: edge.Filter | None, fields: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        shard = self._open(name)
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                edge.ScrollRequest(
                    offset=offset, limit=_SCROLL_PAGE, filter=condition, with_payload=list(fields)
                )
            )
            for record in records:
                yield str(record.id), dict(record.payload or {})
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
        """One leg ranked by its vector, or several fused with weighted RRF inside Edge."""
        condition = None if tenant is None else _tenant_filter(tenant)
        shard = self._open(name)
        if len(legs) == 1:
            (leg,) = legs
            request = edge.QueryRequest(
                limit=limit,
                query=edge.Query.Nearest(_vector(leg.vector), using=leg.using),
                filter=condition,
                score_threshold=score_threshold,
                with_payload=True,
            )
        else:
            prefetches = [
                edge.Prefetch(
                    limit=limit,
                    query=edge.Query.Nearest(_vector(leg.vector), using=leg.using),
                    filter=condition,
                    score_threshold=score_threshold if leg.using == SPARSE_VECTOR else None,
                )
                for leg in legs
            ]
            rrf = edge.Fusion.Rrf(k=RRF_K, weights=[leg.weight for leg in legs])
            request = edge.QueryRequest(
                limit=limit,
                prefetches=prefetches,
                # The 0.9.0 stubs leave Fusion.Rrf out of the query type; the engine takes it.
                query=rrf,  # type: ignore[arg-type]
                filter=condition,
                with_payload=True,
            )
        points = shard.query(request)
        return [Found(str(p.id), float(p.score), dict(p.payload or {})) for p in points]

    def finish(self, name: str, added: int, removed: int) -> None:
        """Persist the ingest; after a large one, merge segments and build the indexes."""
        shard = self._open(name)
        deleted_share = removed / max(1, self.count(name) + removed)
        if added >= OPTIMIZE_AFTER or deleted_share >= REBUILD_AFTER_DELETED:
            shard.optimize()
        shard.flush()

    def close(self) -> None:
        """Close every shard, releasing their locks; a temporary store is deleted."""
        with self._lock:
            for shard in self._shards.values():
                shard.close()
            self._shards.clear()
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)
