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


@pytest.mark.parametrize("spec", ["secret", "t1:", ":alice", "t1:alice,t2"])
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
