"""Follow-up work on the language layer: old threads, lazy jieba, bounded cost, the
history-aware query and its legs, and extractive answers that answer."""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from convrag.graph.builder import build_graph
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.language import entities
from convrag.language.expansion import FIRST_QUESTION_WEIGHT, history_terms
from convrag.language.extractive import extractive_answer
from convrag.nodes.retrieve import query_legs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_thread_checkpointed_by_0_2_0_resumes(tmp_path):
    """The fixture is one turn ("长江有多长？") written by convrag 0.2.0, before the
    `questions` field existed; the follow-up still finds its predicate."""
    path = tmp_path / "thread.sqlite"
    shutil.copy(FIXTURES / "thread-0.2.0.sqlite", path)
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", [SourceDocument(id="r", text="长江全长约6300公里。黄河全长约5464公里。")])

    async def resume() -> dict:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            graph = build_graph(checkpointer=saver, knowledge=kb)
            config = {"configurable": {"thread_id": "river-thread"}}
            before = (await graph.aget_state(config)).values
            assert not before.get("questions")
            assert before["standalone_question"] == "长江有多长？"
            out = await graph.ainvoke({"messages": [HumanMessage("那黄河呢？")]}, config)
            return {"out": out, "state": (await graph.aget_state(config)).values}

    result = asyncio.run(resume())
    kb.close()
    assert result["out"]["standalone_question"] == "黄河有多长？"
    assert [q["question"] for q in result["state"]["questions"]] == ["长江有多长？", "黄河有多长？"]


def test_an_english_turn_does_not_load_jiebas_dictionary(tmp_path):
    script = (
        "import asyncio, sys, jieba\n"
        "from langchain_core.messages import HumanMessage\n"
        "from convrag.graph.builder import build_graph\n"
        "from convrag.knowledge.store import KnowledgeBase\n"
        "from convrag.knowledge.ingest import SourceDocument\n"
        "kb = KnowledgeBase.in_memory()\n"
        "kb.ingest('convrag', [SourceDocument(id='d', text='The Danube is 2,850 km long.')])\n"
        "g = build_graph(knowledge=kb)\n"
        "q = [HumanMessage('How long is the Danube?')]\n"
        "out = asyncio.run(g.ainvoke({'messages': q}))\n"
        "assert '2,850' in out['messages'][-1].content, out['messages'][-1].content\n"
        "print(jieba.dt.initialized, 'jieba.posseg' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def _random_cjk(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n))


@pytest.mark.parametrize("text", [_random_cjk(2000, 1), "啊" * 2000, _random_cjk(12, 2) + "有多长"])
def test_the_part_of_speech_hmm_stays_within_its_budget(text, monkeypatch):
    """Cost is bounded by construction: the HMM never sees more than the budget."""
    import jieba.posseg as pseg

    seen: list[bool] = []
    real = pseg.cut

    def spy(sentence: str, HMM: bool = True, **kwargs):  # noqa: N803 (jieba's name)
        seen.append(HMM and entities._unknown_run_chars(sentence) > 0)
        return real(sentence, HMM=HMM, **kwargs)

    monkeypatch.setattr(pseg, "cut", spy)
    entities._tagged.cache_clear()
    entities.extract_entities(text, lang="zh")
    hmm_chars = entities._unknown_run_chars(text) if any(seen) else 0
    assert hmm_chars <= entities.HMM_BUDGET_CHARS


_MIXED = ["abc ", "中", "7", "？", "It ", "峰", "é", "—", "the ", "T恤", "v1.2", "50%", "-",
          "B超", "\u3400", "，", "  ", "\n", "长江", "居里夫人"]


@pytest.mark.parametrize("text", [
    _random_cjk(600, 3),
    "".join(random.Random(4).choice(_MIXED) for _ in range(600)),
    "长江发源于青藏高原，流经十一个省级行政区。Marie Curie 在1934年去世。" * 3 + _random_cjk(40, 5),
])
def test_tags_without_the_hmm_are_the_taggers_own(text):
    """Over the HMM budget the tags come from zh_cut's words and the tag table: the same
    words and tags as jieba's tagger without its HMM."""
    import jieba.posseg as pseg

    assert entities._unknown_run_chars(text) > entities.HMM_BUDGET_CHARS
    entities._tagged.cache_clear()
    expected = [(p.word, p.flag) for p in pseg.cut(text, HMM=False)]
    # Both paths regroup the tagger's words the same way afterwards (names joined).
    assert list(entities._tagged(text)) == entities._regrouped(expected, pseg.dt.word_tag_tab)


def test_history_terms_decay_with_distance_and_keep_the_first_question():
    earlier = ["How long is the Danube?", "Which cities does it pass?", "What fish live there?"]
    terms = history_terms(earlier, "Is it polluted?")
    assert terms["fish"] > terms["citi"] > 0  # nearer questions weigh more
    # The first question is the oldest, yet it keeps a floor: it names the topic.
    far = history_terms(earlier + ["Q four?", "Q five?", "Q six?", "Q seven?"], "Is it?")
    assert far["danub"] == FIRST_QUESTION_WEIGHT > far.get("citi", 0.0)
    assert "pollut" not in terms  # the current question's own terms ride on its own leg
    assert history_terms([], "Is it polluted?") == {}


def test_query_legs_weights_and_ablation():
    legs = query_legs("How long is the Danube?", "How long is it?", ["Where is the Danube?"])
    assert [leg.text for leg in legs] == [
        "How long is the Danube?", "How long is it?", "How long is it?",
    ]
    assert legs[0].weight > legs[1].weight  # an unresolved raw question cannot tie
    assert legs[2].terms and "danub" in legs[2].terms
    same = query_legs("Where is Vienna?", "Where is Vienna?", [])
    assert len(same) == 1 and same[0].weight == legs[0].weight + legs[1].weight
    assert len(query_legs("a b", "c d", ["e f"], history_weight=0)) == 2


def test_the_history_leg_finds_the_topic_a_rewrite_missed():
    kb = KnowledgeBase.in_memory()
    kb.ingest("c", [
        SourceDocument(id="danube", text="The Danube flows through ten countries. Its water "
                                         "quality improved after 1990, and so did fishing."),
        SourceDocument(id="other", text="Water quality of lakes is measured yearly."),
    ])
    raw = "How good is the water quality?"
    history = query_legs(raw, raw, ["Which countries does the Danube flow through?"],
                         standalone_weight=0, raw_weight=0)
    assert [hit.doc_id for hit in kb.search("c", history, k=1)] == ["danube"]
    assert [hit.doc_id for hit in kb.search("c", [raw], k=1)] == ["other"]
    kb.close()


@pytest.mark.parametrize(
    ("question", "passages", "titles", "expected"),
    [
        # The best passage's sentence, though another passage shares words with the question.
        ("How many leave days do staff get?",
         ["Leave. Staff get 28 leave days a year. Ask your lead first.",
          "Phones. Staff get a phone; it is replaced after 2 days of repair."],
         ["Leave policy", "Phone policy"], "Staff get 28 leave days a year [1]."),
        # The sentence of the question's form (a number), its pronoun subject named.
        ("How long is the Danube?",
         ["The Danube is a river in Europe. It is about 2,850 km long."], [None],
         "The Danube is about 2,850 km long [1]."),
        ("黄河有多长？", ["黄河是中国的河流。它全长约5464公里。"], [None],
         "黄河全长约5464公里[1]。"),
        # She is named only by a person's name the passage gives as a subject before,
        # never by the title: without one the sentence is quoted as written.
        ("When did she retire?", ["She joined in 1990. She retired in 2015."], ["Ada Byron"],
         "She retired in 2015 [1]."),
        ("When did she retire?", ["Ada Byron joined in 1990. She retired in 2015."],
         ["Staff history"], "Ada Byron retired in 2015 [1]."),
    ],
)
def test_extractive_answers_answer(question, passages, titles, expected):
    result = extractive_answer(question, passages, lang="zh" if "河" in question else "en",
                               titles=titles)
    assert result.found
    assert result.text == expected


@pytest.mark.parametrize("line, heading", [
    ("## Sick leave", True),
    ("# 员工守则", True),
    ("Sick leave", True),
    ("差旅报销", True),
    ("Sick leave is paid for up to ten days a year.", False),
    ("病假每年最多十天，工资照发。", False),
    ("Opening hours 8 to 18", False),  # a number: it may be the answer
    ("Employees who travel abroad book through the travel desk and keep receipts", False),
])
def test_heading_lines(line, heading):
    from convrag.language.extractive import is_heading

    assert is_heading(line) is heading


@pytest.mark.parametrize("question, passage, quoted", [
    ("What is parental leave?",
     "## Parental leave\nNew parents get sixteen weeks off with full pay.",
     "New parents get sixteen weeks off with full pay."),
    ("什么是育儿假？", "育儿假\n孩子三岁前，父母每年各有十天带薪假。",
     "孩子三岁前，父母每年各有十天带薪假。"),
])
def test_extractive_answer_quotes_a_sentence_not_the_heading(question, passage, quoted):
    result = extractive_answer(question, [passage], lang="zh" if "假" in question else "en")
    assert result.found
    assert result.text.startswith(quoted.rstrip("。."))
    assert "##" not in result.text
