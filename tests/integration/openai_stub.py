"""A tiny OpenAI-compatible HTTP server on loopback for integration tests.

Lets the real ``openai`` / ``langchain-openai`` clients run without a network::

    from .openai_stub import OpenAIStub, Text  # from a test module in tests/integration

    with OpenAIStub(lambda request: Text("hello")) as stub:
        model = ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model")
        assert model.invoke("hi").content == "hello"
        assert stub.chat_requests[0]["messages"][-1]["content"] == "hi"

Endpoints (all under ``/v1``):

* ``POST /v1/chat/completions`` -- answered by the *responder* callable, which maps the
  parsed request body to a :data:`Reply` (:class:`Text`, :class:`ToolCall`, a list of
  ``ToolCall`` for parallel calls, :class:`Fail` or :class:`Delay`). Supports
  ``"stream": true`` (Server-Sent Events, optional ``stream_options.include_usage``).
* ``POST /v1/embeddings`` -- deterministic hashed bag-of-words vectors (see :func:`embed`).
* ``GET /v1/models`` -- the configured model names.
* anything else -- ``404`` with an OpenAI-shaped error body.

Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeAlias

__all__ = [
    "DEFAULT_MODELS",
    "EMBEDDING_DIM",
    "Delay",
    "Fail",
    "OpenAIStub",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Text",
    "ToolCall",
    "echo",
    "embed",
    "last_user_message",
    "script",
    "structured",
    "text",
]

EMBEDDING_DIM = 64
"""Default dimension of the vectors returned by ``/v1/embeddings``."""

DEFAULT_MODELS: tuple[str, ...] = ("stub-model", "stub-embed")
"""Model ids listed by ``GET /v1/models`` unless overridden."""


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Text:
    """Answer with an assistant message whose content is ``content``."""

    content: str


@dataclass(frozen=True)
class ToolCall:
    """Answer with a call to the function tool ``name``.

    ``arguments`` is serialised with :func:`json.dumps`; pass a ``str`` to send raw
    (possibly malformed) argument text. ``id`` defaults to ``call_<n>`` with ``n`` a
    per-stub counter starting at 1.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Fail:
    """Answer with HTTP ``status`` and an OpenAI error body carrying ``message``."""

    status: int = 500
    message: str = "stub failure"
    type: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before sending ``then`` (to exercise client timeouts)."""

    seconds: float
    then: Reply


Reply: TypeAlias = Text | ToolCall | list[ToolCall] | Fail | Delay
"""What a responder returns. A bare ``str`` is accepted as shorthand for ``Text``."""

Responder: TypeAlias = Callable[[dict[str, Any]], Reply | str]
"""Maps a parsed ``/v1/chat/completions`` request body to a :data:`Reply`."""


# ----------------------------------------------------------------- request helpers


def _content_text(content: Any) -> str:
    """Flatten OpenAI message content (a string or a list of parts) to plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return str(content)


def last_user_message(request: Mapping[str, Any]) -> str:
    """Return the text of the last ``user`` message in a chat request ("" if none)."""
    for message in reversed(request.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _count_tokens(text: str) -> int:
    """A crude, deterministic token count: whitespace-separated words."""
    return len(text.split())


def _prompt_tokens(request: Mapping[str, Any]) -> int:
    total = 0
    for message in request.get("messages") or []:
        if isinstance(message, Mapping):
            total += _count_tokens(_content_text(message.get("content"))) + 1
    return total


# ---------------------------------------------------------------- responder helpers


def text(content: str) -> Responder:
    """Responder that always answers ``Text(content)``."""
    return lambda request: Text(content)


def echo(prefix: str = "") -> Responder:
    """Responder that answers with ``prefix`` + the last user message."""
    return lambda request: Text(prefix + last_user_message(request))


def script(*replies: Reply | str) -> Responder:
    """Responder that returns ``replies`` in order, one per request.

    Once exhausted it answers ``Fail(500, "stub script exhausted")`` so that an
    unexpected extra model call is visible. Thread-safe.
    """
    lock = threading.Lock()
    pending = list(replies)

    def respond(request: dict[str, Any]) -> Reply | str:
        with lock:
            if pending:
                return pending.pop(0)
        return Fail(500, "stub script exhausted")

    return respond


def _forced_tool_name(request: Mapping[str, Any]) -> str | None:
    """Name of the tool the request forces or, failing that, of its first tool."""
    choice = request.get("tool_choice")
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return fn["name"]
        if isinstance(choice.get("name"), str):
            return choice["name"]
    for tool in request.get("tools") or []:
        if isinstance(tool, Mapping):
            fn = tool.get("function", tool)
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                return fn["name"]
    return None


def structured(obj: Mapping[str, Any]) -> Responder:
    """Responder that returns ``obj`` however the client asked for structured output.

    * request has ``tools`` (``method="function_calling"``) -> a tool call to the forced
      tool (``tool_choice``) or the first tool, with ``obj`` as arguments;
    * otherwise (``response_format`` json_schema / json_object, or a plain prompt) ->
      ``obj`` as JSON text content.
    """
    payload = dict(obj)

    def respond(request: dict[str, Any]) -> Reply:
        name = _forced_tool_name(request) if request.get("tools") else None
        if name is not None:
            return ToolCall(name, payload)
        return Text(json.dumps(payload))

    return respond


# ----------------------------------------------------------------------- embeddings

_WORD = re.compile(r"\w+", re.UNICODE)


def embed(text_or_tokens: str | Sequence[int], dim: int = EMBEDDING_DIM) -> list[float]:
    """Deterministic L2-normalised hashed bag-of-words embedding.

    Words (``\\w+``, lower-cased) are hashed with MD5 into ``dim`` buckets, so texts
    sharing words have positive cosine similarity and the result does not depend on
    ``PYTHONHASHSEED``. Token-id lists (what langchain sends when it pre-tokenises) are
    hashed id by id. Empty input maps to the unit vector ``e_0``.
    """
    if isinstance(text_or_tokens, str):
        words: list[str] = _WORD.findall(text_or_tokens.lower())
    else:
        words = [f"#tok{int(t)}" for t in text_or_tokens]
    vector = [0.0] * dim
    for word in words:
        digest = hashlib.md5(word.encode("utf-8")).digest()
        vector[int.from_bytes(digest[:4], "little") % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


def _embedding_inputs(raw: Any) -> list[str | list[int]]:
    """Normalise the ``input`` field: str | list[str] | list[int] | list[list[int]]."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        if raw and all(isinstance(x, int) for x in raw):
            return [raw]
        return [x if isinstance(x, str) else [int(t) for t in x] for x in raw]
    raise ValueError("'input' must be a string or a list")


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stub received (JSON body parsed; ``{}`` when there was none)."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def _error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(status, "server_error" if status >= 500 else "invalid_request_error")


def _error_body(
    status: int, message: str, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": type_ or _error_type(status),
            "param": None,
            "code": code,
        }
    }


def _split_content(content: str) -> list[str]:
    """Split text into small streaming pieces (word-ish, or <=3 chars for one word)."""
    pieces = re.findall(r"\s*\S+|\s+", content)
    if len(pieces) < 2 and len(content) > 1:
        pieces = [content[i : i + 3] for i in range(0, len(content), 3)]
    return pieces


def _split_arguments(arguments: str) -> list[str]:
    """Split tool-call argument JSON into a few fragments, as OpenAI streams it."""
    size = max(1, math.ceil(len(arguments) / 4))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


class _Handler(BaseHTTPRequestHandler):
    server: _StubHTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection; streaming ends at close

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    # --- plumbing ---------------------------------------------------------------

    def _read_body(self) -> tuple[dict[str, Any] | None, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}, None
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return None, f"invalid JSON body: {exc}"
        if not isinstance(body, dict):
            return None, "JSON body must be an object"
        return body, None

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:12]}")
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, type_: str | None = None) -> None:
        self._send_json(status, _error_body(status, message, type_))

    # --- routing ----------------------------------------------------------------

    def do_GET(self) -> None:
        """Serve ``GET /v1/models`` (and ``/v1/models/{id}``)."""
        stub = self.server.stub
        path = self.path.split("?", 1)[0].rstrip("/")
        stub._record("GET", path, {}, dict(self.headers))
        if path == "/v1/models":
            self._send_json(
                200, {"object": "list", "data": [stub._model_card(m) for m in stub.models]}
            )
        elif path.startswith("/v1/models/") and path[len("/v1/models/") :] in stub.models:
            self._send_json(200, stub._model_card(path[len("/v1/models/") :]))
        else:
            self._send_error(404, f"Unknown route GET {path}", "not_found_error")

    def do_POST(self) -> None:
        """Serve ``POST /v1/chat/completions`` and ``POST /v1/embeddings``."""
        stub = self.server.stub
        path = self.path.split("?", 1)[0].rstrip("/")
        body, problem = self._read_body()
        stub._record("POST", path, body if body is not None else {}, dict(self.headers))
        if body is None:
            self._send_error(400, problem or "bad request")
            return
        try:
            if path == "/v1/chat/completions":
                self._chat(body)
            elif path == "/v1/embeddings":
                self._embeddings(body)
            else:
                self._send_error(404, f"Unknown route POST {path}", "not_found_error")
        except (BrokenPipeError, ConnectionResetError):
            pass  # client gave up (e.g. timed out); nothing to do

    def _fallback(self) -> None:
        self._read_body()
        self._send_error(404, f"Unknown route {self.command} {self.path}", "not_found_error")

    do_PUT = do_DELETE = do_PATCH = _fallback

    # --- chat completions -------------------------------------------------------

    def _chat(self, request: dict[str, Any]) -> None:
        stub = self.server.stub
        try:
            reply: Any = stub.responder(request)
        except Exception as exc:  # surface responder bugs to the test
            with stub._lock:
                stub.errors.append(exc)
            self._send_error(500, f"stub responder raised {exc!r}")
            return
        while isinstance(reply, Delay):
            if stub._closing.wait(reply.seconds):
                return  # stub is shutting down: drop the connection
            reply = reply.then
        if isinstance(reply, str):
            reply = Text(reply)
        if isinstance(reply, Fail):
            self._send_json(
                reply.status, _error_body(reply.status, reply.message, reply.type, reply.code)
            )
            return
        if isinstance(reply, ToolCall):
            reply = [reply]
        if isinstance(reply, list) and reply and all(isinstance(c, ToolCall) for c in reply):
            calls = [
                (
                    c.id or stub._next_call_id(),
                    c.name,
                    c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments),
                )
                for c in reply
            ]
            content: str | None = None
        elif isinstance(reply, Text):
            calls, content = [], reply.content
        else:
            stub.errors.append(TypeError(f"unsupported reply {reply!r}"))
            self._send_error(500, f"stub responder returned unsupported reply {reply!r}")
            return

        model = str(request.get("model") or stub.models[0])
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        prompt_tokens = _prompt_tokens(request)
        completion_tokens = _count_tokens(content or "") + sum(
            _count_tokens(args) + 1 for _, _, args in calls
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        finish_reason = "tool_calls" if calls else "stop"

        if not request.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
            if calls:
                message["tool_calls"] = [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                    for cid, name, args in calls
                ]
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_stub",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                },
            )
            return

        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_stub",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                out["usage"] = None
            return out

        def events() -> Iterator[dict[str, Any]]:
            if calls:
                for index, (cid, name, args) in enumerate(calls):
                    first: dict[str, Any] = {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": cid,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                    if index == 0:
                        first = {"role": "assistant", "content": None, **first}
                    yield chunk(first)
                    for fragment in _split_arguments(args):
                        yield chunk(
                            {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                        )
            else:
                yield chunk({"role": "assistant", "content": "", "refusal": None})
                for piece in _split_content(content or ""):
                    yield chunk({"content": piece})
            yield chunk({}, finish_reason)
            if include_usage:
                final = chunk({})
                final["choices"] = []
                final["usage"] = usage
                yield final

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events():
            self.wfile.write(b"data: " + json.dumps(event).encode("utf-8") + b"\n\n")
            self.wfile.flush()
            if stub.stream_interval:
                time.sleep(stub.stream_interval)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # --- embeddings -------------------------------------------------------------

    def _embeddings(self, request: dict[str, Any]) -> None:
        try:
            inputs = _embedding_inputs(request.get("input"))
        except (TypeError, ValueError) as exc:
            self._send_error(400, f"invalid 'input': {exc}")
            return
        dim = int(request.get("dimensions") or self.server.stub.embedding_dim)
        as_base64 = request.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            vector = embed(item, dim)
            tokens += _count_tokens(item) if isinstance(item, str) else len(item)
            encoded: list[float] | str = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(request.get("model") or self.server.stub.models[-1]),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: OpenAIStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub


class OpenAIStub:
    """OpenAI-compatible server on ``127.0.0.1:<free port>``, run in a daemon thread.

    Use as a context manager (or call :meth:`start` / :meth:`close`)::

        with OpenAIStub(structured({"answer": "42"})) as stub:
            ChatOpenAI(base_url=stub.base_url, api_key="test", model="stub-model")

    Attributes:
        responder: called with each parsed chat-completions body; may be reassigned
            between calls.
        models: model ids reported by ``GET /v1/models``.
        embedding_dim: default embedding dimension (a request's ``dimensions`` wins).
        stream_interval: seconds to sleep between streamed chunks (default 0).
        requests: parsed JSON bodies of every POST, in arrival order.
        calls: every request as a :class:`RecordedRequest` (method, path, body, headers).
        errors: exceptions raised by the responder (they are answered with HTTP 500).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        embedding_dim: int = EMBEDDING_DIM,
        stream_interval: float = 0.0,
    ) -> None:
        """Configure the stub; the server starts on :meth:`start` / ``__enter__``."""
        self.responder: Responder = responder if responder is not None else echo()
        self.models: list[str] = list(models) or list(DEFAULT_MODELS)
        self.embedding_dim = embedding_dim
        self.stream_interval = stream_interval
        self.requests: list[dict[str, Any]] = []
        self.calls: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._call_ids = itertools.count(1)
        self._closing = threading.Event()
        self._server: _StubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> OpenAIStub:
        """Bind a free loopback port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("OpenAIStub already started")
        self._closing.clear()
        self._server = _StubHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-stub:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release the port and wake any pending :class:`Delay`."""
        self._closing.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- addresses & recordings -------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (only while running)."""
        if self._server is None:
            raise RuntimeError("OpenAIStub is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` -- pass as ``base_url`` to OpenAI clients."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the ``/v1/chat/completions`` requests received so far."""
        with self._lock:
            return [c.body for c in self.calls if c.path == "/v1/chat/completions"]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        """Bodies of the ``/v1/embeddings`` requests received so far."""
        with self._lock:
            return [c.body for c in self.calls if c.path == "/v1/embeddings"]

    def reset(self) -> None:
        """Forget recorded requests and errors (the call-id counter keeps going)."""
        with self._lock:
            self.requests.clear()
            self.calls.clear()
            self.errors.clear()

    def _record(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> None:
        with self._lock:
            self.calls.append(RecordedRequest(method, path, body, headers))
            if method == "POST":
                self.requests.append(body)

    def _next_call_id(self) -> str:
        with self._lock:
            return f"call_{next(self._call_ids)}"

    def _model_card(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 0, "owned_by": "openai-stub"}
