"""Dense embeddings for hybrid search, chosen by CONVRAG_EMBEDDINGS.

`bm25` (the default) means none: search is sparse only and needs nothing from the network.
`openai:<model>` talks to the OpenAI embeddings API or any compatible server
(OPENAI_BASE_URL); `fastembed:<model>` runs a fastembed model that is already on disk.
Nothing here downloads anything: a fastembed model that is not cached is a UserError.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.embeddings import Embeddings

from convrag.errors import UserError

SPARSE_ONLY = "bm25"
_SUPPORTED = "use 'bm25', 'openai:<model>' or 'fastembed:<model>'"


def load_embeddings(spec: str) -> Embeddings | None:
    """The dense embedding model named by `spec` (CONVRAG_EMBEDDINGS), or None for `bm25`.

    Raises UserError for an unknown provider, a missing API key, fastembed not being
    installed, or a fastembed model that is not on disk.
    """
    spec = spec.strip()
    if spec == SPARSE_ONLY:
        return None
    provider, _, model = spec.partition(":")
    if not model:
        raise UserError(f"CONVRAG_EMBEDDINGS={spec!r} names no model: {_SUPPORTED}.")
    if provider == "openai":
        return _openai(spec, model)
    if provider == "fastembed":
        return _fastembed(spec, model)
    raise UserError(f"CONVRAG_EMBEDDINGS={spec!r} is not supported: {_SUPPORTED}.")


def _openai(spec: str, model: str) -> Embeddings:
    import openai
    from langchain_openai import OpenAIEmbeddings

    try:
        # Token-length checking would fetch tiktoken's vocabulary from the network and
        # sends token ids that OpenAI-compatible servers (vLLM, Ollama) do not accept.
        return OpenAIEmbeddings(model=model, check_embedding_ctx_length=False)
    except openai.OpenAIError as exc:
        raise UserError(
            f"CONVRAG_EMBEDDINGS={spec} needs OPENAI_API_KEY: set it (any value for a local "
            "OpenAI-compatible server), or set CONVRAG_EMBEDDINGS=bm25."
        ) from exc


class FastEmbedEmbeddings(Embeddings):
    """A fastembed model as LangChain Embeddings (query_embed for queries)."""

    def __init__(self, model: Any) -> None:
        """Wrap a loaded `fastembed.TextEmbedding`."""
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of `texts` as passages."""
        return [vector.tolist() for vector in self.model.embed(texts)]

    def embed_query(self, text: str) -> list[float]:
        """Vector of `text` as a query (some models prefix queries differently)."""
        return [float(x) for x in next(iter(self.model.query_embed(text)))]


def _fastembed(spec: str, model: str) -> Embeddings:
    try:
        from fastembed import TextEmbedding
    except ImportError as exc:
        raise UserError(
            f"CONVRAG_EMBEDDINGS={spec} needs the fastembed package: `pip install fastembed` "
            "(with its model already on disk), or use 'openai:<model>' or 'bm25'."
        ) from exc
    try:
        loaded = TextEmbedding(
            model_name=model,
            cache_dir=os.environ.get("FASTEMBED_CACHE_PATH"),
            local_files_only=True,
        )
    except Exception as exc:  # fastembed raises several types for a model it cannot load
        raise UserError(
            f"The fastembed model {model!r} is not on disk ({exc}): download it once where "
            "the network is reachable (FASTEMBED_CACHE_PATH sets where fastembed looks), or "
            "set CONVRAG_EMBEDDINGS to 'openai:<model>' or 'bm25'."
        ) from exc
    return FastEmbedEmbeddings(loaded)


@contextmanager
def embedding_errors(spec: str) -> Iterator[None]:
    """Turn an embeddings endpoint that is down or refuses the key into one UserError."""
    try:
        yield
    except Exception as exc:
        import openai

        if isinstance(exc, openai.AuthenticationError):
            raise UserError(
                f"The embeddings endpoint for {spec} rejected the API key: fix OPENAI_API_KEY."
            ) from exc
        if isinstance(exc, openai.APIConnectionError):
            raise UserError(
                f"Cannot reach the embeddings endpoint for {spec}: start it, fix "
                "OPENAI_BASE_URL, or set CONVRAG_EMBEDDINGS=bm25."
            ) from exc
        if isinstance(exc, openai.APIStatusError):
            raise UserError(
                f"The embeddings endpoint for {spec} answered with HTTP {exc.status_code}: "
                "check that the model exists there."
            ) from exc
        raise
