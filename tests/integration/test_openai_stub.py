"""Exercise :mod:`openai_stub` with the real ``openai`` / ``langchain-openai`` clients."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain.chat_models import init_chat_model
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, Field, SecretStr

from .openai_stub import (
    EMBEDDING_DIM,
    Delay,
    Fail,
    OpenAIStub,
    Text,
    ToolCall,
    echo,
    embed,
    last_user_message,
    script,
    structured,
    text,
)

pytestmark = pytest.mark.integration

API_KEY = SecretStr("test")  # plain "test" works too; SecretStr keeps mypy happy

ANSWER = "The capital of France is Paris, a city on the Seine."


class CityFact(BaseModel):
    """A fact about a city."""

    city: str = Field(description="City name")
    country: str = Field(description="Country name")
    population_millions: float


CITY: dict[str, Any] = {"city": "Paris", "country": "France", "population_millions": 2.1}


def _merge(chunks: list[Any]) -> AIMessageChunk:
    """Add streamed message chunks together (what LangChain does when aggregating)."""
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    merged: AIMessageChunk = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    return merged


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A running stub answering every chat request with ``ANSWER``."""
    with OpenAIStub(text(ANSWER)) as running:
        yield running


def _chat(stub: OpenAIStub, **kwargs: Any) -> ChatOpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10)
    return ChatOpenAI(base_url=stub.base_url, api_key=API_KEY, model="stub-model", **kwargs)


@pytest.mark.integration
def test_invoke_returns_text(stub: OpenAIStub) -> None:
    result = _chat(stub).invoke([HumanMessage("What is the capital of France?")])

    assert isinstance(result, AIMessage)
    assert result.content == ANSWER
    assert result.usage_metadata is not None
    assert result.usage_metadata["output_tokens"] == len(ANSWER.split())
    assert result.response_metadata["finish_reason"] == "stop"
    [request] = stub.chat_requests
    assert request["model"] == "stub-model"
    assert last_user_message(request) == "What is the capital of France?"
    assert "stream" not in request or request["stream"] is False


@pytest.mark.integration
def test_stream_yields_several_chunks(stub: OpenAIStub) -> None:
    chunks = list(_chat(stub).stream("capital?"))

    pieces = [c.content for c in chunks if c.content]
    assert len(pieces) > 1
    assert "".join(str(p) for p in pieces) == ANSWER
    assert stub.chat_requests[0]["stream"] is True


@pytest.mark.integration
def test_stream_usage_chunk_when_requested(stub: OpenAIStub) -> None:
    chunks = list(_chat(stub, stream_usage=True).stream("capital?"))

    assert stub.chat_requests[0]["stream_options"] == {"include_usage": True}
    total = _merge(chunks)
    assert total.content == ANSWER
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == len(ANSWER.split())


@pytest.mark.integration
def test_structured_output_default_json_schema() -> None:
    with OpenAIStub(structured(CITY)) as stub:
        result = _chat(stub).with_structured_output(CityFact).invoke("Tell me about Paris")

        assert result == CityFact(**CITY)
        [request] = stub.chat_requests
        assert request["response_format"]["type"] == "json_schema"
        assert request["response_format"]["json_schema"]["name"] == "CityFact"
        assert "tools" not in request


@pytest.mark.integration
def test_structured_output_function_calling() -> None:
    with OpenAIStub(structured(CITY)) as stub:
        model = _chat(stub).with_structured_output(CityFact, method="function_calling")
        result = model.invoke("Tell me about Paris")

        assert result == CityFact(**CITY)
        [request] = stub.chat_requests
        assert request["tools"][0]["function"]["name"] == "CityFact"
        assert request["tool_choice"]["function"]["name"] == "CityFact"
        assert "response_format" not in request


@pytest.mark.integration
def test_structured_output_streamed_function_calling() -> None:
    with OpenAIStub(structured(CITY)) as stub:
        model = _chat(stub).with_structured_output(CityFact, method="function_calling")
        outputs = list(model.stream("Tell me about Paris"))

        assert outputs[-1] == CityFact(**CITY)
        assert stub.chat_requests[0]["stream"] is True


@pytest.mark.integration
def test_tool_calls_invoke_and_stream() -> None:
    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return query

    replies = script(
        ToolCall("lookup", {"query": "paris"}),
        ToolCall("lookup", {"query": "lyon"}),
        [ToolCall("lookup", {"query": "a"}), ToolCall("lookup", {"query": "b"})],
    )
    with OpenAIStub(replies) as stub:
        model = _chat(stub).bind_tools([lookup])

        message = model.invoke("find paris")
        assert message.tool_calls == [
            {"name": "lookup", "args": {"query": "paris"}, "id": "call_1", "type": "tool_call"}
        ]

        chunks = list(model.stream("find lyon"))
        assert len(chunks) > 2
        merged = _merge(chunks)
        assert merged.tool_calls == [
            {"name": "lookup", "args": {"query": "lyon"}, "id": "call_2", "type": "tool_call"}
        ]

        parallel = model.invoke("find a and b")
        assert [c["args"] for c in parallel.tool_calls] == [{"query": "a"}, {"query": "b"}]
        assert stub.chat_requests[0]["tools"][0]["function"]["name"] == "lookup"


@pytest.mark.integration
def test_init_chat_model() -> None:
    with OpenAIStub(echo("you said: ")) as stub:
        model = init_chat_model(
            "openai:stub-model", base_url=stub.base_url, api_key="test", max_retries=0
        )
        result = model.invoke("hello there")

        assert result.content == "you said: hello there"
        assert stub.chat_requests[0]["model"] == "stub-model"


@pytest.mark.integration
def test_fail_surfaces_as_exception() -> None:
    with OpenAIStub(lambda request: Fail(500, "boom")) as stub:
        with pytest.raises(openai.InternalServerError) as info:
            _chat(stub).invoke("hi")

        assert info.value.status_code == 500
        assert "boom" in str(info.value)
        assert len(stub.chat_requests) == 1  # max_retries=0: no retry


@pytest.mark.integration
def test_fail_status_maps_to_client_error_class() -> None:
    with OpenAIStub(script(Fail(429, "slow down"), Fail(400, "bad"))) as stub:
        with pytest.raises(openai.RateLimitError):
            _chat(stub).invoke("hi")
        with pytest.raises(openai.BadRequestError):
            list(_chat(stub).stream("hi"))


@pytest.mark.integration
def test_delay_longer_than_timeout_raises() -> None:
    with OpenAIStub(lambda request: Delay(5, Text("too late"))) as stub:
        with pytest.raises(openai.APITimeoutError):
            _chat(stub, timeout=0.3).invoke("hi")


@pytest.mark.integration
def test_delay_shorter_than_timeout_succeeds() -> None:
    with OpenAIStub(lambda request: Delay(0.05, Text("in time"))) as stub:
        assert _chat(stub, timeout=5).invoke("hi").content == "in time"


@pytest.mark.integration
def test_responder_exception_is_reported() -> None:
    def broken(request: dict[str, Any]) -> Text:
        raise KeyError("nope")

    with OpenAIStub(broken) as stub:
        with pytest.raises(openai.InternalServerError):
            _chat(stub).invoke("hi")
        assert isinstance(stub.errors[0], KeyError)


@pytest.mark.integration
def test_embeddings_dimension_and_determinism() -> None:
    with OpenAIStub() as stub:
        embeddings = OpenAIEmbeddings(
            base_url=stub.base_url,
            api_key=API_KEY,
            model="stub-embed",
            check_embedding_ctx_length=False,
            max_retries=0,
        )
        docs = ["Paris is the capital of France", "Berlin is in Germany", ""]
        first = embeddings.embed_documents(docs)
        second = embeddings.embed_documents(docs)
        query = embeddings.embed_query("capital of France")

        assert first == second
        assert len(first) == 3
        assert all(len(v) == EMBEDDING_DIM for v in first)
        assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5) for v in first)
        assert query == pytest.approx(embed("capital of France"), abs=1e-6)

        def cosine(a: list[float], b: list[float]) -> float:
            return sum(x * y for x, y in zip(a, b, strict=True))

        assert cosine(query, first[0]) > cosine(query, first[1])
        assert stub.embedding_requests[0]["input"] == docs
        assert stub.embedding_requests[0]["model"] == "stub-embed"


@pytest.mark.integration
def test_embeddings_via_openai_client_base64_default() -> None:
    with OpenAIStub() as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="test", max_retries=0)
        response = client.embeddings.create(model="stub-embed", input="hello world")

        assert len(response.data[0].embedding) == EMBEDDING_DIM
        assert response.data[0].embedding == pytest.approx(embed("hello world"), abs=1e-6)
        assert response.usage.total_tokens == 2


@pytest.mark.integration
def test_models_and_unknown_route() -> None:
    with OpenAIStub(models=["stub-model"]) as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="test", max_retries=0)
        assert [m.id for m in client.models.list()] == ["stub-model"]

        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{stub.base_url}/nope", timeout=5)
        assert info.value.code == 404
        assert json.loads(info.value.read())["error"]["type"] == "not_found_error"


@pytest.mark.integration
def test_async_invoke_and_stream(stub: OpenAIStub) -> None:
    model = _chat(stub)

    async def run() -> tuple[Any, list[Any]]:
        result = await model.ainvoke("capital?")
        chunks = [c async for c in model.astream("capital?")]
        return result, chunks

    result, chunks = asyncio.run(run())

    assert result.content == ANSWER
    pieces = [c.content for c in chunks if c.content]
    assert len(pieces) > 1
    assert "".join(str(p) for p in pieces) == ANSWER
    assert [r.get("stream", False) for r in stub.chat_requests] == [False, True]


@pytest.mark.integration
def test_async_structured_output() -> None:
    with OpenAIStub(structured(CITY)) as stub:
        model = _chat(stub).with_structured_output(CityFact)
        assert asyncio.run(model.ainvoke("Paris?")) == CityFact(**CITY)


@pytest.mark.integration
def test_stub_shuts_down_cleanly() -> None:
    stub = OpenAIStub(lambda request: Delay(30, Text("never")))
    with stub:
        url = stub.base_url
        with pytest.raises(openai.APITimeoutError):
            _chat(stub, timeout=0.2).invoke("hi")
    with pytest.raises(RuntimeError):
        _ = stub.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/models", timeout=1)
