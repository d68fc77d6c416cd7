"""What surrounds a question is no part of it: escape sequences, zero-width and control
characters are removed before anything reads or stores the question, in the graph and in
the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.context import Context
from convrag.language.checks import clean_question
from tests.conftest import COLLECTION, SAMPLES
from tests.unit.test_cli import ROOT, assert_clear_error, convrag

CTX = Context(collection=COLLECTION)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x01\x02\x03", ""),
        ("\u200b\u200b", ""),
        ("\ufeff\u2060", ""),
        ("\x1b[31mthanks\x1b[0m", "thanks"),
        ("\x1b]0;title\x07尼罗河有多长？", "尼罗河有多长？"),
        ("谢\u200b谢", "谢谢"),
        ("How\tlong\x0bis\x0cthe Nile?", "How long is the Nile?"),
        ("line one\r\nline two", "line one\nline two"),
        ("a\x7fb\x9bc\x85d", "abc d"),
        ("尼罗河\x00有多长", "尼罗河有多长"),
        ("Ordinary text — “quoted”, 中文。\n", "Ordinary text — “quoted”, 中文。\n"),
    ],
)
def test_clean_question(raw, clean):
    assert clean_question(raw) == clean


def _ask(graph: Any, thread: str, message: Any) -> dict[str, Any]:
    return asyncio.run(graph.ainvoke({"messages": [message]},
                                     {"configurable": {"thread_id": thread}}, context=CTX))


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": "\x01\x02\x03"},
        {"role": "user", "content": "\u200b\u200b"},
        HumanMessage("\x1b[1m\x1b[0m"),
        {"role": "user", "content": [{"type": "text", "text": "\u200b\t"}]},
    ],
)
def test_a_question_of_invisible_characters_is_empty(kb, message):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    result = _ask(graph, "t", message)
    assert result["route"] == "respond" and result["documents"] == []
    assert "The question is empty" in result["messages"][-1].content


@pytest.mark.parametrize(
    ("message", "stored", "route"),
    [
        ({"role": "user", "content": "\x1b[31mthanks\x1b[0m"}, "thanks", "respond"),
        (HumanMessage("谢\u200b谢！"), "谢谢！", "respond"),
        (("user", "尼罗河\x07是什么？"), "尼罗河是什么？", "retrieve"),
        ("\ufeffWho was Marie Curie?", "Who was Marie Curie?", "retrieve"),
    ],
)
def test_the_thread_stores_the_cleaned_question(kb, message, stored, route):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    result = _ask(graph, "t", message)
    assert result["route"] == route
    assert result["messages"][0].content == stored
    assert graph.get_state({"configurable": {"thread_id": "t"}}).values[
        "messages"][0].content == stored


def test_cli_ask_refuses_a_question_of_control_characters():
    assert_clear_error(convrag("ask", "--thread", "t", "\x01\x02\x03", check=False),
                       "The question is empty")
    assert_clear_error(convrag("ask", "--thread", "t", "\u200b\u200b", check=False),
                       "The question is empty")


def test_chat_takes_thanks_in_colour_codes_for_small_talk():
    convrag("ingest", str(SAMPLES))
    result = subprocess.run(
        [sys.executable, "-m", "convrag.cli", "chat", "--thread", "c"],
        cwd=ROOT, input="\x1b[32mthanks\x1b[0m\n\x01\x02\n\n", capture_output=True,
        text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "You're welcome!" in result.stdout
    assert "The question is empty" in result.stdout
    assert "[1]" not in result.stdout  # nothing was retrieved


# --- thread ids --------------------------------------------------------------------

BAD_THREADS = [
    ("", "The thread id is empty"),
    ("   ", "The thread id is empty"),
    ("x" * 5000, "over the limit of 200"),
    ("a\nb", "control character"),
    ("tab\there", "control character"),
    ("\x1b[31mred", "control character"),
]


@pytest.mark.parametrize(("thread", "sentence"), BAD_THREADS)
@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_bad_thread_id_is_refused_and_nothing_is_stored(kb, thread, sentence, api):
    from convrag.errors import InvalidInput

    saver = InMemorySaver()
    graph = build_graph(saver, knowledge=kb)
    run: Any = {"messages": [{"role": "user", "content": "尼罗河是什么？"}]}
    config: Any = {"configurable": {"thread_id": thread}}
    with pytest.raises(InvalidInput, match=sentence):
        if api == "sync":
            graph.invoke(run, config, context=CTX)
        else:
            asyncio.run(graph.ainvoke(run, config, context=CTX))
    assert list(saver.list(None)) == []


@pytest.mark.parametrize(
    "thread", ["t", "support-42", "3f2b8c1e-9a4d-4e57-b0c2-7d1e5f6a8b90", "用户/会话 1", "x" * 200]
)
def test_good_thread_ids_work(kb, thread):
    graph = build_graph(InMemorySaver(), knowledge=kb)
    result = _ask(graph, thread, {"role": "user", "content": "尼罗河是什么？"})
    assert result["route"] == "retrieve"


@pytest.mark.parametrize(("thread", "sentence"), BAD_THREADS[:4])
def test_cli_refuses_a_bad_thread_id_in_one_sentence(thread, sentence):
    assert_clear_error(convrag("ask", "--thread", thread, "尼罗河是什么？", check=False), sentence)


def test_cli_chat_refuses_an_empty_thread_id():
    assert_clear_error(convrag("chat", "--thread", "", check=False), "The thread id is empty")


# --- a reader that goes away -------------------------------------------------------


@pytest.mark.parametrize(
    "args", [("ask", "--thread", "p", "尼罗河是什么？"), ("ask", "--thread", "p", "--json", "谢谢"),
             ("list",)],
)
def test_a_closed_pipe_ends_the_command_quietly(args):
    convrag("ingest", str(SAMPLES))
    process = subprocess.Popen([sys.executable, "-m", "convrag.cli", *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head -c 0` does, before the command writes
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert stderr == ""
