"""The history-aware query follows the conversation's current topic: a question that
names a new subject of its own drops the earlier topic's terms, a follow-up keeps them."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.language.expansion import current_topic, opens_topic, topic_openings


@pytest.mark.parametrize(("standalone", "raw", "topic", "opens"), [
    # A new name, nothing shared with the topic, typed as it stands: a new topic.
    ("Who painted the Night Watch?", "Who painted the Night Watch?",
     ["How tall is Mont Blanc?", "When was Mont Blanc first climbed?"], True),
    ("鲁迅写过哪些小说？", "鲁迅写过哪些小说？", ["黄山在哪个省？"], True),
    # The resolver completed it from the conversation: a follow-up.
    ("When was Mont Blanc first climbed?", "When was it first climbed?",
     ["How tall is Mont Blanc?"], False),
    ("黄山有多高？", "它有多高？", ["黄山在哪个省？"], False),
    # It names only an aspect, no subject: the history is what says whose.
    ("What about the fees?", "What about the fees?", ["How do I renew a passport?"], False),
    ("宿舍每年多少钱？", "宿舍每年多少钱？", ["清华大学有哪些学院？"], False),
    # A Chinese common noun jieba tags as a proper one is not a name.
    ("本科生怎么申请宿舍？", "本科生怎么申请宿舍？", ["清华大学有哪些学院？"], False),
    # It shares a word with the topic: same attribute, or the same subject again.
    ("How tall is the Matterhorn?", "How tall is the Matterhorn?",
     ["How tall is Mont Blanc?"], False),
    ("清华大学在哪里？", "清华大学在哪里？", ["清华大学有哪些学院？"], False),
    # Nothing before it: there is no topic to leave.
    ("Who painted the Night Watch?", "Who painted the Night Watch?", [], False),
])
def test_opens_topic(standalone, raw, topic, opens):
    assert opens_topic(standalone, raw, topic) is opens


@pytest.mark.parametrize(("questions", "topic"), [
    ([], []),
    ([("a?", False), ("b?", False)], ["a?", "b?"]),
    ([("a?", False), ("b?", True), ("c?", False)], ["b?", "c?"]),
    ([("a?", True), ("b?", False), ("c?", True)], ["c?"]),
])
def test_current_topic_starts_at_the_last_opening(questions, topic):
    assert current_topic(questions) == topic


def test_topic_openings_of_a_whole_history():
    asked = [
        ("How tall is Mont Blanc?", "How tall is Mont Blanc?"),
        ("When was Mont Blanc first climbed?", "When was it first climbed?"),
        ("Who painted the Night Watch?", "Who painted the Night Watch?"),
        ("When did Rembrandt paint the Night Watch?", "When did he paint it?"),
        ("How tall is Mont Blanc?", "How tall is Mont Blanc?"),  # back again: new topic
    ]
    assert topic_openings(asked) == [False, False, True, False, True]


_DOCS = [
    SourceDocument(id="mont-blanc", title="Mont Blanc",
                   text="Mont Blanc is 4,806 metres tall. It was first climbed in 1786."),
    SourceDocument(id="night-watch", title="The Night Watch",
                   text="The Night Watch was painted by Rembrandt in 1642. "
                        "Rembrandt died in Amsterdam in 1669."),
    SourceDocument(id="tulips", title="Tulips", text="Tulips bloom in April in Holland."),
]


def _ids(out: dict) -> list[str]:
    return [d.metadata["id"] for d in out["documents"]]


def test_a_new_topic_leaves_the_old_one_behind_and_its_follow_ups_keep_the_new_one():
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", _DOCS)
    graph = build_graph(InMemorySaver(), knowledge=kb)
    config = {"configurable": {"thread_id": "shift"}}

    def ask(question: str) -> dict:
        return graph.invoke({"messages": [HumanMessage(question)]}, config)

    assert _ids(ask("How tall is Mont Blanc?"))[0] == "mont-blanc"
    follow_up = ask("When was it first climbed?")
    assert _ids(follow_up)[0] == "mont-blanc"
    # Before, the history leg carried "mont", "blanc", "climb" into the new topic and
    # listed Mont Blanc beside the painting.
    assert _ids(ask("Who painted the Night Watch?")) == ["night-watch"]
    after = ask("When did he die?")
    assert "mont-blanc" not in _ids(after)
    records = graph.get_state(config).values["questions"]
    assert [r["opens_topic"] for r in records] == [False, False, True, False]
    kb.close()


def test_a_history_given_all_at_once_marks_the_same_topics():
    """A thread without convrag's state (an evaluation row, a parent graph) replays the
    history and marks where topics opened as a thread asked one by one would."""
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", _DOCS)
    graph = build_graph(knowledge=kb)
    messages = [
        HumanMessage("How tall is Mont Blanc?"), AIMessage("Mont Blanc is 4,806 metres tall."),
        HumanMessage("When was it first climbed?"), AIMessage("It was first climbed in 1786."),
        HumanMessage("Who painted the Night Watch?"), AIMessage("Rembrandt painted it."),
        HumanMessage("Where did he die?"),
    ]
    out = asyncio.run(graph.ainvoke({"messages": messages}))
    assert "mont-blanc" not in _ids(out)
    kb.close()
