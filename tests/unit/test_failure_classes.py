"""The resolver's failure classes, one table each: memory, words, demonstratives, English.

Every example is written for this file. Each table states the behaviour the class
needs; a row fails if the resolver falls back into the old mistake.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.graph.state import remember_questions
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.language import gate
from convrag.language.references import ZH_PRONOUNS, en_pronouns, zh_references
from convrag.language.resolver import REMEMBERED_QUESTIONS, replay, resolve
from convrag.language.tokens import zh_cut

# --- memory: small talk, meta questions and rejected input are never antecedents ------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ([("user", "珠江有多长？"), ("assistant", "珠江全长约2400公里。"),
          ("user", "谢谢！"), ("assistant", "不客气！还有其他问题吗？")],
         "那淮河呢？", "淮河有多长？"),
        ([("user", "How deep is Lake Baikal?"), ("assistant", "About 1,640 m."),
          ("user", "Thanks!"), ("assistant", "You're welcome! Anything else?")],
         "What about Lake Tahoe?", "How deep is Lake Tahoe?"),
        ([("user", "How tall is the Eiffel Tower?"), ("assistant", "It is 330 m tall."),
          ("user", "What did I ask before?"), ("assistant", "You asked about a tower.")],
         "What about the Space Needle?", "How tall is the Space Needle?"),
        ([("user", "泰山有多高？"), ("assistant", "泰山海拔1545米。"),
          ("user", "你好"), ("assistant", "你好！我可以根据知识库回答问题。")],
         "它在哪个省？", "泰山在哪个省？"),
    ],
)
def test_small_talk_between_does_not_break_the_thread(history, question, expected):
    dialogue = replay(history)
    assert dialogue.previous_question not in {"谢谢！", "Thanks!", "你好", "What did I ask before?"}
    assert resolve(question, dialogue).standalone == expected


def _ask(graph, thread: str, text: str) -> dict:
    config = {"configurable": {"thread_id": thread}}
    return asyncio.run(graph.ainvoke({"messages": [HumanMessage(text)]}, config))


@pytest.fixture
def rivers() -> KnowledgeBase:
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", [SourceDocument(id="r", text="珠江全长约2400公里。淮河全长约1000公里。")])
    yield kb
    kb.close()


def test_the_thread_remembers_only_knowledge_questions(rivers):
    graph = build_graph(InMemorySaver(), knowledge=rivers)
    _ask(graph, "t", "珠江有多长？")
    _ask(graph, "t", "谢谢！")
    _ask(graph, "t", "x" * 3000)  # rejected: over the length limit
    out = _ask(graph, "t", "那淮河呢？")
    assert out["standalone_question"] == "淮河有多长？"
    state = graph.get_state({"configurable": {"thread_id": "t"}}).values
    assert [q["question"] for q in state["questions"]] == ["珠江有多长？", "淮河有多长？"]


def test_the_questions_reducer_keeps_one_entry_per_turn_and_the_latest_few():
    old = [{"turn": t, "question": f"q{t}"} for t in range(1, 4)]
    new = [{"turn": 3, "question": "again"}, {"turn": 4, "question": "n"}]
    merged = remember_questions(old, new)
    assert [q["question"] for q in merged] == ["q1", "q2", "again", "n"]
    many = remember_questions(None, [{"turn": t, "question": str(t)} for t in range(30)])
    assert len(many) == REMEMBERED_QUESTIONS
    assert many[-1]["question"] == "29"


# --- detection on words, one table for the gate and the resolver ----------------------


@pytest.mark.parametrize(
    "question",
    ["吉他是谁发明的？", "尤其是哪一种？", "其他国家有哪些？", "其中最大的是哪个？",
     "他人怎么看？"],
)
def test_pronoun_characters_inside_words_are_not_pronouns(question):
    assert not [r for r in zh_references(zh_cut(question)) if r.kind == "pronoun"]
    assert "pronoun" not in gate.check(question, has_history=True, names_subject=True).reasons


@pytest.mark.parametrize("pronoun", sorted(ZH_PRONOUNS))
def test_the_gate_and_the_resolver_read_the_same_pronouns(pronoun):
    question = f"{pronoun}在哪里？"
    assert "pronoun" in gate.check(question, has_history=True, names_subject=True).reasons
    assert [r.word for r in zh_references(zh_cut(question))] == [pronoun]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ([("user", "长江有多长？"), ("assistant", "长江全长约6300公里。")],
         "那么亚马逊河呢？", "亚马逊河有多长？"),
        ([("user", "黄山有多高？"), ("assistant", "黄山海拔1864米。")],
         "那么峨眉山呢？", "峨眉山有多高？"),
    ],
)
def test_the_longest_opener_is_taken_whole(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


# --- demonstrative nouns are replaced whole -------------------------------------------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ([("user", "清华大学在哪个城市？"), ("assistant", "清华大学在北京。")],
         "该校有哪些院系？", "清华大学有哪些院系？"),
        ([("user", "云南有哪些城市？"), ("assistant", "云南有昆明、大理等城市。")],
         "那里的气候怎么样？", "云南的气候怎么样？"),
        ([("user", "复旦大学在哪里？"), ("assistant", "复旦大学在上海。")],
         "此校建于哪一年？", "复旦大学建于哪一年？"),
    ],
)
def test_demonstrative_nouns_resolve_whole(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


def test_a_demonstrative_with_no_fitting_antecedent_is_left_alone():
    history = [("user", "清华大学是哪一年建校的？"), ("assistant", "清华大学建于1911年。")]
    assert resolve("那里的冬天冷吗？", replay(history)).standalone == "那里的冬天冷吗？"


# --- English ----------------------------------------------------------------------------

EN_LOVELACE = [
    ("user", "Who was Ada Lovelace?"),
    ("assistant", "Ada Lovelace was a mathematician. She wrote the first published program."),
]
EN_DANUBE = [("user", "How long is the Danube?"), ("assistant", "About 2,850 km.")]
EN_AMAZON_RIVER = [("user", "How long is the Amazon River?"), ("assistant", "About 6,400 km.")]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A leading "and" before a clause is not an ellipsis.
        (EN_LOVELACE, "And when did she die?", "And when did Ada Lovelace die?"),
        # The pronoun inside an ellipsis is resolved, not the predicate carried over.
        (EN_DANUBE, "What about its source?", "What about Danube's source?"),
        # A pleonastic "it" refers to nothing.
        (EN_DANUBE, "How long does it take to sail from Vienna to Budapest?",
         "How long does it take to sail from Vienna to Budapest?"),
        (EN_DANUBE, "Is it safe to swim in Lake Geneva?", "Is it safe to swim in Lake Geneva?"),
        # Things never bind to he/she.
        (EN_AMAZON_RIVER, "When did she die?", "When did she die?"),
        # A question that names its own subject comes back unchanged.
        (EN_DANUBE, "How long must passwords be?", "How long must passwords be?"),
    ],
)
def test_english_failure_classes(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


def test_a_name_asked_about_beats_the_background_topic():
    history = [("user", "Who was Queen Victoria?"),
               ("assistant", "Queen Victoria ruled the United Kingdom.")]
    dialogue = replay(history, topic="Charles Dickens")
    assert resolve("When did she die?", dialogue).standalone == "When did Queen Victoria die?"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How long does it take to boil an egg?", []),
        ("What time is it?", []),
        ("Why did it take so long?", ["it"]),
        ("Where is it?", ["it"]),
        ("Did she like it?", ["she", "it"]),
    ],
)
def test_pleonastic_it_is_not_a_reference(question, expected):
    assert [m.group(0).lower() for m in en_pronouns(question)] == expected


@pytest.mark.parametrize(
    ("history", "question"),
    [
        ([("user", "珠江有多长？"), ("assistant", "珠江全长约2400公里。")], "黄河发源于哪里？"),
        (EN_DANUBE, "Which countries does the Rhine flow through?"),
        (EN_DANUBE, "What is the capital of Austria?"),
    ],
)
def test_questions_that_name_their_subject_are_unchanged(history, question):
    result = resolve(question, replay(history))
    assert result.standalone == question
    assert not result.mentions
