"""Ideographs that make no words ("鬱鬰齉龘靐…") name nothing and refer to nothing: they
leave no entity behind and are never rewritten with an earlier one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.language.intent import gibberish
from convrag.language.resolver import is_knowledge_turn, replay, resolve
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)
NOISE = "鬱鬰齉龘靐龖龗？"
RARE = "㐀㐁㐂𠀀𠀁𪚥"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (NOISE, True),
        (RARE, True),
        ("靐龘齉鬰 靐龘齉鬰", True),
        ("鬰齉龘", False),  # three characters: too short to tell from a rare name
        ("他是谁的人", False),  # words of one character, but words of the language
        ("它有多长？", False),
        ("西安城墙有多长？", False),
        ("鬰齉龘靐是什么意思？", False),  # a dictionary word beside them
        ("iPhone 鬰齉龘靐", False),  # a Latin word beside them
        ("Who was Marie Curie?", False),
        ("", False),
    ],
)
def test_gibberish_is_ideographs_that_make_no_words(message, expected):
    assert gibberish(message) is expected


def test_gibberish_costs_linear_time():
    start = time.perf_counter()
    for size in (500, 1000, 2000):
        gibberish(RARE * (size // len(RARE)))
        gibberish(NOISE * (size // len(NOISE)))
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("history", "question"),
    [
        ([("user", "西安城墙有多长？"), ("assistant", "西安城墙全长约13.7公里[1]。")], RARE),
        ([("user", NOISE), ("assistant", "知识库中没有找到能回答的内容。")], RARE),
        ([("user", "How long is the Nile?"), ("assistant", "About 6,650 km [1].")], NOISE),
    ],
)
def test_gibberish_is_never_rewritten(history, question):
    assert resolve(question, replay(history)).standalone == question


def test_gibberish_leaves_no_entity_and_is_no_previous_question():
    dialogue = replay([("user", "长江有多长？"), ("assistant", "长江全长约6300公里。"),
                       ("user", NOISE), ("assistant", "知识库中没有找到能回答的内容。")])
    assert not is_knowledge_turn(NOISE)
    assert not any(set(e.text) & set(NOISE) for e in dialogue.entities)
    assert dialogue.questions == ["长江有多长？"]
    assert resolve("那黄河呢？", dialogue).standalone == "黄河有多长？"


def test_gibberish_on_a_thread(kb):
    graph = build_graph(InMemorySaver(), knowledge=kb)

    def ask(question: str) -> dict[str, Any]:
        return asyncio.run(graph.ainvoke({"messages": [{"role": "user", "content": question}]},
                                         {"configurable": {"thread_id": "g"}}, context=CTX))

    ask("尼罗河是什么？")
    assert ask(NOISE)["standalone_question"] == NOISE
    assert ask(RARE)["standalone_question"] == RARE
    state = graph.get_state({"configurable": {"thread_id": "g"}}).values
    assert not any(set(e["text"]) & set(NOISE + RARE) for e in state["entities"])
    assert [q["question"] for q in state["questions"]] == ["尼罗河是什么？"]
    assert "尼罗河" in ask("它有多长？")["standalone_question"]
