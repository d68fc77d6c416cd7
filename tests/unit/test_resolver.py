"""Table-driven tests of the rule-based resolver, the gate and entity tracking."""

from __future__ import annotations

import pytest

from convrag.language import gate
from convrag.language.entities import Entity, extract_entities, merge_entities
from convrag.language.resolver import replay, resolve

ZH_NILE = [("user", "尼罗河是什么？"), ("assistant", "尼罗河是非洲东北部的一条大河。")]
ZH_YANGTZE = [("user", "长江有多长？"), ("assistant", "长江全长约6300公里。")]
ZH_CURIE = [("user", "居里夫人是谁？"), ("assistant", "居里夫人是物理学家和化学家。")]
ZH_RUC = [
    ("user", "中国人民大学文学院前身是什么"),
    ("assistant", "文学院的前身是华北联合大学文艺学院。"),
]
EN_CURIE = [
    ("user", "Who was Marie Curie?"),
    ("assistant", "Marie Curie was a physicist. She won two Nobel Prizes."),
]
EN_NILE = [("user", "How long is the Nile?"), ("assistant", "About 6,650 km.")]
EN_BAND = [("user", "What group disbanded?"), ("assistant", "The Rolling Pebbles")]


@pytest.mark.parametrize(
    ("history", "question", "expected", "scenario"),
    [
        (ZH_NILE, "它有多长？", "尼罗河有多长？", "pronoun"),
        (ZH_YANGTZE, "那亚马逊河呢？", "亚马逊河有多长？", "ellipsis"),
        (ZH_CURIE, "她什么时候去世的？", "居里夫人什么时候去世的？", "pronoun"),
        (ZH_RUC, "它成立于哪一年", "中国人民大学文学院成立于哪一年", "pronoun"),
        (ZH_RUC, "这个学院有哪些专业", "中国人民大学文学院有哪些专业", "pronoun"),
        (ZH_RUC, "有哪些专业", "中国人民大学文学院有哪些专业", "no_subject"),
        (EN_CURIE, "When did she die?", "When did Marie Curie die?", "pronoun"),
        (EN_CURIE, "What was her nationality?", "What was Marie Curie's nationality?", "pronoun"),
        (EN_NILE, "What about the Mississippi?", "How long is the Mississippi?", "ellipsis"),
        (EN_BAND, "When did they disband?", "When did Rolling Pebbles disband?", "pronoun"),
    ],
)
def test_resolves_follow_ups(history, question, expected, scenario):
    result = resolve(question, replay(history))
    assert result.standalone == expected
    assert result.scenario == scenario
    assert result.mentions


@pytest.mark.parametrize(
    ("history", "question"),
    [
        (ZH_NILE, "长江流经哪些省份？"),
        (EN_NILE, "What is the population of Germany?"),
        (EN_CURIE, "Where was Albert Einstein born?"),
        ([], "它有多长？"),  # nothing to resolve against: left as it is
    ],
)
def test_standalone_questions_pass_unchanged(history, question):
    result = resolve(question, replay(history))
    assert result.standalone == question
    assert result.scenario == "none"
    assert not result.mentions


@pytest.mark.parametrize(
    ("question", "names_subject", "needs", "reason"),
    [
        ("它有多长？", False, True, "pronoun"),
        ("那亚马逊河呢？", True, True, "ellipsis"),
        ("这个学院有哪些专业", False, True, "demonstrative"),
        ("多长？", False, True, "bare-attribute"),
        ("长江有多长？", True, False, None),
        ("When did she die?", False, True, "pronoun"),
        ("What about the Mississippi?", True, True, "ellipsis"),
        ("when?", False, True, "bare-attribute"),
        ("How long is the Nile?", True, False, None),
        ("Is the book that I read any good?", True, False, None),
    ],
)
def test_gate(question, names_subject, needs, reason):
    verdict = gate.check(question, has_history=True, names_subject=names_subject)
    assert verdict.needs_resolution is needs
    if reason:
        assert reason in verdict.reasons


def test_gate_never_fires_without_history():
    assert not gate.check("它有多长？", has_history=False, names_subject=False).needs_resolution


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("尼罗河是什么？", "尼罗河", "place"),
        ("中国人民大学文学院前身是什么", "中国人民大学文学院", "org"),
        ("居里夫人是谁？", "居里夫人", "person"),
        # what a who-question asks about is somebody (its gender is learnt from answers)
        ("Who was Marie Curie?", "Marie Curie", "person"),
        ("What is the Nile?", "Nile", "place"),  # a name after "the": never he or she
    ],
)
def test_entity_extraction(text, expected, kind):
    entities = extract_entities(text)
    assert entities[0].text == expected
    assert entities[0].kind == kind


def test_answer_pronouns_teach_gender():
    dialogue = replay(EN_CURIE)
    curie = next(e for e in dialogue.entities if e.text == "Marie Curie")
    assert curie.gender == "female"


def test_gender_agreement_picks_the_matching_antecedent():
    history = [
        ("user", "Who were Pierre Curie and Marie Curie?"),
        ("assistant", "Marie Curie was a physicist; she worked with Pierre Curie."),
    ]
    result = resolve("When did she die?", replay(history))
    assert result.standalone == "When did Marie Curie die?"


def test_entities_stay_bounded_and_keep_features():
    known = [Entity(text="Marie Curie", kind="person", gender="female", turn=1)]
    many = [Entity(text=f"E{i}", turn=2 + i) for i in range(40)]
    merged = merge_entities(known, many + [Entity(text="Marie Curie", turn=50)], limit=10)
    assert len(merged) == 10
    assert merged[-1].text == "Marie Curie" and merged[-1].gender == "female"
