"""The score users see (`sources[].score`, `documents[].metadata["score"]`) is one scale
on every search path: the fused reciprocal-rank score as a share of its maximum, in [0, 1]."""

from __future__ import annotations

import json
import math

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase, QueryLeg
from tests.hash_embeddings import HashEmbeddings

_DOCS = [
    SourceDocument(id="kiln", title="Kiln", text="The kiln fires clay at 1,200 degrees."),
    SourceDocument(id="glaze", title="Glaze", text="A glaze melts onto clay in the kiln."),
    SourceDocument(id="wheel", title="Wheel", text="The wheel turns clay into round pots."),
    SourceDocument(id="tea", title="Tea", text="Green tea is steeped below boiling."),
]

# (legs, the document every leg ranks first or None)
_SEARCHES = [
    (["kiln"], "kiln"),
    ([QueryLeg(text="kiln", weight=1.5)], "kiln"),
    ([QueryLeg(text="clay kiln", weight=1.0), QueryLeg(text="kiln fires", weight=0.5)], "kiln"),
    ([QueryLeg(text="clay", weight=1.0), QueryLeg(text="tea", weight=0.5)], None),
    ([QueryLeg(text="clay pots", weight=1.0), QueryLeg(text="pots", weight=0.5),
      QueryLeg(text="pots", terms={"wheel": 0.6}, weight=0.7)], "wheel"),
]


def _backends() -> list[tuple[str, KnowledgeBase]]:
    return [("edge", KnowledgeBase.in_memory()), ("local", KnowledgeBase.local_mode()),
            ("hybrid", KnowledgeBase.in_memory(HashEmbeddings(dimension=32)))]


@pytest.fixture(scope="module")
def bases():
    made = _backends()
    for _, kb in made:
        kb.ingest("c", _DOCS)
    yield dict(made)
    for _, kb in made:
        kb.close()


@pytest.mark.parametrize(("legs", "first_everywhere"), _SEARCHES)
@pytest.mark.parametrize("backend", ["edge", "local", "hybrid"])
def test_relevance_is_a_share_of_the_best_fused_score(bases, backend, legs, first_everywhere):
    hits = bases[backend].search("c", legs, k=4)
    assert hits
    relevance = [hit.relevance for hit in hits]
    assert all(0 < r <= 1 for r in relevance)
    assert relevance == sorted(relevance, reverse=True)  # the order the search ranked
    if first_everywhere and backend != "hybrid":  # the dense legs rank by their own lights
        assert hits[0].doc_id == first_everywhere
        assert math.isclose(relevance[0], 1.0, rel_tol=1e-3)
    if first_everywhere is None:
        assert relevance[0] < 1.0  # the legs disagree about what comes first


@pytest.mark.parametrize(("legs", "_"), _SEARCHES)
def test_relevance_is_the_same_on_edge_and_local_mode(bases, legs, _):
    # The values, not which tied document holds each: engines order BM25 ties their own way.
    edge = [round(h.relevance, 4) for h in bases["edge"].search("c", legs, k=4)]
    local = [round(h.relevance, 4) for h in bases["local"].search("c", legs, k=4)]
    assert edge == local


def test_sources_have_one_scale_on_a_first_question_and_a_follow_up():
    """A first question searches one leg (BM25 scores before), a follow-up three (fused
    RRF scores before); both now give relevances in [0, 1]."""
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", _DOCS)
    graph = build_graph(InMemorySaver(), knowledge=kb)
    config = {"configurable": {"thread_id": "scores"}}
    for question in ["How hot does the kiln fire clay?", "What melts in it?"]:
        out = graph.invoke({"messages": [HumanMessage(question)]}, config)
        sources = out["messages"][-1].response_metadata["sources"]
        scores = [source["score"] for source in sources]
        assert scores and all(0 < s <= 1 for s in scores), (question, scores)
        assert scores == sorted(scores, reverse=True)
        assert [d.metadata["score"] for d in out["documents"]] == scores
    kb.close()


def test_cli_json_sources_carry_the_relevance(tmp_path, monkeypatch, capsys):
    from convrag import cli

    monkeypatch.setenv("CONVRAG_HOME", str(tmp_path / "home"))
    data = tmp_path / "pottery.jsonl"
    data.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n"
                            for d in _DOCS), encoding="utf-8")
    assert cli.main(["ingest", str(data)]) == 0
    capsys.readouterr()
    assert cli.main(["ask", "--thread", "t", "--json", "How hot does the kiln fire clay?"]) == 0
    sources = json.loads(capsys.readouterr().out)["sources"]
    assert sources[0]["id"] == "kiln" and sources[0]["score"] == 1.0
    assert all(0 < s["score"] <= 1 for s in sources)
