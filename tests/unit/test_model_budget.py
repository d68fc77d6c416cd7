"""Model time is bounded per turn: one hung model costs at most one timeout per turn."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver

from convrag import cli
from convrag.errors import UserError
from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.nodes.models import register_chat_model, unregister_chat_model
from convrag.settings import Settings
from tests.conftest import COLLECTION

TIMEOUT_S = 0.2


class HungModel(BaseChatModel):
    """A chat model that never answers; it counts the calls that reached it."""

    calls: list[str] = []
    release: Any = None

    @property
    def _llm_type(self) -> str:
        return "hung"

    def bind_tools(self, tools: Any, **kwargs: Any) -> HungModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls.append("sync")
        self.release.wait()  # until the test ends: a blocking client that hangs
        return ChatResult(generations=[ChatGeneration(message=AIMessage("late"))])

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any
                         ) -> ChatResult:
        self.calls.append("async")
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.fixture
def hung() -> Any:
    model = HungModel(calls=[], release=threading.Event())
    register_chat_model("hung", model)
    yield model
    model.release.set()
    unregister_chat_model("hung")


def user(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


def run(graph: Any, api: str, question: str, context: Any) -> dict[str, Any]:
    config = {"configurable": {"thread_id": "hung"}}
    if api == "sync":
        return graph.invoke(user(question), config, context=context)
    return asyncio.run(graph.ainvoke(user(question), config, context=context))


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_hung_model_costs_one_timeout_per_turn(kb, hung, api):
    # Small history budget: the second turn also wants a summary call.
    context = Context(collection=COLLECTION, chat_model="hung", model_timeout_s=TIMEOUT_S,
                      max_history_tokens=20, summary_every_turns=1, keep_recent_turns=1)
    graph = build_graph(InMemorySaver(), knowledge=kb)
    first = run(graph, api, "尼罗河是什么？", context)  # no reference: only the answer call
    assert len(hung.calls) == 1
    reply = first["messages"][-1].content
    assert "尼罗河" in reply and "不可用" in reply  # quoted from the passages, and said so

    second = run(graph, api, "它有多长？", context)  # summary, rewrite and answer all want it
    assert len(hung.calls) == 2  # the summary call hung; rewrite and answer did not wait
    assert second["standalone_question"] == "尼罗河有多长？"  # the rules' rewrite
    assert second["rewrite"]["mode"] == "fallback"
    assert "6650" in second["messages"][-1].content
    state = graph.get_state({"configurable": {"thread_id": "hung"}}).values
    assert TIMEOUT_S <= state["model_seconds"] < 2 * TIMEOUT_S + 1


def test_timeout_from_the_environment(kb, hung, monkeypatch):
    monkeypatch.setenv("CONVRAG_MODEL_TIMEOUT", str(TIMEOUT_S))
    graph = build_graph(InMemorySaver(), knowledge=kb)
    out = run(graph, "async", "尼罗河是什么？", Context(collection=COLLECTION, chat_model="hung"))
    assert len(hung.calls) == 1 and "尼罗河" in out["messages"][-1].content


@pytest.mark.parametrize("value", ["abc", "0", "-3", "inf"])
def test_bad_timeout_in_the_environment_is_one_sentence(value):
    with pytest.raises(UserError, match="CONVRAG_MODEL_TIMEOUT=.* is not valid: use a positive"):
        Settings.from_env({"CONVRAG_MODEL_TIMEOUT": value})


def test_cli_model_timeout_flag(monkeypatch):
    seen: dict[str, Any] = {}

    def fake_ask(args: Any) -> int:
        seen["timeout"] = Settings.from_env().model_timeout_s
        return 0

    monkeypatch.delenv("CONVRAG_MODEL_TIMEOUT", raising=False)
    monkeypatch.setattr(cli, "_ask", fake_ask)
    parser = cli._parser()
    parser.parse_args(["ask", "--thread", "t", "q"])  # the flag is optional
    monkeypatch.setattr(cli, "_parser", lambda: _with_run(parser, fake_ask))
    assert cli.main(["ask", "--thread", "t", "--model-timeout", "7.5", "q"]) == 0
    assert seen["timeout"] == 7.5
    with pytest.raises(SystemExit):
        cli.main(["ask", "--thread", "t", "--model-timeout", "soon", "q"])


def _with_run(parser: Any, run: Any) -> Any:
    original = parser.parse_args

    def parse_args(argv: Any = None) -> Any:
        args = original(argv)
        args.run = run
        return args

    parser.parse_args = parse_args
    return parser
