"""The one place nodes get chat models from, so tests and embedding apps patch one spot.

`chat_model(name)` returns None for the offline mode. Models are created lazily (nothing
reaches the network at import time) and cached per name. `register_chat_model` lets a
test or a host application supply a ready model object under a name of its choosing,
which a run then selects with Context(chat_model=name).

It also runs the nodes. A node's work is one generator, its core, that yields what it
needs from the outside world (`ModelCall`, `Blocking`) and gets the result sent back (or
the error thrown in); `run_sync` and `run_async` drive a core with the sync and the
async API. So every node serves `invoke` and `ainvoke` with the same code, blocking
calls leave the event loop under `ainvoke`, and model time is bounded per turn in one
place: all model calls of a turn share one budget of `model_timeout(context)` seconds
(rewrite, summary and answer together), so a hung model costs at most one timeout per
turn and the nodes after it fall back to the rules at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langgraph.types import Overwrite

from convrag.errors import UserError
from convrag.graph.context import Context
from convrag.settings import OFFLINE, Settings

if TYPE_CHECKING:  # langchain_core.language_models costs ~0.1 s at import; offline needs none
    from langchain_core.language_models import BaseChatModel

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
    return context.chat_model.strip() or _env_settings().chat_model


def chat_model(context: Context) -> BaseChatModel | None:
    """The chat model of this run, or None in offline mode."""
    name = model_name(context)
    if name == OFFLINE:
        return None
    with _lock:
        model = _models.get(name)
        if model is None:
            model = _create(name, model_timeout(context))
            _models[name] = model
    return model


def _create(name: str, timeout_s: float) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name, timeout=timeout_s, max_retries=1)
    except ImportError as exc:
        # init_chat_model raises its own ImportError, whose `name` is None: the package
        # to install is only in its message.
        package = exc.name or _package_in(str(exc)) or f"the {name.split(':')[0]} integration"
        raise UserError(
            f"The chat model {name!r} needs a provider package that is not installed "
            f"({package}): install it, or set CONVRAG_CHAT_MODEL=offline."
        ) from exc
    except Exception as exc:  # provider constructors raise many kinds for a missing key
        # Providers' messages end with their own full stop and may span lines; the user
        # gets one sentence.
        reason = " ".join(str(exc).split()).rstrip(".")
        raise UserError(
            f"Cannot set up the chat model {name!r}: {reason}. Set the provider's API key "
            "(e.g. OPENAI_API_KEY), or set CONVRAG_CHAT_MODEL=offline."
        ) from exc


def _package_in(message: str) -> str | None:
    """The `langchain-…` package an ImportError's message asks to install, if it names one."""
    found = re.search(r"\blangchain[-_][a-z0-9_-]*[a-z0-9]", message)
    return found.group(0) if found else None


def model_timeout(context: Context) -> float:
    """Seconds of model time a turn may use: the Context's, else CONVRAG_MODEL_TIMEOUT."""
    return context.model_timeout_s or _env_settings().model_timeout_s


def _env_settings() -> Settings:
    """Settings from the environment, parsed again only when the variables read here change.

    Several nodes ask on every turn; parsing every variable each time was a measurable part
    of a turn's overhead.
    """
    return _parsed(os.environ.get("CONVRAG_CHAT_MODEL"), os.environ.get("CONVRAG_MODEL_TIMEOUT"))


@functools.lru_cache(maxsize=8)
def _parsed(chat_model: str | None, timeout: str | None) -> Settings:
    return Settings.from_env({k: v for k, v in (("CONVRAG_CHAT_MODEL", chat_model),
                                                 ("CONVRAG_MODEL_TIMEOUT", timeout)) if v})


# --- running a node's core with the sync or the async API ------------------------------


@dataclass(frozen=True)
class ModelCall:
    """A core's request: send `messages` to `model` (a chat model or a structured one)."""

    model: Runnable[Any, Any]
    messages: Sequence[BaseMessage]


@dataclass(frozen=True)
class Blocking:
    """A core's request: a blocking call (disk, network), run off the event loop."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Core = Generator[ModelCall | Blocking, Any, dict[str, Any]]


class TurnBudgetSpent(TimeoutError):
    """The turn's model time is used up: the node falls back without calling the model."""


@dataclass
class _Budget:
    """Model time left in this turn; `model_seconds` in the state carries it between nodes."""

    left: float
    spent: float = 0.0

    @classmethod
    def of(cls, state: Any, context: Context, starts_turn: bool) -> _Budget:
        spent = 0.0 if starts_turn else float(state.get("model_seconds", 0.0) or 0.0)
        return cls(left=model_timeout(context) - spent)

    def check(self) -> float:
        remaining = self.left - self.spent
        if remaining <= 0:
            raise TurnBudgetSpent("the model time of this turn is used up")
        return remaining

    def record(self, update: dict[str, Any], starts_turn: bool) -> dict[str, Any]:
        if starts_turn:
            update["model_seconds"] = Overwrite(self.spent)
        elif self.spent:
            update["model_seconds"] = self.spent
        return update


def run_sync(core: Core, state: Any, context: Context, *, starts_turn: bool = False
             ) -> dict[str, Any]:
    """Drive a node's core with blocking calls in place and model calls under the budget."""
    budget = _Budget.of(state, context, starts_turn)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = core.throw(error) if error is not None else core.send(reply)
        except StopIteration as stop:
            return budget.record(stop.value, starts_turn)
        reply, error = None, None
        try:
            if isinstance(request, Blocking):
                reply = request.fn(*request.args, **request.kwargs)
                continue
            remaining = budget.check()
            start = time.monotonic()
            try:
                reply = _invoke_within(request, remaining)
            finally:
                budget.spent += time.monotonic() - start
        except Exception as exc:  # handed to the core, which falls back or re-raises
            error = exc


async def run_async(core: Core, state: Any, context: Context, *, starts_turn: bool = False
                    ) -> dict[str, Any]:
    """`run_sync` for the event loop: blocking calls go to a worker thread."""
    budget = _Budget.of(state, context, starts_turn)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = core.throw(error) if error is not None else core.send(reply)
        except StopIteration as stop:
            return budget.record(stop.value, starts_turn)
        reply, error = None, None
        try:
            if isinstance(request, Blocking):
                reply = await asyncio.to_thread(request.fn, *request.args, **request.kwargs)
                continue
            remaining = budget.check()
            start = time.monotonic()
            try:
                # A deadline on this task rather than wait_for: no extra task per call.
                async with asyncio.timeout(remaining):
                    reply = await request.model.ainvoke(request.messages)
            finally:
                budget.spent += time.monotonic() - start
        except Exception as exc:  # handed to the core, which falls back or re-raises
            error = exc


def _invoke_within(call: ModelCall, timeout: float) -> Any:
    """`call.model.invoke` that gives up after `timeout` seconds.

    A blocking client cannot be interrupted, so the call runs in a daemon thread (with
    the run's context, so streaming callbacks still see it) and is abandoned on timeout;
    the provider's own timeout, set from the same setting, ends it later.
    """
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    run = contextvars.copy_context().run

    def work() -> None:
        try:
            future.set_result(run(call.model.invoke, call.messages))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="convrag-model-call", daemon=True).start()
    return future.result(timeout=timeout)
