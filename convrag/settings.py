"""Environment settings, read and validated once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from convrag.errors import UserError

OFFLINE = "offline"
DEFAULT_COLLECTION = "convrag"
DEFAULT_MODEL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Settings:
    """Where data lives and which external services to use.

    Attributes mirror the environment variables of DESIGN: CONVRAG_HOME,
    CONVRAG_CHAT_MODEL, CONVRAG_EMBEDDINGS, QDRANT_URL, QDRANT_API_KEY,
    CONVRAG_POSTGRES_URI, and CONVRAG_MODEL_TIMEOUT (seconds of model time per turn).
    """

    home: Path
    chat_model: str = OFFLINE
    embeddings: str = "bm25"
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    postgres_uri: str | None = None
    model_timeout_s: float = DEFAULT_MODEL_TIMEOUT_S

    @property
    def edge_path(self) -> Path:
        """Folder of the embedded Qdrant Edge store: one shard folder per collection."""
        return self.home / "edge"

    @property
    def qdrant_path(self) -> Path:
        """Folder of the qdrant-client local-mode store of versions before 0.3."""
        return self.home / "qdrant"

    @property
    def sqlite_path(self) -> Path:
        """File of the SQLite checkpointer."""
        return self.home / "checkpoints.sqlite"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, rejecting malformed values."""
        env = os.environ if env is None else env
        chat_model = (env.get("CONVRAG_CHAT_MODEL") or OFFLINE).strip()
        if chat_model != OFFLINE and ":" not in chat_model:
            raise UserError(
                f"CONVRAG_CHAT_MODEL={chat_model!r} is not valid: use 'offline' or a "
                "'provider:model' string such as 'openai:gpt-4.1-mini'."
            )
        embeddings = (env.get("CONVRAG_EMBEDDINGS") or "bm25").strip()
        if embeddings != "bm25" and ":" not in embeddings:
            raise UserError(
                f"CONVRAG_EMBEDDINGS={embeddings!r} is not valid: use 'bm25' or a "
                "'provider:model' string such as 'openai:text-embedding-3-small'."
            )
        timeout = (env.get("CONVRAG_MODEL_TIMEOUT") or "").strip()
        try:
            model_timeout_s = float(timeout) if timeout else DEFAULT_MODEL_TIMEOUT_S
        except ValueError:
            model_timeout_s = -1.0
        if not 0 < model_timeout_s < float("inf"):
            raise UserError(
                f"CONVRAG_MODEL_TIMEOUT={timeout!r} is not valid: use a positive number of "
                "seconds such as 30."
            )
        return cls(
            home=Path(env.get("CONVRAG_HOME") or ".convrag").expanduser(),
            chat_model=chat_model,
            embeddings=embeddings,
            qdrant_url=env.get("QDRANT_URL") or None,
            qdrant_api_key=env.get("QDRANT_API_KEY") or None,
            postgres_uri=env.get("CONVRAG_POSTGRES_URI") or None,
            model_timeout_s=model_timeout_s,
        )
