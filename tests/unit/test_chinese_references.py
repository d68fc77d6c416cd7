"""Chinese follow-ups the rule-based resolver completes: ellipsis, zero subjects, names.

Every example is written for this file. Each table states one rule; a row fails when
the resolver glues a fragment, carries a predicate to a thing it does not fit, or
leaves out a subject the conversation supplies.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from convrag.graph.builder import build_graph
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase
from convrag.language.entities import extract_entities
from convrag.language.resolver import replay, resolve


def _resolved(history: list[tuple[str, str]], question: str) -> str:
    return resolve(question, replay(history)).standalone


# --- "那X呢？": carry the predicate only where it fits, never glue a fragment ----------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A name for a name of the same kind: the predicate carries over.
        ([("user", "太湖的面积有多大？"), ("assistant", "太湖面积约2400平方公里。")],
         "那洞庭湖呢？", "洞庭湖的面积有多大？"),
        # Compounds put their head last: a noun that shares it is the same kind of thing.
        ([("user", "住房补贴每月发多少？"), ("assistant", "住房补贴每月800元。")],
         "那餐饮补贴呢？", "餐饮补贴每月发多少？"),
        ([("user", "去年联赛的冠军是哪支球队？"), ("assistant", "冠军是一支南方球队。")],
         "季军呢？", "去年联赛的季军是哪支球队？"),
        # A name becomes the topic of a question that named none.
        ([("user", "明天会下雨吗？"), ("assistant", "明天有小雨。")],
         "杭州呢？", "杭州明天会下雨吗？"),
        # The predicate does not fit the new thing: it is asked about in the old subject.
        ([("user", "硕士学制多长？"), ("assistant", "硕士研究生的学制一般为三年。")],
         "那奖学金呢？", "硕士的奖学金呢？"),
        ([("user", "南京大学在哪里？"), ("assistant", "南京大学在南京。")],
         "新校区呢？", "南京大学的新校区在哪里？"),
    ],
)
def test_ellipsis_carries_the_predicate_where_it_fits(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # A new topic of a kind the previous question has no noun for: left as asked,
        # never "天数的…" or "年假的…".
        ([("user", "每年能休几天病假？"), ("assistant", "病假天数按医院证明计算，每年最多30天。")],
         "那交通补贴呢？"),
        # A person's predicate does not fit a city.
        ([("user", "鲁迅多大去世的？"), ("assistant", "鲁迅55岁去世。")], "那上海呢？"),
        # A clause that merely ends in 呢 is no ellipsis.
        ([("user", "你喜欢看书吗？"), ("assistant", "很喜欢。")], "我正在看小说呢"),
        # "你的…呢" asks back about the listener.
        ([("user", "我喜欢爬山。"), ("assistant", "爬山很好。")], "你的爱好呢？"),
    ],
)
def test_ellipsis_that_fits_no_reading_is_left_alone(history, question):
    assert _resolved(history, question) == question


def test_ellipsis_never_gives_the_old_predicate_to_a_thing_it_does_not_fit():
    history = [("user", "硕士学制多长？"), ("assistant", "硕士研究生的学制一般为三年。")]
    assert "多长" not in _resolved(history, "那导师呢？")


# --- zero subjects: a clause that opens with its predicate takes the topic -------------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # The predicate opens the clause; the noun after it is an object, not a subject.
        ([("user", "你听说过敦煌莫高窟吗？"), ("assistant", "听说过，那里有很多壁画。")],
         "是世界文化遗产吗？", "敦煌莫高窟是世界文化遗产吗？"),
        ([("user", "你知道紫金山天文台吗？"), ("assistant", "知道，在南京。")],
         "对外开放吗？", "紫金山天文台对外开放吗？"),
        # Openers (a conjunction, an interjection) stay in front of the subject.
        ([("user", "你喜欢苏州园林吗？"), ("assistant", "喜欢，特别精致。")],
         "所以值得去吗？", "所以苏州园林值得去吗？"),
        ([("user", "你看过茶馆这部话剧吗？"), ("assistant", "看过。")],
         "嗯，讲的是什么故事？", "嗯，茶馆讲的是什么故事？"),
        # A copula needs a subject, even with a name after it.
        ([("user", "你知道丹顶鹤吗？"), ("assistant", "知道，很漂亮。")],
         "是国家一级保护动物吗？", "丹顶鹤是国家一级保护动物吗？"),
        # An answering "是啊，" opens the clause like an interjection.
        ([("user", "你知道丹顶鹤吗？"), ("assistant", "知道，很漂亮。")],
         "是啊，很少见", "是啊，丹顶鹤很少见"),
        ([("user", "你听说过锦江饭店吗？"), ("assistant", "听说过。")],
         "我觉得是上海最老的饭店", "我觉得锦江饭店是上海最老的饭店"),
        # A relational noun (作者, 结局, 门票) is a part or role of something unnamed.
        ([("user", "你读过边城吗？"), ("assistant", "读过，写得很美。")],
         "作者是谁？", "边城作者是谁？"),
    ],
)
def test_a_clause_without_a_subject_takes_the_topic(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # A noun before the predicate is the subject.
        ([("user", "你知道紫金山天文台吗？"), ("assistant", "知道，在南京。")], "望远镜贵不贵？"),
        # A name of its own: a new topic.
        ([("user", "你知道紫金山天文台吗？"), ("assistant", "知道，在南京。")], "介绍一下玄武湖"),
    ],
)
def test_a_clause_with_its_own_subject_is_unchanged(history, question):
    assert _resolved(history, question) == question


@pytest.mark.parametrize("question", ["是的", "是吗？", "是啊"])
def test_a_copula_that_answers_yes_is_no_clause_without_a_subject(question):
    history = [("user", "你知道丹顶鹤吗？"), ("assistant", "知道，很漂亮。")]
    assert _resolved(history, question) == question


# --- names: the object of "你知道X吗" and "X是什么" is one entity ----------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你知道沉默的羔羊吗", "沉默的羔羊"),
        ("你看过边城这本书吗", "边城"),
        ("你听说过量子纠缠吗", "量子纠缠"),
        ("二十四节气是什么", "二十四节气"),
        ("r语言有什么用", "r语言"),
    ],
)
def test_named_objects_are_whole_entities(text, expected):
    assert extract_entities(text, lang="zh")[0].text == expected


@pytest.mark.parametrize(
    ("text", "not_a_name"),
    [
        ("你知道我是谁吗", "我是谁"),
        ("你喜欢吃什么", "吃什"),
        ("你知道这个吗", "这个"),
        # Without a question particle a verb makes the rest a clause, not a name.
        ("喜欢热乎乎的粥喝下去很舒服", "热乎乎的粥喝下去很舒服"),
    ],
)
def test_clauses_and_references_are_not_named_objects(text, not_a_name):
    assert not_a_name not in [e.text for e in extract_entities(text, lang="zh")]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # Nouns headed by 人/者/员/友… are people: 他/她 can mean them.
        ([("user", "我男朋友最近很忙"), ("assistant", "工作忙吗？")],
         "他经常加班", "男朋友经常加班"),
        ([("user", "这本书的译者是谁？"), ("assistant", "译者是一位老教授。")],
         "她还翻译过什么？", "译者还翻译过什么？"),
        ([("user", "我闺蜜最近不理我"), ("assistant", "怎么了？")], "她生我气了", "闺蜜生我气了"),
        # "X是哪里人" says X is a person, whatever the tagger made of the name.
        ([("user", "玄奘是哪里人？"), ("assistant", "玄奘是洛阳人。")],
         "他去过哪些国家？", "玄奘去过哪些国家？"),
    ],
)
def test_person_nouns_take_personal_pronouns(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A bare 这 before a verb, or 那 before the copula, is the subject.
        ([("user", "你知道大熊猫吗？"), ("assistant", "知道，很可爱。")],
         "这是国宝吧", "大熊猫是国宝吧"),
        ([("user", "你吃过螺蛳粉吗？"), ("assistant", "吃过。")],
         "那是柳州的小吃", "螺蛳粉是柳州的小吃"),
        # jieba cuts 这首歌 as 这 + 首歌; the classifier still makes 这 a determiner.
        ([("user", "你觉得茉莉花这首歌怎么样？"), ("assistant", "很好听。")],
         "这首歌是谁写的？", "茉莉花是谁写的？"),
        # 那 before anything but the copula is "then".
        ([("user", "你知道大熊猫吗？"), ("assistant", "知道，很可爱。")],
         "那有几只？", "大熊猫有几只？"),
    ],
)
def test_bare_demonstratives_name_what_was_just_talked_about(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("text", "not_an_entity"),
    [
        # A name before 你 that opens a whole clause is who is spoken to.
        ("小李你觉得火锅怎么样", "小李"),
        ("老王你知道长城吗", "老王"),
    ],
)
def test_vocatives_are_not_entities(text, not_an_entity):
    assert not_an_entity not in [e.text for e in extract_entities(text, lang="zh")]


def test_a_topic_before_you_with_its_verb_last_is_an_entity():
    # "长城你去过吗": the object put first, not a vocative.
    assert "长城" in [e.text for e in extract_entities("长城你去过吗", lang="zh")]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A reply that is only a noun phrase is said of the topic; an indefinite one
        # ("一种…") classifies it, so the copula comes along.
        ([("user", "你知道丹顶鹤吗？"), ("assistant", "知道，很漂亮。")],
         "一种很大的鸟", "丹顶鹤是一种很大的鸟"),
        ([("user", "你知道南京大学吗？"), ("assistant", "知道，在南京。")],
         "宿舍", "南京大学宿舍"),
        # A name of its own is a new topic.
        ([("user", "你知道南京大学吗？"), ("assistant", "知道，在南京。")],
         "杭州", "杭州"),
        # What the reply names already is not what it leaves out: the next topic is.
        ([("user", "哪里的口音？"), ("assistant", "湖南的口音。")], "口音", "湖南口音"),
    ],
)
def test_noun_phrase_fragments_are_said_of_the_topic(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A personal name that ends like a place (洋, 川, 山) is still a person.
        ([("user", "你认识周小川吗？"), ("assistant", "认识，周小川是经济学家。")],
         "他写过什么书？", "周小川写过什么书？"),
    ],
)
def test_short_personal_names_are_people_whatever_they_end_with(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.fixture
def handbook():
    kb = KnowledgeBase.in_memory()
    kb.ingest("convrag", [SourceDocument(id="h", text=(
        "员工每年享有带薪病假，天数按工龄计算，每年最多30天。交通补贴每月300元。"
        "硕士研究生的学制一般为三年。每位硕士生配有一名导师。"))])
    yield kb
    kb.close()


@pytest.mark.parametrize(
    ("first", "follow_up", "allowed"),
    [
        # A new topic of another kind: the predicate carries over only where it fits,
        # otherwise the question stays as asked; never "天数的交通补贴呢？".
        ("每年能休几天病假？", "那交通补贴呢？", {"那交通补贴呢？"}),
        # "导师多长？" means nothing: the subject is attached instead.
        ("硕士学制多长？", "那导师呢？", {"硕士的导师呢？"}),
    ],
)
def test_ellipsis_through_the_graph_never_glues_a_fragment(handbook, first, follow_up, allowed):
    graph = build_graph(InMemorySaver(), knowledge=handbook)
    config = {"configurable": {"thread_id": "t"}}
    asyncio.run(graph.ainvoke({"messages": [HumanMessage(first)]}, config))
    out = asyncio.run(graph.ainvoke({"messages": [HumanMessage(follow_up)]}, config))
    assert out["standalone_question"] in allowed


# --- antecedents: what the user asked about, whole names, never a verb or a fragment ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A name that mixes ideographs and Latin letters is kept as written.
        ("云帆Q5平板多少钱？", "云帆Q5平板"),
        ("小禾M2的屏幕多大？", "小禾M2"),
        # A dictionary noun glued to 约 ("about") is cut before it.
        ("天池直径约3公里，可以乘船游览", "天池"),
    ],
)
def test_names_are_whole_and_end_in_a_noun(text, expected):
    assert extract_entities(text, lang="zh")[0].text == expected


@pytest.mark.parametrize(
    ("text", "not_an_entity"),
    [
        # The noun a question word determines is what is asked for.
        ("这种面包用什么面粉做？", "面粉"),
        # One ideograph is never a referent, whatever the tagger guessed.
        ("还要换什么吗？", "换"),
        # An attribute after a name is not part of it.
        ("云帆Q5平板容量为64升", "云帆Q5平板容量"),
    ],
)
def test_fragments_and_asked_for_nouns_are_not_entities(text, not_an_entity):
    assert not_an_entity not in [e.text for e in extract_entities(text, lang="zh")]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A name cut apart by the tokenizer is restored whole in the rewrite.
        ([("user", "小禾M2多少钱？"), ("assistant", "小禾M2售价899元。")],
         "它的屏幕多大？", "小禾M2的屏幕多大？"),
        # What the latest question was about wins over a thing its answer or its own
        # object named (a cleaning agent), and over an older name.
        ([("user", "云帆Q5平板多少钱？"), ("assistant", "云帆Q5平板售价2999元。"),
          ("user", "电热水壶可以用洗洁精清洗吗？"),
          ("assistant", "电热水壶可以用少量洗洁精清洗。")],
         "它耗电吗？", "电热水壶耗电吗？"),
        ([("user", "云帆Q5平板多少钱？"), ("assistant", "云帆Q5平板售价2999元。"),
          ("user", "电热水壶可以用洗洁精清洗吗？"),
          ("assistant", "电热水壶可以用少量洗洁精清洗。")],
         "保修几年？", "电热水壶保修几年？"),
        # The thing asked about, not an address the answer gave for it.
        ([("user", "大雁塔门票多少钱？"),
          ("assistant", "大雁塔位于西安市雁塔区，登塔票价25元。")],
         "它离火车站多远？", "大雁塔离火车站多远？"),
        # 那里 is a place, never a span of the answer that ends in 约.
        ([("user", "天池有多大？"), ("assistant", "天池直径约3公里，可以乘船游览。")],
         "那里可以游泳吗？", "天池可以游泳吗？"),
    ],
)
def test_pronouns_bind_what_the_user_asked_about(history, question, expected):
    assert _resolved(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A name with a title replaces the name with the same title, not glued to it.
        ([("user", "刘芳研究员的研究领域是什么？"), ("assistant", "刘芳研究员研究材料科学。")],
         "陈刚研究员呢？", "陈刚研究员的研究领域是什么？"),
        # A compound replaces the compound with the same head, its modifiers too.
        ([("user", "物理学硕士学制几年？"), ("assistant", "物理学硕士学制三年。")],
         "那统计学硕士呢？", "统计学硕士学制几年？"),
        # A part of a name the predicate was said of takes the predicate along.
        ([("user", "小禾M2保修多久？"), ("assistant", "小禾M2整机保修一年。")],
         "屏幕呢？", "小禾M2的屏幕保修多久？"),
        # Another sight after a place's copula predicate is compared with it.
        ([("user", "莫高窟是哪一年被列入世界遗产的？"), ("assistant", "莫高窟1987年被列入。")],
         "鼓楼呢？", "鼓楼是哪一年被列入世界遗产的？"),
    ],
)
def test_ellipsis_replaces_a_name_or_compound_of_the_same_kind(history, question, expected):
    assert _resolved(history, question) == expected


def test_the_new_person_of_an_ellipsis_is_the_next_pronouns_antecedent():
    history = [("user", "刘芳研究员的研究领域是什么？"), ("assistant", "刘芳研究员研究材料科学。"),
               ("user", "陈刚研究员呢？"), ("assistant", "陈刚研究员研究计算数学。")]
    assert _resolved(history, "他在哪里读的博士？") == "陈刚研究员在哪里读的博士？"


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # A noun after 什么 is asked for: never glued to the next question.
        ([("user", "统计学硕士用什么语言授课？"), ("assistant", "统计学硕士用中文授课。")],
         "报名截止日期是什么时候？", "统计学硕士报名截止日期是什么时候？"),
        # After an ellipsis, a question without a subject is about its new thing.
        ([("user", "物理学硕士学制几年？"), ("assistant", "物理学硕士学制三年。"),
          ("user", "那统计学硕士呢？"), ("assistant", "统计学硕士学制两年，用中文授课。")],
         "用什么语言授课？", "统计学硕士用什么语言授课？"),
    ],
)
def test_a_question_without_a_subject_takes_the_latest_thing(history, question, expected):
    assert _resolved(history, question) == expected
