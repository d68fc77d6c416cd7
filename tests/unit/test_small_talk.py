"""Small talk is recognised by what it is made of, in either language, and leaves no trace
in the thread: no antecedent, no "previous question", no line in a recap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.language import gate
from convrag.language.intent import canned_reply, classify
from convrag.language.resolver import replay, resolve
from tests.conftest import COLLECTION

CTX = Context(collection=COLLECTION)
ZH_WALL = [("user", "西安城墙有多长？"), ("assistant", "西安城墙全长约13.7公里[1]。")]


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        # phrases strung together: the one that steers the talk most decides the reply
        ("ok thanks, bye", "farewell"),
        ("好的，再见", "farewell"),
        ("Thanks a lot, see you later!", "farewell"),
        ("hi, thanks", "thanks"),
        ("嗯嗯 谢谢啦～", "thanks"),
        ("No thanks.", "thanks"),
        ("Hey there!!", "greeting"),
        ("Hello, is there parking?", "knowledge"),
        ("Good evening :)", "greeting"),
        ("你好呀", "greeting"),
        # acknowledgements
        ("ok", "acknowledgement"),
        ("Okay.", "acknowledgement"),
        ("Got it 👍", "acknowledgement"),
        ("cool, makes sense", "acknowledgement"),
        ("明白了。", "acknowledgement"),
        ("收到！", "acknowledgement"),
        ("好", "acknowledgement"),
        ("That’s all, thank you", "farewell"),
        # an acknowledgement in a few words of its own ("that helps", "it's useful")
        ("Thanks, that helps.", "thanks"),
        ("That's very helpful!", "acknowledgement"),
        ("ok, it was useful", "acknowledgement"),
        ("Good to know.", "acknowledgement"),
        ("原来如此，很有帮助", "acknowledgement"),
        ("That helps with what?", "knowledge"),
        ("Is it useful for kids?", "knowledge"),
        ("That is the museum?", "knowledge"),
        # content beyond the small talk: a knowledge question
        ("ok, what about sick leave?", "knowledge"),
        ("谢谢，那亚马逊河呢？", "knowledge"),
        ("好吃吗", "knowledge"),
        ("可以退货吗？", "knowledge"),
        ("his thesis", "knowledge"),  # "hi" only as a whole word
        ("okthanks", "knowledge"),
        ("Great Wall of China", "knowledge"),
        ("yes", "knowledge"),  # fillers alone are no small talk
        ("啊", "knowledge"),
        ("", "knowledge"),
    ],
)
def test_small_talk_is_made_of_small_talk_words(message, kind):
    assert classify(message) == kind


def test_a_long_run_of_small_talk_words_is_classified_in_linear_time():
    import time

    start = time.perf_counter()
    assert classify("嗯" * 1999 + "吗") == "knowledge"
    assert classify("ok " * 600) == "acknowledgement"
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("kind", ["greeting", "thanks", "farewell", "acknowledgement", "help"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_small_talk_intent_has_a_reply(kind, lang):
    assert canned_reply(kind, lang)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([("user", "How many vacation days do I get?"), ("assistant", "25 days [1].")],
         "ok thanks, bye"),
        (ZH_WALL, "好的，再见"),
        (ZH_WALL, "嗯，明白了"),
    ],
)
def test_small_talk_is_never_rewritten(history, message):
    dialogue = replay(history)
    assert resolve(message, dialogue).standalone == message
    assert not gate.check(message, has_history=True, names_subject=False).needs_resolution


def test_small_talk_is_no_previous_question_in_a_replayed_history():
    history = [("user", "长江有多长？"), ("assistant", "长江全长约6300公里。"),
               ("user", "好的，谢谢"), ("assistant", "不客气！还有其他问题吗？")]
    dialogue = replay(history)
    assert dialogue.questions == ["长江有多长？"]
    assert resolve("那黄河呢？", dialogue).standalone == "黄河有多长？"


def _ask(graph: Any, thread: str, question: str) -> dict[str, Any]:
    return asyncio.run(graph.ainvoke({"messages": [{"role": "user", "content": question}]},
                                     {"configurable": {"thread_id": thread}}, context=CTX))


@pytest.mark.parametrize(
    ("questions", "recap", "listed", "unlisted"),
    [
        (["尼罗河是什么？", "好的，谢谢", "嗯", "那亚马逊河呢？", "谢谢"], "我刚才问了什么？",
         ["尼罗河是什么？", "那亚马逊河呢？"], ["谢谢", "好的", "嗯"]),
        (["Who was Marie Curie?", "ok thanks", "cool", "When did she die?", "thanks!"],
         "What did I ask before?", ["Who was Marie Curie?", "When did she die?"],
         ["thanks", "cool"]),
    ],
)
def test_small_talk_on_a_thread(kb, questions, recap, listed, unlisted):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    for question in questions:
        result = _ask(graph, "t", question)
        if question in unlisted or question.rstrip("!") in unlisted:
            assert result["route"] == "respond"
            assert result["standalone_question"] == question
            assert result["documents"] == []
    state = graph.get_state({"configurable": {"thread_id": "t"}}).values
    recorded = [q["question"] for q in state["questions"]]
    assert not any(word in q for q in recorded for word in unlisted)
    reply = _ask(graph, "t", recap)["messages"][-1].content
    for question in listed:
        assert question in reply
    for word in unlisted:
        assert word not in reply
