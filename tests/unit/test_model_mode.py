"""Model mode with scripted fake chat models: one structured call, fallbacks, counts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.nodes.models import register_chat_model, unregister_chat_model
from tests.conftest import COLLECTION, scripted_model, tool_reply

MODEL = "scripted:test"
CTX = Context(collection=COLLECTION, chat_model=MODEL)


@pytest.fixture
def use_model() -> Iterator[Any]:
    def install(*replies: AIMessage | str) -> None:
        register_chat_model(MODEL, scripted_model(*replies))

    yield install
    unregister_chat_model(MODEL)


def ask(graph: Any, thread: str, question: str) -> dict[str, Any]:
    return asyncio.run(
        graph.ainvoke(
            {"messages": [{"role": "user", "content": question}]},
            {"configurable": {"thread_id": thread}},
            context=CTX,
        )
    )


def rewrite_call(standalone: str, route: str = "retrieve", scenario: str = "pronoun",
                 mentions: list[dict[str, str]] | None = None) -> AIMessage:
    return tool_reply(
        "Rewrite",
        {
            "reasoning": "它 refers to the river named in the first question.",
            "scenario": scenario,
            "mentions": mentions or [{"mention": "它", "antecedent": "尼罗河"}],
            "standalone_question": standalone,
            "route": route,
        },
    )


def test_one_structured_call_rewrites_and_the_answer_cites(kb, use_model):
    use_model(
        "尼罗河是非洲的一条大河 [1]。",  # turn 1: standalone, so no rewrite call
        rewrite_call("尼罗河有多长？"),
        "尼罗河全长约6650公里 [1]。",
    )
    graph = build_graph(InMemorySaver(), knowledge=kb)
    first = ask(graph, "m", "尼罗河是什么？")
    assert first["llm_calls"] == 1
    assert first["rewrite"]["mode"] == "offline"
    second = ask(graph, "m", "它有多长？")
    assert second["standalone_question"] == "尼罗河有多长？"
    assert second["rewrite"]["mode"] == "model"
    assert second["rewrite"]["mentions"] == [{"mention": "它", "antecedent": "尼罗河"}]
    assert second["llm_calls"] == 2
    assert second["messages"][-1].content == "尼罗河全长约6650公里 [1]。"
    sources = second["messages"][-1].response_metadata["sources"]
    assert sources[0]["id"] == "zh-nile"


def test_model_route_respond_skips_retrieval(kb, use_model):
    use_model("Hi!", rewrite_call("谢谢你", route="respond", scenario="none", mentions=[]),
              "不客气！")
    graph = build_graph(InMemorySaver(), knowledge=kb)
    # A knowledge question first: small talk leaves nothing to refer back to.
    ask(graph, "m", "尼罗河是什么？")
    thanks = ask(graph, "m", "谢谢它")  # the pronoun opens the gate; the model routes it
    assert thanks["route"] == "respond"
    assert thanks["documents"] == []
    assert thanks["messages"][-1].content == "不客气！"


def test_garbage_from_the_model_falls_back_to_rules(kb, use_model):
    use_model("尼罗河是非洲的一条大河。", AIMessage(content="I am not JSON"), "约6650公里 [1]。")
    graph = build_graph(InMemorySaver(), knowledge=kb)
    ask(graph, "m", "尼罗河是什么？")
    second = ask(graph, "m", "它有多长？")
    assert second["rewrite"]["mode"] == "fallback"
    assert second["standalone_question"] == "尼罗河有多长？"
    assert second["llm_calls"] == 2


class FailingModel:
    """Stands in for a model whose every call fails (a timeout, a 500)."""

    def with_structured_output(self, *args: Any, **kwargs: Any) -> FailingModel:
        return self

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("model timed out")


def test_a_failing_model_still_gets_an_extractive_answer(kb):
    register_chat_model(MODEL, FailingModel())  # type: ignore[arg-type]
    try:
        graph = build_graph(InMemorySaver(), knowledge=kb)
        ask(graph, "f", "尼罗河是什么？")
        result = ask(graph, "f", "它有多长？")
    finally:
        unregister_chat_model(MODEL)
    assert result["rewrite"]["mode"] == "fallback"
    assert "尼罗河" in result["standalone_question"]
    answer = result["messages"][-1].content
    assert "模型不可用" in answer and "6650" in answer


def test_missing_provider_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # init_chat_model's ImportError has no `name`; the package is only in its message.
    import langchain.chat_models

    from convrag.errors import UserError
    from convrag.nodes.models import _create

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("Initializing ChatMistral requires the langchain-mistralai "
                          "package. Please install it with `pip install langchain-mistralai`")

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", missing)
    with pytest.raises(UserError) as caught:
        _create("mistralai:small", 5.0)
    assert "(langchain-mistralai)" in str(caught.value) and "None" not in str(caught.value)


def test_missing_key_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models

    from convrag.errors import UserError
    from convrag.nodes.models import _create

    def no_key(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("Missing credentials.\nSet the `ACME_API_KEY` environment variable.")

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", no_key)
    with pytest.raises(UserError) as caught:
        _create("acme:large", 5.0)
    message = str(caught.value)
    assert "\n" not in message and ".." not in message
    assert "Set the `ACME_API_KEY` environment variable. Set the provider's API key" in message
