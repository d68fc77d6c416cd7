"""Chinese personal names jieba cuts apart, joined back into one entity.

Every example is written for this file. A surname the tagger leaves as a word of its
own (a classifier, an adjective, a noun) before a given name it tags as a person is one
name; so is a compound surname and the given name after it. Words and places that
merely start with a surname character stay as they are.
"""

from __future__ import annotations

import pytest

from convrag.language.entities import extract_entities
from convrag.language.resolver import replay, resolve


def _names(text: str) -> list[str]:
    return [e.text for e in extract_entities(text, lang="zh")]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("张志远是哪年出生的？", "张志远"),  # 张 is tagged a classifier
        ("高志远在哪家公司上班？", "高志远"),  # 高 an adjective
        ("刘美玲喜欢什么颜色？", "刘美玲"),
        ("诸葛明月是做什么的？", "诸葛明月"),  # the given name is tagged a time word
        ("欧阳娜娜今年多大？", "欧阳娜娜"),
        ("张先生住在哪里？", "张先生"),  # a surname and a title
    ],
)
def test_a_surname_joins_the_given_name(text, name):
    names = _names(text)
    assert name in names
    entity = next(e for e in extract_entities(text, lang="zh") if e.text == name)
    assert entity.kind == "person"


@pytest.mark.parametrize(
    ("text", "not_a_person"),
    [
        ("这张志远的照片在哪？", "张"),  # 这张 is "this sheet"
        ("三张志远的照片", "张"),
        ("东方文化有什么特点？", "东方"),  # 东方 "east" is not taken for a surname
        ("这座山也没有很高同学都爬上去了", "高"),  # 很高 is an adjective
    ],
)
def test_a_surname_character_that_is_no_surname_stays_apart(text, not_a_person):
    assert not any(e.kind == "person" and e.text.startswith(not_a_person)
                   for e in extract_entities(text, lang="zh"))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("黄山有多高？", "黄山"),
        ("高新区有几个地铁站？", "高新区"),
        ("马来西亚的首都是哪里？", "马来西亚"),
    ],
)
def test_places_that_start_with_a_surname_stay_whole(text, kept):
    assert kept in _names(text)


def test_a_noun_used_as_a_verb_before_yu_is_no_part_of_the_name():
    # jieba's dictionary calls 毕业 a noun: "…毕业于…" uses it as the verb.
    assert _names("张志远毕业于哪所大学？")[0] == "张志远"


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ([("user", "张志远是哪年出生的？"), ("assistant", "张志远1960年出生在南京。")],
         "他毕业于哪所大学？", "张志远毕业于哪所大学？"),
        ([("user", "张志远毕业于哪所大学？"), ("assistant", "他毕业于一所师范大学。")],
         "他后来在哪里工作？", "张志远后来在哪里工作？"),
        ([("user", "诸葛明月是做什么的？"), ("assistant", "诸葛明月是一位画家。")],
         "她办过画展吗？", "诸葛明月办过画展吗？"),
        ([("user", "高志远在哪家公司上班？"), ("assistant", "高志远在一家银行上班。")],
         "他是哪里人？", "高志远是哪里人？"),
    ],
)
def test_a_pronoun_finds_the_whole_name(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("云舟Pad 5 的屏幕多大？", "云舟Pad 5"),  # a model number after a space
        ("云舟Pad 5多少钱？", "云舟Pad 5"),
        ("飞鱼Mate 40 Pro怎么样？", "飞鱼Mate 40 Pro"),
        ("Python 3 好学吗？", "Python 3"),
    ],
)
def test_a_model_number_after_a_space_is_part_of_the_name(text, name):
    assert name in _names(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("店里还有云舟Pad 3台吗？", "云舟Pad"),  # 3台 counts tablets
        ("我用云舟Pad 2023年买的", "云舟Pad"),
    ],
)
def test_a_number_with_a_unit_is_a_quantity(text, name):
    assert name in _names(text)


_TABLET = [("user", "云舟Pad的屏幕多大？"), ("assistant", "云舟Pad的屏幕是11英寸。")]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # jieba cuts 这款平板 as 这 + 款 + 平板: still a determiner and its noun.
        ("这款平板多少钱？", "云舟Pad多少钱？"),
        # A determiner before a question word stands alone for the thing.
        ("这个多少钱？", "云舟Pad多少钱？"),
        ("这款好用吗？", "云舟Pad好用吗？"),
        ("这款有几种颜色？", "云舟Pad有几种颜色？"),
    ],
)
def test_a_determiner_and_its_classifier_stand_for_the_thing(question, expected):
    assert resolve(question, replay(_TABLET)).standalone == expected


def test_a_classifier_inside_a_word_is_no_determiner():
    # 只是 is "only": "这只是…" has no determiner 这只.
    from convrag.language.references import zh_references
    from convrag.language.tokens import zh_cut

    assert not zh_references(zh_cut("这只是一个例子"))


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # 它们 is "they" for things: a Chinese noun is unmarked for number.
        ([("user", "金丝猴吃什么？"), ("assistant", "秦岭以金丝猴和羚牛闻名。")],
         "它们生活在哪里？", "金丝猴生活在哪里？"),
        # 该公司 is a company named before, found by the kind its head names.
        ([("user", "青松科技是哪年成立的？"), ("assistant", "青松科技成立于2012年。")],
         "该公司总部在哪？", "青松科技总部在哪？"),
        # 这所学校 shares the 校 family: a 学院 named before.
        ([("user", "白鹭学院在哪个城市？"), ("assistant", "白鹭学院在厦门。")],
         "这所学校有多少学生？", "白鹭学院有多少学生？"),
    ],
)
def test_plural_things_and_demonstratives_of_a_kind(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


def test_a_demonstrative_whose_kind_nothing_fits_stays():
    # 这所学校 never becomes the city just named: nothing of a school's kind is known.
    history = [("user", "你在哪座城市读书？"), ("assistant", "我在厦门读书。")]
    assert resolve("这所学校有多少学生？", replay(history)).standalone == "这所学校有多少学生？"


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # 年假 (cut 年 + 假) shares the head of 病假: the predicate carries over.
        ([("user", "病假要提前几天申请？"), ("assistant", "病假要提前一天申请。")],
         "年假呢？", "年假要提前几天申请？"),
    ],
)
def test_a_mis_tagged_target_still_shares_a_head(history, question, expected):
    assert resolve(question, replay(history)).standalone == expected


def test_a_name_that_fits_no_predicate_is_not_glued_to_the_old_subject():
    history = [("user", "王建国是哪年出生的？"), ("assistant", "王建国1950年出生。")]
    standalone = resolve("那泰山呢？", replay(history)).standalone
    assert "王建国" not in standalone


def test_a_partitive_question_gets_no_subject_in_front():
    # "其中…" picks out of a set named before; "X其中哪个…" would be a second subject.
    history = [("user", "白鹭学院有哪些专业？"), ("assistant", "白鹭学院有中文、数学和物理专业。")]
    assert resolve("其中哪个最难？", replay(history)).standalone == "其中哪个最难？"


def test_a_province_and_its_city_written_together_are_a_place():
    entity = extract_entities("她出生于福建厦门。", lang="zh")[-1]
    assert (entity.text, entity.kind) == ("福建厦门", "place")
    history = [("user", "她出生在哪里？"), ("assistant", "她出生于福建厦门。")]
    assert resolve("那里有什么特产？", replay(history)).standalone == "福建厦门有什么特产？"
