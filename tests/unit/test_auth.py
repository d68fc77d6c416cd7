"""The server's auth handler and how the graph sees the authenticated user."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from convrag.auth import parse_tokens
from convrag.graph.context import Context, get_context


@pytest.mark.parametrize(
    ("spec", "tokens"),
    [
        ("", {}),
        ("t1:alice", {"t1": "alice"}),
        (" t1:alice , t2:bob ,", {"t1": "alice", "t2": "bob"}),
    ],
)
def test_token_map(spec, tokens):
    assert parse_tokens(spec) == tokens


@pytest.mark.parametrize("spec", ["secret", "t1:", ":alice", "t1:alice,t2", "t1:alice,t1:bob"])
def test_malformed_token_map_is_one_clear_error(spec):
    with pytest.raises(ValueError, match="token1:user1,token2:user2"):
        parse_tokens(spec)


def runtime(context: object, user: object = None) -> SimpleNamespace:
    info = SimpleNamespace(user=user) if user is not None else None
    return SimpleNamespace(context=context, server_info=info)


def test_authenticated_users_tenant_wins_over_the_runs_context():
    user = {"identity": "bob", "tenant": "bob"}
    assert get_context(runtime({"tenant": "alice", "top_k": 3}, user)).tenant == "bob"
    assert get_context(runtime(None, user)) == Context(tenant="bob")


@pytest.mark.parametrize("user", [None, {"identity": "anonymous"}, object()])
def test_without_a_tenant_the_context_decides(user):
    assert get_context(runtime(Context(tenant="acme"), user)).tenant == "acme"


def test_one_handler_reads_either_servers_headers(monkeypatch):
    """langgraph dev passes bytes header names and values; Aegra a dict of str."""
    import asyncio

    from langgraph_sdk import Auth

    from convrag import auth

    monkeypatch.setattr(auth, "TOKENS", {"t1": "alice"})
    for headers in ({b"authorization": b"Bearer t1"}, {"Authorization": "Bearer t1"}):
        user = asyncio.run(auth.authenticate(headers))
        assert user == {"identity": "alice", "tenant": "alice"}
    for headers in ({b"authorization": b"Bearer t2"}, {"authorization": "t1"}, {}, None):
        with pytest.raises(Auth.exceptions.HTTPException):
            asyncio.run(auth.authenticate(headers))


def test_aegras_run_user_gives_the_tenant(monkeypatch):
    """On Aegra the verified user is a model with extra fields, in Aegra's run context."""
    import sys

    ctx = SimpleNamespace(user=SimpleNamespace(identity="bob", tenant="bob"))
    monkeypatch.setitem(sys.modules, "aegra_api.core.auth_ctx",
                        SimpleNamespace(get_auth_ctx=lambda: ctx))
    assert get_context(runtime({"tenant": "alice"})).tenant == "bob"


def test_serve_prod_refuses_to_start_without_its_own_config(monkeypatch, tmp_path, capsys):
    """Aegra would fall back to langgraph.json, without convrag's hooks."""
    from convrag import serve_prod

    monkeypatch.setattr(serve_prod, "CONFIG", tmp_path / "aegra.json")
    assert serve_prod.main() == 1
    assert capsys.readouterr().err == (
        f"convrag: {tmp_path / 'aegra.json'} is missing: restore it from the repository.\n")


def test_a_token_given_to_two_users_is_refused():
    # Otherwise the later entry wins and alice, sending t1, is served as bob.
    with pytest.raises(ValueError, match="entry 3 repeats the token of entry 1"):
        parse_tokens("t1:alice,t2:carol,t1:bob")


@pytest.mark.parametrize("port", ["abc", "0", "70000", "80.5"])
def test_a_port_that_is_no_port_number_is_one_sentence(monkeypatch, capsys, port):
    from convrag import serve, serve_prod

    monkeypatch.setenv("PORT", port)
    for server in (serve, serve_prod):
        assert server.main() == 1
        assert capsys.readouterr().err == (
            f"convrag: PORT={port!r} is not a port number: use one from 1 to 65535, "
            "or unset PORT.\n")


def test_a_port_a_stopped_server_left_in_time_wait_can_be_taken_again():
    import socket

    from convrag.serve import free_port

    # The server closes first, as uvicorn does on Ctrl-C: its side lingers in TIME_WAIT.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()
        client.recv(1)
        client.close()
    assert free_port(port) == port
    # A port something listens on is still in use.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert free_port(busy.getsockname()[1]) != busy.getsockname()[1]


def test_serve_prod_reads_the_auth_tokens_of_dot_env(monkeypatch, tmp_path, capsys):
    """A token spec in .env (where the README allows it) must reach the server, not be missed."""
    import os

    from convrag import serve_prod

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()
                                        if k != "CONVRAG_AUTH_TOKENS"})
    (tmp_path / ".env").write_text("CONVRAG_AUTH_TOKENS=tok-ann:ann,tok-ann:ben\n")
    monkeypatch.setattr(serve_prod, "ENV_FILE", tmp_path / ".env")
    assert serve_prod.main() == 1
    assert capsys.readouterr().err == (
        "convrag: CONVRAG_AUTH_TOKENS entry 2 repeats the token of entry 1: give each user a "
        "token of their own, as in 'token1:user1,token2:user2'.\n")
    assert os.environ["CONVRAG_AUTH_TOKENS"] == "tok-ann:ann,tok-ann:ben"
    # The shell's value wins over the file's.
    os.environ["CONVRAG_AUTH_TOKENS"] = "tok-ann:ann"
    serve_prod.load_env_file(tmp_path / ".env")
    assert os.environ["CONVRAG_AUTH_TOKENS"] == "tok-ann:ann"


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_make_serve_refuses_a_malformed_token_spec_before_starting(
        monkeypatch, tmp_path, capsys, where):
    # langgraph dev would start, print its URL, fail to load the handler with a traceback
    # and keep running without serving.
    from convrag import serve

    monkeypatch.setenv("CONVRAG_AUTH_TOKENS", "tok-ann:ann")
    if where == ".env":
        (tmp_path / ".env").write_text("CONVRAG_AUTH_TOKENS=tok-ann:ann,tok-ben\n")
    else:
        monkeypatch.setenv("CONVRAG_AUTH_TOKENS", "tok-ann:ann,tok-ben")
    monkeypatch.setattr(serve, "ENV_FILE", tmp_path / ".env")
    monkeypatch.setattr(serve.os, "execv", lambda *args: pytest.fail("langgraph dev started"))
    assert serve.main() == 1
    assert capsys.readouterr().err == (
        "convrag: CONVRAG_AUTH_TOKENS entry 2 is not 'token:user': write "
        "'token1:user1,token2:user2', or unset it to run without auth.\n")


@pytest.mark.parametrize("launcher", ["convrag.serve", "convrag.serve_prod"])
def test_launchers_refuse_a_malformed_spec_in_a_fresh_process(launcher, tmp_path):
    # In a fresh process nothing has imported the handler yet: the check must not import
    # it (its import raises on the same value), or the sentence becomes a traceback.
    import os
    import subprocess
    import sys

    env = {**os.environ, "CONVRAG_AUTH_TOKENS": "tok-ann", "CONVRAG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", launcher], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "convrag: CONVRAG_AUTH_TOKENS entry 1 is not 'token:user': write "
        "'token1:user1,token2:user2', or unset it to run without auth."]
