"""convrag's hooks in front of Aegra's routes (`aegra.json` → `http.app`).

Aegra serves the LangGraph server API but trusts what a client sends more than the
LangGraph server does: it runs on any thread id it is given (another user's too), copies a
run's `context` into `configurable` (where `thread_id` or `langgraph_auth_user` would
win over its own), and loads the auth file leniently (an import error means no auth at
all). This app closes those gaps before a request reaches Aegra:

- a request over MAX_BODY_BYTES is refused;
- a request on another user's thread answers 404, as on the LangGraph server;
- a run's (or assistant's) context and configurable may hold only the chat graph's
  Context fields, with the right types; a run's `checkpoint` only checkpoint keys;
- a `convrag_index` run takes at most MAX_DOCUMENTS_PER_CALL documents.

And it gives Aegra what a long-lived deployment needs (see `lifecycle`): one checkpoint
per turn and retention after each run, runs of one thread one after another, deleting a
thread deletes its checkpoints, `DELETE /users/me` erases a user, an idle-thread TTL, and
one structured log line per run.

Importing this module imports convrag.auth, so a malformed CONVRAG_AUTH_TOKENS stops the
server; and it refuses to start unless Aegra loaded that very handler.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid5

from fastapi import FastAPI, HTTPException, Request
from langgraph_sdk import Auth
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convrag import auth as convrag_auth
from convrag import lifecycle
from convrag.errors import UserError
from convrag.nodes.index_documents import check_document_count

# Largest request body accepted: a 2,000-character question is a few kB; a batch of
# documents for convrag_index is the largest legitimate body.
MAX_BODY_BYTES = int(os.environ.get("CONVRAG_MAX_BODY_BYTES", 1_000_000))

# Keys a checkpoint selector may carry (time travel); anything else would steer the run.
CHECKPOINT_KEYS = {"checkpoint_id", "checkpoint_ns", "checkpoint_map"}
THREAD_PATH = re.compile(r"^/threads/(?P<thread>[^/]+)(?P<rest>/.*)?$")
RUN_PATHS = re.compile(r"^(/threads/[^/]+)?/runs(/stream|/wait)?$")
ASSISTANT_PATHS = re.compile(r"^/assistants(/[^/]+)?$")


class Refused(Exception):
    """A request this app turns away, with its status and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_context(values: Any, where: str) -> None:
    """Refuse anything but the chat graph's Context fields, each of its type."""
    problem = None if values is None else convrag_auth.context_problem(values)
    if problem:
        raise Refused(422, f"{where}: {problem}")


def check_settings(body: dict[str, Any]) -> None:
    """A run's or an assistant's context and configurable: Context fields only."""
    check_context(body.get("context"), "context")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise Refused(422, "config must be an object.")
    check_context(config.get("configurable"), "config.configurable")


def check_run(body: dict[str, Any], graph_id: str | None) -> None:
    """A run's settings, checkpoint and (for convrag_index) document count."""
    check_settings(body)
    checkpoint = body.get("checkpoint") or {}
    if not isinstance(checkpoint, dict) or set(checkpoint) - CHECKPOINT_KEYS:
        raise Refused(422, f"checkpoint may hold only {', '.join(sorted(CHECKPOINT_KEYS))}.")
    run_input = body.get("input")
    if graph_id == "convrag_index" and isinstance(run_input, dict):
        try:
            check_document_count(run_input.get("documents"))
        except UserError as error:
            # Refused before a run exists, rather than as a failed run.
            raise Refused(413, str(error)) from None


def graph_of(assistant_id: Any) -> str | None:
    """The graph a run's assistant_id names: a graph id or Aegra's default assistant id."""
    from aegra_api.constants import ASSISTANT_NAMESPACE_UUID
    from aegra_api.services.langgraph_service import get_langgraph_service

    for graph_id in get_langgraph_service().list_graphs():
        if assistant_id in (graph_id, str(uuid5(ASSISTANT_NAMESPACE_UUID, graph_id))):
            return graph_id
    return None


async def thread_owner(thread_id: str) -> str | None:
    """The user who owns `thread_id`, or None when there is no such thread."""
    row = await lifecycle.fetch_one("SELECT user_id FROM thread WHERE thread_id = :thread",
                                    thread=thread_id)
    return None if row is None else str(row[0])


class Hooks:
    """ASGI middleware: the checks above, before Aegra sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            await self._check(scope, body)
        except Refused as refused:
            await _respond(send, refused.status, str(refused))
            return
        sent = False
        status = 0

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, capture)
        thread = THREAD_PATH.match(scope["path"].rstrip("/"))
        if scope["method"] == "DELETE" and thread and not thread["rest"] and status == 200:
            # Aegra deletes the thread's rows but leaves its checkpoints behind.
            await lifecycle.delete_checkpoints(thread["thread"])

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise Refused(413, _too_large())
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Refused(413, _too_large())
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _check(self, scope: Scope, body: bytes) -> None:
        path, method = scope["path"].rstrip("/") or "/", scope["method"]
        thread = THREAD_PATH.match(path)
        if thread and thread["thread"] != "search":
            try:
                user = convrag_auth.identify(dict(scope.get("headers") or []))
            except Auth.exceptions.HTTPException:
                return  # Aegra answers the missing or wrong token itself.
            owner = await thread_owner(thread["thread"])
            if owner is not None and owner != user["identity"]:
                raise Refused(404, f"Thread '{thread['thread']}' not found.")
        if method != "POST" and method != "PATCH":
            return
        run = method == "POST" and RUN_PATHS.match(path)
        assistant = ASSISTANT_PATHS.match(path)
        if not (run or assistant):
            return
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise Refused(422, "The request body must be JSON.") from None
        if not isinstance(payload, dict):
            raise Refused(422, "The request body must be a JSON object.")
        if run:
            check_run(payload, graph_of(payload.get("assistant_id")))
        else:
            check_settings(payload)


def _too_large() -> str:
    return (f"The request body is over {MAX_BODY_BYTES} bytes: send fewer documents per "
            "call, or a shorter question.")


async def _respond(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"error": "refused", "message": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


@asynccontextmanager
async def lifespan(app: FastAPI) -> Any:
    """Refuse to start unless Aegra loaded convrag's auth handler (it fails open)."""
    from aegra_api.core.auth_middleware import get_auth_instance

    if get_auth_instance() is not convrag_auth.auth:
        raise RuntimeError("Aegra did not load convrag.auth:auth (see aegra.json → auth): "
                           "refusing to run without auth.")
    lifecycle.install_run_wrapper()
    async with lifecycle.idle_thread_ttl():
        yield


app = FastAPI(lifespan=lifespan)
app.add_middleware(Hooks)


@app.delete("/users/me")
async def erase_me(request: Request) -> dict[str, Any]:
    """Erase everything of the calling user: threads, runs, checkpoints, documents."""
    try:
        user = convrag_auth.identify(request.headers)
    except Auth.exceptions.HTTPException as error:
        raise HTTPException(status_code=401, detail=error.detail) from None
    tenant = user.get("tenant")
    if not tenant:
        raise HTTPException(status_code=400, detail="Erasing a user needs auth on "
                            "(CONVRAG_AUTH_TOKENS): without it every caller is one user.")
    return await lifecycle.erase_user(user["identity"], str(tenant))

