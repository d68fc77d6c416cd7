"""A reply that answers nothing (not found, small talk, a refused input) is never where a
later "it" or "它" finds its antecedent: the answer node marks its replies, and a history
given as plain text is recognised by its wording."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.graph.state import REPLY_KIND, dialogue_turns, reply_kind
from convrag.language.extractive import NOT_FOUND
from convrag.language.intent import answers_nothing, canned_reply
from convrag.language.resolver import replay, resolve
from convrag.nodes.resolve_coreference import build_dialogue
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)


@pytest.mark.parametrize(
    ("reply", "nothing"),
    [
        (NOT_FOUND["zh"].format(q="今天天气怎么样？"), True),
        (NOT_FOUND["en"].format(q="How do I bake bread?"), True),
        ("知识库里没有关于这个问题的内容。", True),  # an earlier wording
        ("Sorry, the knowledge base does not have the opening hours.", True),  # a model's
        ("根据提供的资料，知识库中没有提到这一点。", True),
        ("The question is empty: type a question.", True),
        (canned_reply("thanks", "zh"), True),
        (canned_reply("greeting", "en"), True),
        ("", True),
        ("西安城墙全长约13.7公里[1]。", False),
        ("The Nile is about 6,650 km long [1]. The knowledge base does not say more.", False),
        ("Our knowledge base team is in Building C [2].", False),
    ],
)
def test_replies_that_answer_nothing_are_recognised_by_their_wording(reply, nothing):
    assert answers_nothing(reply) is nothing


@pytest.mark.parametrize(
    ("question", "reply", "follow_up"),
    [
        ("今天天气怎么样？", NOT_FOUND["zh"].format(q="今天天气怎么样？"), "它呢？"),
        ("今天天气怎么样？", "知识库里没有这方面的资料。", "它有多大？"),
        ("How do I bake bread?", NOT_FOUND["en"].format(q="How do I bake bread?"),
         "What about it?"),
        ("How do I bake bread?", "(The model is unavailable: TimeoutError; quoting the "
         "passages.)\n" + NOT_FOUND["en"].format(q="How do I bake bread?"), "Where is it?"),
    ],
)
def test_a_plain_text_history_learns_nothing_from_a_not_found_reply(question, reply, follow_up):
    dialogue = replay([("user", question), ("assistant", reply)])
    known = {e.text for e in dialogue.entities}
    assert not any("知识库" in text or "knowledge" in text.lower() or "model" in text.lower()
                   for text in known)
    assert resolve(follow_up, dialogue).standalone == follow_up


def test_the_marker_decides_for_a_reply_in_the_thread():
    # Worded like an answer, marked as none: the marker wins over the wording.
    reply = AIMessage("Mount Olympus is on Mars.", response_metadata={REPLY_KIND: "not_found"})
    state: dict[str, Any] = {"messages": [HumanMessage("What is the tallest volcano?"), reply,
                                          HumanMessage("Where is it?")]}
    assert "Mount Olympus" not in {e.text for e in build_dialogue(state).entities}
    assert dialogue_turns(state["messages"], answers_only=True)[1] == ("assistant", "")
    assert dialogue_turns(state["messages"])[1] == ("assistant", reply.content)
    # Marked as an answer, the same reply is learnt from.
    answered = AIMessage(reply.content, response_metadata={REPLY_KIND: "answer"})
    state["messages"][1] = answered
    assert "Mount Olympus" in {e.text for e in build_dialogue(state).entities}


def _user(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


def _config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.parametrize(
    ("turns", "kinds"),
    [
        (["尼罗河是什么？", "谢谢！", "", "今天天气怎么样？"],
         ["answer", "respond", "error", "not_found"]),
        (["Who was Marie Curie?", "What did I ask?", "How do I bake sourdough bread?"],
         ["answer", "respond", "not_found"]),
    ],
)
def test_every_reply_of_the_graph_says_what_it_is(kb, turns, kinds):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    for question in turns:
        graph.invoke(_user(question), _config("t"), context=CTX)
    messages = graph.get_state(_config("t")).values["messages"]
    assert [reply_kind(m) for m in messages if isinstance(m, AIMessage)] == kinds


@pytest.mark.parametrize("api", ["sync", "async"])
def test_after_an_unanswerable_turn_it_refers_to_nothing_of_the_reply(kb, api):
    graph = build_graph(InMemorySaver(), knowledge=kb)

    def ask(question: str) -> dict[str, Any]:
        if api == "sync":
            return graph.invoke(_user(question), _config("t"), context=CTX)
        return asyncio.run(graph.ainvoke(_user(question), _config("t"), context=CTX))

    first = ask("今天天气怎么样？")
    assert first["messages"][-1].response_metadata[REPLY_KIND] == "not_found"
    follow = ask("它呢？")
    assert follow["standalone_question"] == "它呢？"
    entities = graph.get_state(_config("t")).values["entities"]
    assert not any("知识库" in e["text"] for e in entities)


def test_the_marker_survives_a_checkpoint_on_disk(kb, tmp_path: Path):
    path = tmp_path / "checkpoints.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        build_graph(saver, knowledge=kb).invoke(_user("今天天气怎么样？"), _config("d"),
                                                 context=CTX)
    with SqliteSaver.from_conn_string(str(path)) as saver:
        graph = build_graph(saver, knowledge=kb)
        last = graph.get_state(_config("d")).values["messages"][-1]
        assert reply_kind(last) == "not_found"
        assert graph.invoke(_user("它呢？"), _config("d"), context=CTX)[
            "standalone_question"] == "它呢？"
