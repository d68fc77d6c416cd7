"""Moving a knowledge base made by an earlier version (qdrant-client local mode) to Qdrant Edge.

Versions before Qdrant Edge kept the embedded store under CONVRAG_HOME/qdrant. Opening the
knowledge base refuses such a store with one sentence (see `KnowledgeBase.open`), and
`convrag migrate` copies it with `migrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from convrag.errors import UserError
from convrag.settings import Settings


def legacy_store(settings: Settings) -> Path | None:
    """The folder of a local-mode store made by a version before Qdrant Edge, if one is there."""
    path = settings.qdrant_path
    return path if (path / "meta.json").is_file() else None


def migrate(settings: Settings, progress: Callable[[str, int], None] | None = None) -> list[str]:
    """Copy every collection of the earlier version's store into the Qdrant Edge store.

    Points keep their ids, vectors and payloads, so nothing is re-embedded and answers cite
    the same document ids. The old folder is then renamed (not deleted) to
    `qdrant.before-edge`. `progress(collection, points)` follows each collection. Returns the
    collections moved. Raises UserError when there is nothing to migrate or a collection of
    that name already exists in the new store.
    """
    from convrag.knowledge.client import ClientBackend
    from convrag.knowledge.edge import EdgeBackend

    path = legacy_store(settings)
    if path is None:
        raise UserError(
            f"There is no store of an earlier version at {settings.qdrant_path}: nothing to "
            "migrate."
        )
    old = ClientBackend.local(path)
    new = EdgeBackend(settings.edge_path)
    moved: list[str] = []
    try:
        for name in old.collection_names():
            if new.collection_exists(name):
                raise UserError(
                    f"The new store already has a collection '{name}': move "
                    f"{settings.edge_path / name} aside and run `convrag migrate` again."
                )
            new.create_collection(name, old.dense_size(name))
            copied = 0
            for batch in old.export(name):
                new.upsert(name, batch)
                copied += len(batch)
            new.finish(name, copied, 0)
            moved.append(name)
            if progress is not None:
                progress(name, copied)
    finally:
        old.close()
        new.close()
    path.rename(path.with_name(path.name + ".before-edge"))
    return moved
