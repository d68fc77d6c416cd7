"""The convrag_index graph: documents in, the ingest report out, searchable by the chat graph."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from convrag.errors import UserError
from convrag.graph.builder import build_graph, build_index_graph
from convrag.graph.context import Context
from convrag.knowledge.store import KnowledgeBase
from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
REPORT_KEYS = {"collection", "documents", "chunks_added", "chunks_unchanged", "chunks_removed",
               "total_chunks"}
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()
]


def test_indexes_documents_and_returns_the_ingest_report() -> None:
    asyncio.run(_index_then_chat())


async def _index_then_chat() -> None:
    # ainvoke, as the LangGraph server runs it (the node runs in a worker thread).
    kb = KnowledgeBase.in_memory()
    index = build_index_graph(knowledge=kb)
    first = await index.ainvoke({"documents": RECORDS, "collection": "api"})
    assert set(first) == REPORT_KEYS
    assert first["collection"] == "api" and first["documents"] == len(RECORDS)
    assert first["chunks_added"] == first["total_chunks"] == kb.count("api") > 0
    second = await index.ainvoke({"documents": RECORDS, "collection": "api"})
    assert (second["chunks_added"], second["chunks_unchanged"]) == (0, first["total_chunks"])

    chat = build_graph(knowledge=kb)
    out = await chat.ainvoke(
        {"messages": [HumanMessage("尼罗河有多长？")]}, context=Context(collection="api")
    )
    assert out["documents"][0].metadata["id"] == "zh-nile"


def test_tenant_and_prune_reach_the_knowledge_base() -> None:
    kb = KnowledgeBase.in_memory()
    index = build_index_graph(knowledge=kb)
    _run(index, {"documents": RECORDS[:3], "tenant": "t1"})
    report = _run(index, {"documents": RECORDS[:1], "tenant": "t1", "prune": True})
    assert report["collection"] == "convrag"
    assert report["chunks_removed"] > 0 and report["total_chunks"] == kb.count("convrag")
    assert [h.doc_id for h in kb.search("convrag", [RECORDS[0]["text"]], tenant="t1")] == [
        RECORDS[0]["id"]
    ]
    assert kb.search("convrag", [RECORDS[0]["text"]], tenant="t2") == []


def _run(index: Any, payload: Any) -> Any:
    return asyncio.run(index.ainvoke(payload))


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([{"id": "a", "text": "ok"}, {"text": "no id"}], r'documents\[1\] has no string "id"'),
        ([{"id": "a"}], r'documents\[0\] has no string "text"'),
        (["text"], r"documents\[0\] is not a JSON object"),
        ("not a list", r'"documents" must be a list'),
    ],
)
def test_malformed_documents_are_a_user_error(documents: Any, message: str) -> None:
    index = build_index_graph(knowledge=KnowledgeBase.in_memory())
    with pytest.raises(UserError, match=message):
        _run(index, {"documents": documents})


def test_module_graph_is_compiled_without_a_checkpointer_and_listed_for_the_server() -> None:
    from convrag.graph.builder import index_graph as compiled

    assert compiled.checkpointer is None
    assert compiled.name == "convrag_index"
    schema = compiled.get_input_jsonschema()
    assert schema["required"] == ["documents"]
    assert set(schema["properties"]) == {"documents", "collection", "tenant", "source", "prune"}
    assert set(compiled.get_output_jsonschema()["properties"]) == REPORT_KEYS
    graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    assert graphs["convrag_index"] == "./graph/builder.py:index_graph"
    # One graph list: the production server (aegra.json) serves exactly the same graphs.
    assert json.loads((ROOT / "aegra.json").read_text())["graphs"] == graphs


def test_prune_reaches_only_documents_of_the_same_source() -> None:
    kb = KnowledgeBase.in_memory()
    index = build_index_graph(knowledge=kb)
    _run(index, {"documents": RECORDS[:2], "tenant": "t1", "source": "wiki"})
    _run(index, {"documents": RECORDS[2:4], "tenant": "t1"})
    report = _run(index, {"documents": RECORDS[:1], "tenant": "t1", "source": "wiki",
                          "prune": True})
    assert report["chunks_removed"] > 0
    found = {h.doc_id for r in RECORDS[:4] for h in kb.search("convrag", [r["text"]],
                                                             tenant="t1", k=10)}
    # RECORDS[1] came under "wiki" and was left out: pruned. The "api" ones stay.
    assert found == {RECORDS[0]["id"], RECORDS[2]["id"], RECORDS[3]["id"]}


def test_a_verified_user_indexes_only_into_their_own_tenant() -> None:
    from types import SimpleNamespace

    from convrag.nodes.index_documents import index_tenant

    bob = SimpleNamespace(server_info=SimpleNamespace(user={"identity": "bob", "tenant": "bob"}))
    assert index_tenant({"documents": []}, bob) == "bob"
    assert index_tenant({"documents": [], "tenant": "bob"}, bob) == "bob"
    with pytest.raises(UserError, match="only into your own tenant"):
        index_tenant({"documents": [], "tenant": "alice"}, bob)
    # Auth off (no verified user): the input's tenant, as with `convrag ingest --tenant`.
    assert index_tenant({"documents": [], "tenant": "acme"}, None) == "acme"


def test_erase_tenant_removes_that_tenant_from_every_collection() -> None:
    kb = KnowledgeBase.in_memory()
    index = build_index_graph(knowledge=kb)
    for collection in ("a", "b"):
        for tenant in ("t1", "t2"):
            _run(index, {"documents": RECORDS[:2], "tenant": tenant, "collection": collection})
    before = kb.count("a") + kb.count("b")
    removed = kb.erase_tenant("t1")
    assert removed == before // 2 == kb.count("a") + kb.count("b")
    assert kb.search("a", [RECORDS[0]["text"]], tenant="t1") == []
    assert kb.search("b", [RECORDS[0]["text"]], tenant="t2")


def test_each_call_on_a_thread_stands_alone() -> None:
    # On a server every run has a thread: what one call sent must not carry into the next.
    from langgraph.checkpoint.memory import InMemorySaver

    kb = KnowledgeBase.in_memory()
    index = build_index_graph(knowledge=kb)
    index.checkpointer = InMemorySaver()
    thread = {"configurable": {"thread_id": "uploads"}}
    recipes = [{"id": "soup", "text": "Leek soup simmers for forty minutes."},
               {"id": "bread", "text": "Rye bread proves overnight in a cool room."}]
    index.invoke({"documents": recipes}, thread)
    index.invoke({"documents": [{"id": "tart", "text": "Plum tart bakes at 180 degrees."}],
                  "collection": "desserts", "prune": True}, thread)
    # Neither the earlier collection nor its prune apply to a call that leaves them out.
    report = index.invoke({"documents": recipes[:1]}, thread)
    assert report["collection"] == "convrag" and report["chunks_removed"] == 0
    assert kb.count("convrag") == 2 and kb.count("desserts") == 1
    # A refused call leaves nothing behind that refuses the next one.
    with pytest.raises(UserError, match='"source" must be a string'):
        index.invoke({"documents": recipes, "source": 7}, thread)
    assert index.invoke({"documents": recipes}, thread)["chunks_unchanged"] == 2


def test_a_refusal_reaches_the_api_caller_as_its_sentence() -> None:
    # langgraph dev serializes a failed run's error with this encoder; it keeps the message
    # only for builtin error types and says "An internal error occurred" for the rest.
    from types import SimpleNamespace

    from langgraph_api.serde import json_dumpb

    from convrag.nodes.index_documents import index_tenant

    bob = SimpleNamespace(server_info=SimpleNamespace(user={"identity": "bob", "tenant": "bob"}))
    with pytest.raises(UserError) as refused:
        index_tenant({"documents": [], "tenant": "alice"}, bob)
    sent = json.loads(json_dumpb(refused.value))
    assert sent["message"] == str(refused.value)
    assert "only into your own tenant" in sent["message"]
