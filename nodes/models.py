"""The one place nodes get chat models from, so tests and embedding apps patch one spot.

`chat_model(name)` returns None for the offline mode. Models are created lazily (nothing
reaches the network at import time) and cached per name. `register_chat_model` lets a
test or a host application supply a ready model object under a name of its choosing,
which a run then selects with Context(chat_model=name).
"""

from __future__ import annotations

import threading

from langchain_core.language_models import BaseChatModel

from convrag.errors import UserError
from convrag.graph.context import Context
from convrag.settings import OFFLINE, Settings

_lock = threading.Lock()
_models: dict[str, BaseChatModel] = {}


def register_chat_model(name: str, model: BaseChatModel) -> None:
    """Make `model` available as Context(chat_model=name)."""
    with _lock:
        _models[name] = model


def unregister_chat_model(name: str) -> None:
    """Forget a model registered or created under `name`."""
    with _lock:
        _models.pop(name, None)


def model_name(context: Context) -> str:
    """The model a run uses: the Context's choice, else CONVRAG_CHAT_MODEL, else offline."""
    return context.chat_model.strip() or Settings.from_env().chat_model


def chat_model(context: Context) -> BaseChatModel | None:
    """The chat model of this run, or None in offline mode."""
    name = model_name(context)
    if name == OFFLINE:
        return None
    with _lock:
        model = _models.get(name)
        if model is None:
            model = _create(name, context.model_timeout_s)
            _models[name] = model
    return model


def _create(name: str, timeout_s: float) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name, timeout=timeout_s, max_retries=1)
    except ImportError as exc:
        raise UserError(
            f"The chat model {name!r} needs a provider package that is not installed "
            f"({exc.name}): install it, or set CONVRAG_CHAT_MODEL=offline."
        ) from exc
    except Exception as exc:  # provider constructors raise many kinds for a missing key
        raise UserError(
            f"Cannot set up the chat model {name!r}: {exc}. Set the provider's API key "
            "(e.g. OPENAI_API_KEY), or set CONVRAG_CHAT_MODEL=offline."
        ) from exc
