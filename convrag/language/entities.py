"""Discourse entities: the things a conversation talks about, tracked across turns.

An entity is what a later "it", "她", "那…呢" can point back to. Chinese entities come
from jieba's part-of-speech tags (place, person, organisation and other proper nouns,
plus noun compounds); English ones from capitalised spans and the object of
definitional questions ("What is X?"). Each carries the features pronouns agree with
(person or not, gender, plural) and the turn it was last mentioned in, which together
give its salience.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from convrag.language.references import ZH_CLASSIFIERS
from convrag.language.tokens import EN_STOPWORDS, Lang, detect_lang, zh_cut

Kind = Literal["person", "place", "org", "thing"]
Gender = Literal["female", "male", "unknown"]
Role = Literal["subject", "object"]


@dataclass(frozen=True)
class Entity:
    """A discourse entity as stored in the graph state (see `to_dict`)."""

    text: str
    kind: Kind = "thing"
    gender: Gender = "unknown"
    plural: bool = False
    turn: int = 0
    role: Role = "object"
    proper: bool = True
    lang: Lang = "en"
    topic: bool = False  # the conversation's background topic: never goes stale
    asked: bool = False  # named in a user's question, not only in an answer
    repeated: bool = False  # named again in a later utterance: kept as the topic

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form kept in the checkpointed state."""
        # Not dataclasses.asdict: it deep-copies every field, and this runs for every
        # entity on every turn (about 1.5 ms of a turn's CPU); the fields are immutable.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        """Inverse of `to_dict`; unknown keys are ignored so old checkpoints still load."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


_ZH_KIND: dict[str, Kind] = {
    "nr": "person",
    "nrt": "person",
    "nrfg": "person",
    "ns": "place",
    "nt": "org",
    "nz": "thing",
    "eng": "thing",
}
_ZH_NOUN_TAGS = {"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "eng", "vn"}
ZH_NOUN_TAGS = frozenset(_ZH_NOUN_TAGS)
"""jieba's tags of the words a Chinese entity is made of."""
ZH_PROPER_TAGS = frozenset(_ZH_KIND)
"""jieba's tags of names: people, places, organisations, other proper nouns, Latin words."""
_ZH_FEMALE = re.compile(r"(夫人|女士|小姐|女王|公主|皇后|王后|太后|妈妈|母亲|姐|妹|娘|奶奶|阿姨)$")
_ZH_MALE = re.compile(r"(先生|国王|皇帝|王子|爸爸|父亲|哥|弟|爷爷|叔叔|大帝)$")
# Heads that make a common noun a person of unknown gender (作者, 男朋友, 歌手, 老师), so
# that 他/她 can bind to it; 家 and 生 only in the compounds that are people (国家, 发生 are not).
_ZH_PERSON_HEAD = re.compile(
    r"(人|者|员|师|友|孩|歌手|选手|球星|明星|作家|画家|专家|学生|医生|儿子|女儿|老公|老婆|同学|同事|"
    r"青年|少年|姑娘|闺蜜|哥们|兄弟|姐妹|粉丝)$"
)
# Heads that make a name a place or an organisation whatever jieba's tag says (拉丹冬峰).
_ZH_PLACE_HEAD = re.compile(r"(山|峰|河|江|湖|海|洋|岛|省|市|县|州|镇|村|国|洲|湾|峡|原|谷|川|港)$")
_ZH_ORG_HEAD = re.compile(r"(大学|学院|公司|集团|银行|医院|协会|委员会|政府|部|局|所|院|校|队|党)$")
# Nouns that name an attribute or a generic category: the thing asked about, not a referent.
ZH_GENERIC = frozenset(
    """时候 时间 问题 东西 事情 情况 地方 方面 原因 意思 样子 人 多长 多大 多高 多远 多久 多少
    名字 年 哪年 国家 历史 长度 面积 人口 总部 前身 专业 学费 分数线 成绩 特点 区别 作用 影响
    意义 价格 位置 首都 成立 发展 结果 方法 办法 要求 条件 政策 信息 内容 资料 答案 能力 水平
    目的 关系 部分 问题 数量 规模 类型 种类 全称 简称 代表 含义 定义 海拔 全长 高度 深度 城市
    气候"""
    # Relational nouns: a part or a role of something ("作者是谁" asks for whose author),
    # so a question whose only noun is one still leaves out what it is about.
    """
    作者 主角 男主 女主 男主角 女主角 配角 主演 导演 编剧 结局 剧情 情节 主题 歌词 作品 续集
    原著 简介 缺点 优点 好处 坏处 口碑 评价 票房 销量 地址 门票 官网 成员 队长 创始人 主人公 背景
    味道 口味 质量 性格 颜值 身高 年龄 体重 演技 画风 画面 配音 风格 环境 服务 天气 气温
    温度 房价 工资 待遇 收入 费用 价钱 人气 名气 气质"""
    # Words of the speaker's impression (jieba tags 感觉 of "感觉不错" a noun): a frame.
    """
    感觉 印象 看法""".split()
)
"""Nouns that name an attribute, a role or a category (长度, 作者, 专业), never a referent."""

_EN_FEMALE_TITLES = re.compile(r"^(Mrs|Ms|Miss|Queen|Lady|Princess|Empress|Duchess|Madame|Saint)\b")
_EN_MALE_TITLES = re.compile(r"^(Mr|King|Sir|Prince|Emperor|Duke|Lord|Pope)\b")
_EN_CAP_SPAN = re.compile(
    r"\b(?:[A-Z][\w'’.\-]*|[0-9]+)(?:\s+(?:of|the|de|von|van|da|du|la|le|for|&)?\s*"
    r"(?:[A-Z][\w'’.\-]*|[0-9]+))*"
)
_EN_DEFINITION = re.compile(
    r"^\s*(?:what|who|where)\s+(?:is|are|was|were)\s+(?P<x>.+?)\s*\??\s*$"
    r"|^\s*(?:tell me about|explain|describe|define)\s+(?P<y>.+?)\s*[?.!]?\s*$",
    re.IGNORECASE,
)
# Heads of definitional questions that ask for an attribute, not about a thing:
# "What was the name of an album?" names no subject.
_EN_GENERIC_HEADS = frozenset(
    "different various some any many few main common other "
    "name names title reason reasons result results purpose cause outcome role meaning point "
    "number date year age population size length price cost most best first last next other "
    "main biggest largest highest significance importance difference story plot status".split()
)
_EN_QUESTION_WORDS = frozenset(
    "what who whom whose when where why how which is are was were do does did can could "
    "will would should shall may might tell and but or so i you we it he she they".split()
)


def extract_entities(text: str, *, turn: int = 0, lang: Lang | None = None) -> list[Entity]:
    """Entities mentioned in one utterance, in order of appearance, without duplicates."""
    lang = lang or detect_lang(text)
    found = _zh_entities(text, turn) if lang == "zh" else _en_entities(text, turn)
    seen: set[str] = set()
    unique: list[Entity] = []
    for entity in found:
        key = entity.text.lower()
        if key not in seen:
            seen.add(key)
            unique.append(entity)
    return unique


# jieba's part-of-speech HMM guesses the words and tags of runs of characters its
# dictionary does not know (a new name), at 0.5-6 ms per character: a question of random
# characters took seconds. A text whose unknown runs are longer than this in total is
# tagged by the dictionary alone, so the cost stays linear and small; 12 characters cover
# the two or three new names an ordinary question or answer sentence has.
HMM_BUDGET_CHARS = 12


@lru_cache(maxsize=1024)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part-of-speech) pairs of `text`, the HMM used only within `HMM_BUDGET_CHARS`.

    Cached: a turn extracts the entities of its question twice (resolving it, then
    noting the standalone question, often the same text), and a passage's opening is
    tagged again whenever the passage comes back.
    """
    import jieba.posseg as pseg  # its model tables cost 0.3 s: loaded on the first zh text

    if _unknown_run_chars(text) <= HMM_BUDGET_CHARS:
        # The tagger calls a lower-case Latin word ("c", "iphonex") 'x', punctuation's tag;
        # it is a word like an upper-case one ('eng'), so "c语言" stays one name.
        return tuple((p.word, "eng" if p.flag == "x" and _LATIN.search(p.word) else p.flag)
                     for p in pseg.cut(text, HMM=True))
    # Without the HMM the tagger cuts the way zh_cut does and looks each word up: done
    # here on zh_cut's (cached) words, which saves cutting a long text a second time.
    table = pseg.dt.word_tag_tab
    return tuple((word, _dictionary_tag(word, table)) for word in zh_cut(text))


def zh_tags(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, part-of-speech) pairs of a Chinese text, cached and linear in cost."""
    return _tagged(text)


_ALNUM = re.compile(r"[a-zA-Z0-9]+")
_LATIN = re.compile(r"^[a-zA-Z0-9]*[a-zA-Z][a-zA-Z0-9]*$")
_TAGGED_HAN = re.compile(r"[\u4e00-\u9fd5]")


def _dictionary_tag(word: str, table: dict[str, str]) -> str:
    """The tag jieba's tagger gives `word` without its HMM: 'eng' for a Latin or digit
    run, the dictionary's tag for a word with ideographs, 'x' for anything else."""
    if _ALNUM.fullmatch(word):
        return "eng"
    return table.get(word, "x") if _TAGGED_HAN.search(word) else "x"


def _unknown_run_chars(text: str) -> int:
    """Characters in runs of single-character words, which jieba hands to its HMM."""
    total = run = 0
    for word in zh_cut(text):
        if len(word) == 1 and not word.isascii():
            run += 1
            continue
        total += run if run > 1 else 0
        run = 0
    return total + (run if run > 1 else 0)


# "你知道X吗", "你看过X吗": the object of a verb of knowing or experiencing in a yes/no
# question is a name, whatever the tagger makes of its characters (a title it cuts into
# a verb and a time word, a new name it tags as a common noun). The verbs are the ones
# whose object is a thing or person talked about, not a clause (知道他是谁 is a clause).
_ZH_KNOWN_OBJECT = re.compile(
    r"^(?:你|您)?(?:有)?(?:知道|认识|听说过|听过|了解|喜欢|看过|读过|玩过|去过|用过|吃过)"
    r"(?P<x>[^\s，,。！？?!、]{2,16}?)(?P<q>吗|么|嘛|不|没|没有)?\s*[？?]?\s*$"
)
# "X是谁", "X是什么": a definitional question names its subject before the copula.
_ZH_DEFINED = re.compile(
    r"^(?:你|您)?(?:知道)?(?P<x>[^\s，,。！？?!、]{2,12}?)是(?:(?P<who>谁|哪里人|哪国人|什么人)|什么|啥|"
    r"哪里|什么意思|什么东西)"
    r"(?:呀|啊|呢|吗|么)?\s*[？?]?\s*$"
)
# "你觉得X怎么样", "X好看吗": a question asking for an opinion names what it is about
# before the evaluation.
_ZH_EVALUATED = re.compile(
    r"^(?:你|您)?(?:觉得|认为|感觉)?(?P<x>[^\s，,。！？?!、]{2,16}?)(?:怎么样|咋样|如何|"
    r"好看吗|好听吗|好玩吗|好吃吗|好用吗|好不好|好看不|有意思吗)(?:啊|呀|呢)?\s*[？?]?\s*$"
)
# What makes the object a clause or a reference, not a name: a pronoun, a question word.
_ZH_NOT_A_NAME = re.compile(r"[我你他她它谁哪怎呢]|什么|^[这那一]")
# An apposition after the name: "童年这本书" is the book 童年.
_ZH_APPOSITION = re.compile(r"(?:这|那)(?:本|部|首|个|款|种|位|家|座)\w{0,3}$")


def _zh_named_object(text: str) -> tuple[str, bool]:
    """The name a "你知道X吗" question asks about ("" if none), and whether the question
    shows it is a person ("X是谁", "X是哪里人")."""
    text = text.strip()
    for pattern in (_ZH_KNOWN_OBJECT, _ZH_DEFINED, _ZH_EVALUATED):
        m = pattern.match(text)
        if not m or _ZH_NOT_A_NAME.search(m.group("x")) or m.group("x").endswith("什"):
            continue  # a pronoun, a question word (什么 cut in two by a lazy match)
        name = m.group("x")
        if pattern is _ZH_KNOWN_OBJECT and not m.group("q") and any(
                t[0] in "vad" and t != "vn" for _, t in _tagged(name)):
            continue  # no question particle: "喜欢X做Y" is a statement about a clause
        if pattern is _ZH_EVALUATED and ("的" in name or _tagged(name)[0][1] == "t"):
            # "北京的天气怎么样" evaluates an attribute of a name, found by itself;
            # "明天天气怎么样" a time's.
            continue
        cut = _ZH_APPOSITION.search(name)
        if cut and cut.start() >= 2:
            name = name[:cut.start()]
        # "…的前身是什么" asks for an attribute of a name jieba finds by itself.
        if name in ZH_GENERIC or any(name.endswith(g) for g in ZH_GENERIC if len(g) > 1):
            continue
        return name, pattern is _ZH_DEFINED and bool(m.group("who"))
    return "", False


def zh_kind(span: str, tags: Sequence[str]) -> Kind:
    """The kind of a Chinese name made of words with these tags: its head, then its tags."""
    proper = [t for t in tags if t in _ZH_KIND]
    return _zh_features(span, _ZH_KIND[proper[-1]] if proper else "thing", bool(proper))[0]


# Chinese personal names are two or three characters (a surname and a given name), rarely
# more; a name the tagger calls a person keeps that kind up to this length whatever its
# last character (杨洋 is no ocean), and a longer one ending in 峰 or 河 is a place.
ZH_PERSON_NAME_CHARS = 3


def _zh_features(span: str, kind: Kind, proper: bool) -> tuple[Kind, Gender]:
    """Kind and gender of a Chinese name from its head, over the tagger's kind."""
    if _ZH_FEMALE.search(span):
        return "person", "female"
    if _ZH_MALE.search(span):
        return "person", "male"
    if kind == "thing" and not proper and _ZH_PERSON_HEAD.search(span):
        return "person", "unknown"
    # A person's given name may end with a head character (杨洋, 孙笑川): the tagger's
    # "person" gives way to a head only on a name longer than personal names run.
    overridable = ("thing",) if len(span) <= ZH_PERSON_NAME_CHARS else ("person", "thing")
    if _ZH_PLACE_HEAD.search(span) and kind in overridable:
        return "place", "unknown"
    if _ZH_ORG_HEAD.search(span) and kind in overridable:
        return "org", "unknown"
    return kind, "unknown"



# The second person: a name that opens an utterance right before it is a vocative.
_ZH_ADDRESSEE = frozenset("你 您 你们".split())


def _ends_with_verb(pairs: Sequence[tuple[str, str]]) -> bool:
    """Whether a clause ends with its verb, before particles: "你认识吗" leaves the verb's
    object out, so a name before 你 is that object put first as the topic, not a vocative."""
    content = [(w, t) for w, t in pairs if t not in ("y", "ul", "ug", "uz", "x", "zg")]
    return bool(content) and content[-1][1].startswith("v") and content[-1][1] != "vn"


def _zh_entities(text: str, turn: int) -> list[Entity]:
    pairs = _tagged(text)
    entities: list[Entity] = []
    named, person = _zh_named_object(text)
    i = 0
    seen_verb = False
    while i < len(pairs):
        word, flag = pairs[i]
        if flag.startswith("v") and flag != "vn":
            seen_verb = True
        if flag not in _ZH_NOUN_TAGS:
            i += 1
            continue
        # Merge runs of nouns: 中国人民大学 + 文学院 name one thing.
        first = i
        j = i
        words = []
        flags = []
        while j < len(pairs) and pairs[j][1] in _ZH_NOUN_TAGS:
            words.append(pairs[j][0])
            flags.append(pairs[j][1])
            j += 1
        i = j
        # Drop trailing generic heads ("长江 长度") and leading generic words.
        while words and words[-1] in ZH_GENERIC:
            words.pop()
            flags.pop()
        while words and words[0] in ZH_GENERIC:
            words.pop(0)
            flags.pop(0)
        if not words:
            continue
        span = "".join(words).strip()
        if first > 0 and pairs[first - 1][0] in ("这", "那") and span[:1] in ZH_CLASSIFIERS:
            span = span[1:]  # jieba's 这 + 首歌: the classifier is not part of the noun
        proper_flags = [f for f in flags if f in _ZH_KIND]
        proper = bool(proper_flags)
        if not proper and len(span) < 2:
            continue
        kind, gender = _zh_features(
            span, _ZH_KIND.get(proper_flags[-1], "thing") if proper_flags else "thing", proper)
        if named and span in named:
            continue  # a piece of the name found above
        if first == 0 and j < len(pairs) and pairs[j][0] in _ZH_ADDRESSEE and not _ends_with_verb(
                pairs[j + 1:]):
            continue  # "小明你觉得呢": a vocative names who is spoken to, not a referent
        entities.append(
            Entity(
                text=span,
                kind=kind,
                gender=gender,
                turn=turn,
                role="object" if seen_verb else "subject",
                proper=proper,
                lang="zh",
            )
        )
    if named:
        # The tagger's kinds for the pieces of a name it could not cut are guesses (a
        # title's first word tagged a person): the name's own head decides.
        kind, gender = _zh_features(named, "person" if person else "thing", False)
        entities.insert(0, Entity(text=named, kind=kind, gender=gender, turn=turn,
                                  role="subject", proper=True, lang="zh"))
    return entities


_EN_PREDICATE_TAIL = re.compile(
    r"\s+(?:for|from|to|about|with|like|by|at|on)\s*$|\s+(?:in|at|for|during|on)\s+.*$",
    re.IGNORECASE,
)
_EN_ATTRIBUTE_OF = re.compile(r"^(?:[\w-]+\s+){0,2}?(?P<head>[\w-]+)\s+of\s+(?P<rest>.+)$")
_EN_ATTRIBUTES = frozenset(
    "effects effect benefits benefit types type kinds kind causes cause history importance "
    "characteristics features symptoms signs advantages disadvantages pros cons uses origins "
    "origin role purpose meaning definition examples list parts".split()
)


def _definition_head(target: str) -> str:
    """The thing a definitional question asks about, not the predicate around it.

    "the side effects of aspirin" asks about aspirin; "the Bauhaus movement in art" is
    the Bauhaus movement; "X's most famous works" or "Y famous for" are not things.
    """
    target = re.sub(r"^(?:the|a|an)\s+", "", target.strip(), flags=re.IGNORECASE)
    if re.search(r"\b(?:it|its|they|them|their|he|him|his|she|her|this|that)\b", target,
                 re.IGNORECASE):
        return ""  # "it native": a predicate about something named elsewhere
    previous = None
    while previous != target:  # "climate like in Utah" loses " in Utah", then " like"
        previous, target = target, _EN_PREDICATE_TAIL.sub("", target)
    # "purchasing a franchise" and "being vegetarian" are about the franchise, vegetarians.
    target = re.sub(r"^(?:being|having|getting|buying|purchasing|owning|opening|starting|"
                    r"running|using|making|becoming|doing|taking)\s+(?:(?:the|a|an)\s+)?",
                    "", target)
    m = _EN_ATTRIBUTE_OF.match(target)
    if m and m.group("head").lower() in _EN_ATTRIBUTES:
        target = re.sub(r"^(?:the|a|an)\s+", "", m.group("rest"), flags=re.IGNORECASE)
    if re.search(r"['’]s?\s", target):
        return ""  # a possessive phrase: its owner is found as a name on its own
    return target


def _en_entities(text: str, turn: int) -> list[Entity]:
    entities: list[Entity] = []
    definition = _EN_DEFINITION.match(text)
    if definition:
        target = _definition_head(definition.group("x") or definition.group("y") or "")
        words = target.split()
        generic = bool(words) and words[0].lower() in _EN_GENERIC_HEADS
        if (target and len(words) <= 5 and not generic
                and not (set(w.lower() for w in words) <= EN_STOPWORDS)):
            entities.append(_en_entity(target, text, turn, "subject", proper=target[0].isupper()))
    previous: tuple[int, str] | None = None
    starts = _sentence_starts(text)
    for match in _EN_CAP_SPAN.finditer(text):
        span = _trim_en_span(match.group(0), at_start=match.start() in starts)
        if not span:
            continue
        if (match.start() in starts and " " not in span and span == match.group(0).strip()
                and not re.search(rf"(?<![.!?]\s)(?<!^)\b{re.escape(span)}\b", text[1:])):
            # A lone capitalised word opening a sentence ("Several", "Sure", "South") is
            # usually grammar, not a name, unless the text capitalises it elsewhere too.
            continue
        role: Role = "subject" if match.start() < max(1, len(text) // 3) else "object"
        if previous and re.fullmatch(r"\s+(?:and|&)\s+(?:the\s+)?",
                                     text[previous[0]:match.start()], re.IGNORECASE):
            # "Zappa and the Mothers of Invention" is also one plural referent ("they").
            group = f"{previous[1]} and {span}"
            entities.append(replace(_en_entity(group, text, turn, role, proper=True), plural=True))
        entities.append(_en_entity(span, text, turn, role, proper=True))
        previous = (match.end(), span)
    return entities


def _sentence_starts(text: str) -> set[int]:
    """Offsets where a sentence (or a quoted utterance) begins."""
    return {m.end() for m in re.finditer(r"(?:^|[.!?:;\n\"“]\s*)\s*", text)}


def _trim_en_span(span: str, *, at_start: bool) -> str:
    words = span.split()
    # A capitalised first word of a sentence is usually just grammar ("What", "The").
    while words and (words[0].lower() in _EN_QUESTION_WORDS or words[0].lower() in EN_STOPWORDS):
        words.pop(0)
    while words and words[-1].lower() in EN_STOPWORDS:
        words.pop()
    if not words or all(w.isdigit() for w in words):
        return ""
    if at_start and len(words) == 1 and span.split()[0] == words[0] and words[0].istitle():
        # "Paris is ..." keeps Paris; a lone title-cased opener that is a common word is dropped.
        if words[0].lower() in EN_STOPWORDS:
            return ""
    joined = " ".join(words).strip(" ,.;:?!'\"’")
    # "Ozzie Smith's batting average" names Ozzie Smith.
    return re.sub(r"['’]s?$", "", joined)


def _en_entity(span: str, context: str, turn: int, role: Role, *, proper: bool) -> Entity:
    gender: Gender = "unknown"
    kind: Kind = "thing"
    if _EN_FEMALE_TITLES.match(span):
        kind, gender = "person", "female"
    elif _EN_MALE_TITLES.match(span):
        kind, gender = "person", "male"
    plural = not proper and span.lower().endswith("s") and not span.lower().endswith("ss")
    return Entity(
        text=span, kind=kind, gender=gender, plural=plural, turn=turn, role=role,
        proper=proper, lang="en",
    )


_EN_SHE = re.compile(r"\b(she|her|hers|herself)\b", re.IGNORECASE)
_EN_HE = re.compile(r"\b(he|him|his|himself)\b", re.IGNORECASE)
_ZH_SHE = re.compile("她")
_ZH_HE = re.compile("他(?!们|人)")


def learn_features(entities: Sequence[Entity], answer: str) -> list[Entity]:
    """Refine gender/person features from how an answer refers back to its subject.

    "Marie Curie was a physicist. She won..." marks the entity female. Only the first
    entity the answer names (its subject) is updated, and only when one gendered
    pronoun family dominates the answer.
    """
    if not entities:
        return list(entities)
    she = len(_EN_SHE.findall(answer)) + len(_ZH_SHE.findall(answer))
    he = len(_EN_HE.findall(answer)) + len(_ZH_HE.findall(answer))
    if she == he:
        return list(entities)
    lowered = answer.lower()
    positions = [(lowered.find(e.text.lower()), k) for k, e in enumerate(entities)]
    named = [(pos, k) for pos, k in positions if pos >= 0]
    topics = [k for k, e in enumerate(entities) if e.topic]
    if named:
        _, k = min(named)
    elif topics:
        # An answer that names nobody we know is about the conversation's topic.
        k = topics[0]
    else:
        return list(entities)
    updated = list(entities)
    if updated[k].kind in ("person", "thing") and updated[k].proper:
        gender: Gender = "female" if she > he else "male"
        updated[k] = replace(updated[k], kind="person", gender=gender)
    return updated


def merge_entities(
    known: Iterable[Entity], new: Iterable[Entity], *, limit: int = 24
) -> list[Entity]:
    """Add newly mentioned entities to the known ones; a re-mention refreshes the turn.

    Features learnt earlier (gender, kind) survive a re-mention that says less. The most
    recent `limit` entities are kept, so the list stays bounded in long threads.
    """
    merged: dict[str, Entity] = {e.text.lower(): e for e in known}
    for entity in new:
        key = entity.text.lower()
        old = merged.pop(key, None)
        if old is not None:
            entity = replace(
                entity,
                kind=entity.kind if entity.kind != "thing" else old.kind,
                gender=entity.gender if entity.gender != "unknown" else old.gender,
                topic=old.topic or entity.topic,
                asked=old.asked or entity.asked,
                repeated=True,
                text=old.text if old.proper and not entity.proper else entity.text,
            )
        merged[key] = entity
    ordered = sorted(merged.values(), key=lambda e: e.turn)
    topics = [e for e in ordered if e.topic]
    rest = [e for e in ordered if not e.topic]
    return topics + rest[-max(0, limit - len(topics)):]
