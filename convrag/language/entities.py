"""Discourse entities: the things a conversation talks about, tracked across turns.

An entity is what a later "it", "她", "那…呢" can point back to. Chinese entities come
from jieba's part-of-speech tags (place, person, organisation and other proper nouns,
plus noun compounds); English ones from capitalised spans and the object of
definitional questions ("What is X?"). Each carries the features pronouns agree with
(person or not, gender, plural) and the turn it was last mentioned in, which together
give its salience.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from convrag.language.references import ZH_CLASSIFIERS
from convrag.language.tokens import EN_STOPWORDS, Lang, detect_lang, has_cjk, zh_cut

Kind = Literal["person", "place", "org", "thing"]
# "neuter": something a user called "it", which a later he or she never means.
Gender = Literal["female", "male", "neuter", "unknown"]
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
_ZH_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
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
_ZH_ORG_HEAD = re.compile(
    r"(大学|学院|公司|集团|科技|银行|医院|协会|委员会|政府|部|局|所|院|校|队|党)$")
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
    # Measures and specifications of a product or a programme ("…容量为5升", "…项目学制
    # 两年"): what is asked about a thing, never the thing.
    """
    容量 功率 售价 尺寸 重量 颜色 型号 参数 续航 保修期 学制 距离 项目 直径 周长 宽度"""
    # Words of the speaker's impression (jieba tags 感觉 of "感觉不错" a noun): a frame.
    """
    感觉 印象 看法""".split()
)
"""Nouns that name an attribute, a role or a category (长度, 作者, 专业), never a referent."""

_EN_FEMALE_TITLES = re.compile(r"^(Mrs|Ms|Miss|Queen|Lady|Princess|Empress|Duchess|Madame|Saint)\b")
_EN_MALE_TITLES = re.compile(r"^(Mr|King|Sir|Prince|Emperor|Duke|Lord|Pope)\b")
# A span never runs across the end of a sentence ("Interesting. What about…"); a period
# after a short word ("St.", "D.C.") is taken for an abbreviation inside the name.
_EN_CAP_SPAN = re.compile(
    r"\b(?:[A-Z][\w'’.\-]*|[0-9]+)(?:(?<![a-z]{3}[.!?])\s+(?:of|the|de|der|den|del|della|di|"
    r"von|van|da|du|la|le|for|&)?\s*(?:[A-Z][\w'’.\-]*|[0-9]+))*"
)
_EN_DEFINITION = re.compile(
    r"^\s*(?:what|who|where)\s+(?:is|are|was|were)\s+(?P<x>.+?)\s*\??\s*$"
    r"|^\s*(?:(?:now|ok|okay|so|and|also|then|next|please),?\s+)?"
    r"(?:tell me about|explain|describe|define)\s+(?P<y>.+?)\s*[?.!]?\s*$",
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
# Words that open a sentence as grammar, not as a name: imperatives a search question
# starts with and interjections a turn opens with ("Describe the…", "OK.", "Interesting.").
# A closed list: capitalised, they look like the first word of a name.
_EN_OPENERS = frozenset(
    "describe explain compare contrast list give show name define find tell please "
    "ok okay oh ah wow yes yeah no sure great cool nice interesting thanks hmm well now "
    "also besides actually really let lets".split()
)


def extract_entities(
    text: str, *, turn: int = 0, lang: Lang | None = None, common_nouns: bool = False
) -> list[Entity]:
    """Entities mentioned in one utterance, in order of appearance, without duplicates.

    With `common_nouns`, English lower-case noun phrases count too ("your robot
    opener", "bees"), and a name keeps the common noun it modifies ("the Pro plan"):
    what a user's question is about, though no name. They are asked for only on users'
    questions; an answer's noun phrases are mostly detail.
    """
    lang = lang or detect_lang(text)
    found = (_zh_entities(text, turn) if lang == "zh"
             else _en_entities(text, turn, compounds=common_nouns))
    if common_nouns and lang == "en":
        found += en_noun_phrases(text, turn)
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

    table = pseg.dt.word_tag_tab
    if _unknown_run_chars(text) <= HMM_BUDGET_CHARS:
        # The tagger calls a lower-case Latin word ("c", "iphonex") 'x', punctuation's tag;
        # it is a word like an upper-case one ('eng'), so "c语言" stays one name.
        pairs = [(p.word, "eng" if p.flag == "x" and _LATIN.search(p.word) else p.flag)
                 for p in pseg.cut(text, HMM=True)]
    else:
        # Without the HMM the tagger cuts the way zh_cut does and looks each word up: done
        # here on zh_cut's (cached) words, which saves cutting a long text a second time.
        pairs = [(word, _dictionary_tag(word, table)) for word in zh_cut(text)]
    return tuple(_regrouped(pairs, table))


def _regrouped(pairs: list[tuple[str, str]], table: dict[str, str]) -> list[tuple[str, str]]:
    """The tagger's words regrouped where it cuts wrongly: a function character off a
    noun, a product name and its model number, a surname and its given name joined."""
    return _join_person_names(_join_model_names(_places_by_parts(
        _split_function_endings(pairs, table), table)))


def _places_by_parts(pairs: list[tuple[str, str]], table: dict[str, str]
                     ) -> list[tuple[str, str]]:
    """A name made of two dictionary places written together (福建厦门, a province and
    its city; jieba's dictionary calls it 'nz', another proper noun) is a place: 'ns'."""
    out = []
    for word, tag in pairs:
        if tag in ("nz", "nr", "nrt", "nrfg") and len(word) >= 4 and any(
                table.get(word[:k]) == "ns" and table.get(word[k:]) == "ns"
                for k in range(2, len(word) - 1)):
            tag = "ns"
        out.append((word, tag))
    return out


# Characters that end a clause's noun, never a noun itself: an adverb (约 "about"), the
# copula, particles, prepositions. jieba's dictionary has odd nouns that glue one onto a
# word (全长约 of "全长约13公里", 直径约, 就读于), and its HMM guesses more; such a word is
# cut before it. 和, 为, 被, 都 and 达 stay out: they end real nouns (平方和, 性行为, 羽绒被,
# 东京都, 巴格达). No name ends in 的, 是 or 了 either (the dictionary's 霍金的 is a name
# and a particle); the others end a few (杨家将), so a name the dictionary has keeps them.
_ZH_FUNCTION_ENDINGS = frozenset("约 于 在 及 等 将".split())
_ZH_PARTICLE_ENDINGS = frozenset("的 是 了".split())


def _split_function_endings(pairs: list[tuple[str, str]], table: dict[str, str]
                            ) -> list[tuple[str, str]]:
    """Noun words of three or more characters that end in a function character are cut
    before it when the rest is a dictionary word: 全长约 is 全长 + 约, so no span of an
    answer ends in "about" (条约 and 合约 are two characters and stay whole). A name the
    dictionary has (杨家将) stays whole; one the HMM guessed does not."""
    out: list[tuple[str, str]] = []
    for word, tag in pairs:
        if len(word) >= 3 and tag in _ZH_NOUN_TAGS and word[:-1] in table and (
                word[-1] in _ZH_PARTICLE_ENDINGS or word[-1] in _ZH_FUNCTION_ENDINGS and (
                    tag in ("n", "vn") or word not in table)):
            out += [(word[:-1], table[word[:-1]]), (word[-1], table.get(word[-1], "x"))]
        else:
            out.append((word, tag))
    return out


# Tags of the one-character words jieba leaves when it cuts an unknown name apart (小 +
# 净 of 小净X3): adjectives, nouns, names, and ideographs it has no tag for. Verbs,
# prepositions, pronouns and particles are grammar around a name, never part of it.
_NAME_PIECE_TAGS = frozenset({"a", "n", "ng", "nr", "nrt", "nrfg", "ns", "nt", "nz", "j", "b",
                              "x"})


def _join_model_names(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A product or model name that mixes ideographs and Latin letters is one word.

    jieba cuts 小净X3 into 小 + 净 + X3, and the tagger calls 小 an adjective, so the
    name lost its first character in every rewrite. A Latin word (with a letter: "X3",
    "Pro", not a bare number) written right after ideographs takes with it the run of
    one-character name pieces before it and the nouns before those, as written; the
    whole is tagged a name ('nz'). Grammar words end the run (买X3, 用X3 keep 买, 用).
    """
    out: list[tuple[str, str]] = []
    for word, tag in pairs:
        if tag == "eng" and out and has_cjk(out[-1][0][-1]) and _LATIN.search(word):
            k = len(out)
            while k > 0 and has_cjk(out[k - 1][0]) and (
                    (len(out[k - 1][0]) == 1 and out[k - 1][1] in _NAME_PIECE_TAGS)
                    or out[k - 1][1] in _ZH_NOUN_TAGS and out[k - 1][0] not in ZH_GENERIC):
                k -= 1
            if k < len(out):
                word, tag = "".join(w for w, _ in out[k:]) + word, "nz"
                del out[k:]
        out.append((word, tag))
    return _join_model_numbers(out)


# A model number or suffix written after a product name with a space ("Note 7", "Mate 60
# Pro"): one or two or three digits, or a capitalised Latin word of up to six letters.
_MODEL_SUFFIX = re.compile(r"^(?:[0-9]{1,3}|[A-Z][a-zA-Z]{0,5})$")
# Characters that make a number before them a quantity, not a model number ("3台", "7天").
_ZH_UNITS = frozenset("年月日号天周岁台个部只件元块次届代页章节分秒点米斤克度")


def _join_model_numbers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A product name with Latin letters and the model number after a space are one name.

    "星辰Note 7 的电池" names the phone 星辰Note 7, not 星辰Note: the number or suffix
    (`_MODEL_SUFFIX`) after one space joins the name before it unless a unit follows it
    ("Note 3台" counts phones).
    """
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(pairs):
        word, tag = pairs[k]
        if (word == " " and out and out[-1][1] in ("eng", "nz") and _LATIN_IN.search(out[-1][0])
                and k + 1 < len(pairs) and _MODEL_SUFFIX.match(pairs[k + 1][0])
                and not (k + 2 < len(pairs) and pairs[k + 2][0][:1] in _ZH_UNITS)):
            out[-1] = (out[-1][0] + " " + pairs[k + 1][0], "nz" if out[-1][1] == "nz" else "eng")
            k += 2
            continue
        out.append((word, tag))
        k += 1
    return out


# Common one-character surnames whose character jieba often leaves as a word of its own,
# tagged as something else (张 a classifier, 高 an adjective, 马 a noun), before a given
# name it tags as a person (张 + 志远). Characters that are mostly grammar as a word of
# their own (于, 向, 何, 任, 许, 万, 曾, 谢, …: "毕业于志远…", "向志远请教") are left out:
# there the person is the given name's word, and joining would put a preposition in it.
ZH_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭高林罗郑梁宋唐韩冯邓曹彭肖田董袁潘蒋蔡杜叶程苏魏吕丁"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺毛郝龚邵钱严覃"
    "武孔汤"
)
"""One-character surnames that join a following given name into one person's name."""
# Two-character surnames that are seldom anything else (东方 "east" and 西门 "west gate"
# are left out): the word after one, of one or two characters, is the given name
# whatever its tag (诸葛 + 明月, tagged a time word), unless it is grammar.
ZH_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 慕容 令狐 皇甫 尉迟 公孙 司徒 司空 夏侯 宇文 端木 澹台 轩辕 "
    "呼延 长孙 独孤 钟离 申屠 东郭 南宫 拓跋".split()
)
"""Two-character surnames that join the one- or two-character given name after them."""
# Forms of address that make a surname before them a person: 张 + 先生 is Mr Zhang.
ZH_TITLES = frozenset("先生 女士 小姐 老师 教授 医生 律师 经理 师傅 阿姨 叔叔 博士 院士".split())
"""Titles that join the surname before them into one person's name (张先生)."""
# Tags a given name may not have after a compound surname: verbs, prepositions,
# pronouns, adverbs, particles, numerals, conjunctions, punctuation.
_NOT_GIVEN_NAME_TAGS = frozenset(
    {"v", "vd", "vg", "vi", "vq", "p", "r", "rr", "rz", "d", "u", "uj", "ul", "ug", "uz",
     "uv", "ud", "y", "c", "m", "mq", "q", "x", "e", "o", "zg", "f"}
)
# Words before a one-character word that make it a classifier, not a surname: "这张照片",
# "几张票" (一张 is one numeral word and never reaches the join).
_ZH_BEFORE_CLASSIFIER = frozenset("这 那 哪 几 每 某 多 该 此 本".split())
# Tags of a word before a one-character word that make it no surname: a numeral (三张)
# or an adverb (很高, 太白: an adjective).
_ZH_BEFORE_NOT_SURNAME_TAGS = frozenset({"m", "mq", "d", "ad"})


def _join_person_names(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A surname and the given name jieba cut it from are one person's name.

    jieba's model tags a given name it has not seen as a person (张 + 志远, 'nrfg') but
    often leaves the surname a word of its own with another tag, so a later 他 resolved
    to 志远. A common surname (`ZH_SURNAMES`) written right before a one- or
    two-character word tagged a person, or a title (张 + 先生), joins it, unless a
    determiner, a numeral or an adverb comes before it (这张 is "this sheet", 很高 is
    "very tall"); a compound surname (`ZH_COMPOUND_SURNAMES`) joins
    the one- or two-character word after it unless that word is grammar. The whole is
    tagged 'nr'. Nothing else is joined: a surname character inside a dictionary word
    (方志, 张开) was never a word of its own.
    """
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(pairs):
        word, tag = pairs[k]
        nxt = pairs[k + 1] if k + 1 < len(pairs) else None
        given = nxt is not None and 1 <= len(nxt[0]) <= 2 and all(
            "\u4e00" <= c <= "\u9fff" for c in nxt[0])
        if nxt is not None and given and (
                (word in ZH_SURNAMES and (nxt[1] in _ZH_PERSON_TAGS or nxt[0] in ZH_TITLES)
                 and not (out and (out[-1][0] in _ZH_BEFORE_CLASSIFIER
                                   or out[-1][1] in _ZH_BEFORE_NOT_SURNAME_TAGS)))
                or (word in ZH_COMPOUND_SURNAMES and nxt[1] not in _NOT_GIVEN_NAME_TAGS)):
            out.append((word + nxt[0], "nr"))
            k += 2
            continue
        out.append((word, tag))
        k += 1
    return out


def zh_tags(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, part-of-speech) pairs of a Chinese text, cached and linear in cost."""
    return _tagged(text)


_ALNUM = re.compile(r"[a-zA-Z0-9]+")
_LATIN = re.compile(r"^[a-zA-Z0-9]*[a-zA-Z][a-zA-Z0-9]*$")
_LATIN_IN = re.compile(r"[a-zA-Z]")
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
        if pattern is _ZH_DEFINED and "的" in name and any(
                t in _ZH_NOUN_TAGS for _, t in _tagged(name[:name.index("的")])):
            # "王教授的研究方向是什么" asks for an attribute of a name found by itself; a
            # title with an adjective before 的 ("沉默的羔羊是什么") is one name.
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



# Question words that determine the noun after them ("什么语言", "哪些专业", "几门课").
_ZH_ASKED_FOR = frozenset("什么 哪 哪些 哪个 哪种 哪类 哪位 哪家 哪所 啥 几 多少 何".split())

# The second person: a name that opens an utterance right before it is a vocative.
_ZH_ADDRESSEE = frozenset("你 您 你们".split())


def _ends_with_verb(pairs: Sequence[tuple[str, str]]) -> bool:
    """Whether a clause ends with its verb, before particles: "你认识吗" leaves the verb's
    object out, so a name before 你 is that object put first as the topic, not a vocative."""
    content = [(w, t) for w, t in pairs if t not in ("y", "ul", "ug", "uz", "x", "zg")]
    return bool(content) and content[-1][1].startswith("v") and content[-1][1] != "vn"


def _predicate_noun(pairs: Sequence[tuple[str, str]], k: int) -> bool:
    """Whether the common noun at `k` is a predicate: one right before the preposition 于
    is used as a verb ("毕业于…", which jieba's dictionary calls a noun), so it is no
    part of the name before it (张志远 + 毕业). Alone it still counts as a noun: a
    question that opens with it ("创作于哪年") keeps reading as naming its subject,
    which on REWRITE's tuning half was more often right than a guessed one."""
    return pairs[k][1] in ("n", "vn") and k + 1 < len(pairs) and pairs[k + 1][0] == "于"


def _zh_entities(text: str, turn: int) -> list[Entity]:
    pairs = _tagged(text)
    entities: list[Entity] = []
    named, person = _zh_named_object(text)
    i = 0
    seen_verb = False
    while i < len(pairs):
        word, flag = pairs[i]
        if flag.startswith("v") and flag != "vn" or flag == "p" and entities:
            # A preposition after the subject opens an object too ("X可以用Y洗吗": Y is
            # what X is washed with, not what the question is about).
            seen_verb = True
        if flag not in _ZH_NOUN_TAGS:
            i += 1
            continue
        # Merge runs of nouns: 中国人民大学 + 文学院 name one thing.
        first = i
        j = i
        words = []
        flags = []
        while j < len(pairs) and pairs[j][1] in _ZH_NOUN_TAGS and not (
                j > first and _predicate_noun(pairs, j)):
            words.append(pairs[j][0])
            flags.append(pairs[j][1])
            j += 1
        i = j
        if len(words) > 1 and flags[-1] == "vn" and (
                j < len(pairs) and pairs[j][1][:1] == "n" or flags[-2] in _ZH_PERSON_TAGS
                or _ZH_PERSON_HEAD.search(words[-2])):
            # A verbal noun with an object after it, or after a person, is the verb
            # ("…研究员研究海洋生物", "研究员研究计算数学"), no part of a name.
            words.pop()
            flags.pop()
        # Drop trailing generic heads ("长江 长度") and leading generic words.
        while words and words[-1] in ZH_GENERIC:
            words.pop()
            flags.pop()
        while words and words[0] in ZH_GENERIC:
            words.pop(0)
            flags.pop(0)
        if not words or first > 0 and pairs[first - 1][0] in _ZH_ASKED_FOR:
            # "用什么语言授课": the noun a question word determines is what is asked for,
            # an answer still to come, never a thing talked about.
            continue
        span = "".join(words).strip()
        if first > 0 and pairs[first - 1][0] in ("这", "那") and span[:1] in ZH_CLASSIFIERS:
            span = span[1:]  # jieba's 这 + 首歌: the classifier is not part of the noun
        proper_flags = [f for f in flags if f in _ZH_KIND]
        proper = bool(proper_flags)
        if len(span) < 2 and (has_cjk(span) or not proper):
            # One ideograph is a verb or a piece of a word the tagger guessed a name (换
            # of "需要换什么"), never a referent; Chinese names are two characters or more.
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
_EN_ATTRIBUTE_OF = re.compile(
    r"^(?:[\w-]+\s+){0,2}?(?P<head>[\w-]+)\s+(?:of|with|between|in|for)\s+(?P<rest>.+)$")
# "unique about the Model T", "special about it": the predicate before what is asked about.
_EN_PREDICATE_ABOUT = re.compile(r"^[a-z]+\s+(?:about|with)\s+")
_EN_ATTRIBUTES = frozenset(
    "effects effect benefits benefit types type kinds kind causes cause history importance "
    "characteristics features symptoms signs advantages disadvantages pros cons uses origins "
    "origin role purpose meaning definition examples list parts".split()
)


# A role noun before a full name: "the composer Ilse Marchetti", "violinist Ada Osei".
_EN_ROLE_BEFORE_NAME = re.compile(
    r"^(?:[a-z][a-z\-]+\s+){1,2}(?P<name>[A-Z][\w'’\-]+(?:\s+[A-Z][\w'’\-]+)+)$")


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
    target = re.sub(r"^(?:the|a|an)\s+", "", _EN_PREDICATE_ABOUT.sub("", target),
                    flags=re.IGNORECASE)
    m = _EN_ATTRIBUTE_OF.match(target)
    if m and (m.group("head").lower() in _EN_ATTRIBUTES
              or m.group("head").lower() in NP_LIGHT_HEADS):
        target = re.sub(r"^(?:the|a|an)\s+", "", m.group("rest"), flags=re.IGNORECASE)
    elif re.match(r"[\w-]+\s+to\s", target) and target.split()[0].lower() in NP_LIGHT_HEADS:
        return ""  # "ways to cook ribs": a question about doing, not a thing
    # "purchasing a franchise" and "being vegetarian" are about the franchise, vegetarians.
    target = re.sub(r"^(?:being|having|getting|buying|purchasing|owning|opening|starting|"
                    r"running|using|making|becoming|doing|taking)\s+(?:(?:the|a|an)\s+)?",
                    "", target)
    if re.search(r"['’]s?\s", target):
        return ""  # a possessive phrase: its owner is found as a name on its own
    titled = _EN_ROLE_BEFORE_NAME.match(target)
    if titled:
        target = titled.group("name")  # "the composer Ilse Marchetti": the name
    words = target.split()
    if len(words) >= 2 and words[0][:1].isupper() and words[-1].islower() and (
            _PARTICIPLE.fullmatch(words[-1]) or _PREDICATE_ADJECTIVE.search(words[-1])
            or words[-1] in _IRREGULAR_PARTICIPLES):
        # "Where was Ada Lovelace born": a name, then its predicate ("the Bronze Age
        # collapse" is a name and its head noun).
        words = list(itertools.takewhile(lambda w: w[:1].isupper(), words))
        target = " ".join(words)
    if len(words) >= 2 and words[-1].islower() and (
            _PARTICIPLE.fullmatch(words[-1]) or words[-1] in _IRREGULAR_PARTICIPLES
            or words[-1] in _PREDICATE_WORDS):
        words = words[:-1]  # "Where is breakfast served?": breakfast
        target = " ".join(words)
    if words and words[-1].lower() in NP_LIGHT_HEADS and (
            len(words) == 1 or _ADJECTIVE_ENDING.search(words[0])
            or words[0].lower() in NP_QUANTIFIERS):
        return ""  # "a typical day", "the environmental cost": an attribute, no thing
    return target


def _en_entities(text: str, turn: int, *, compounds: bool = False) -> list[Entity]:
    entities: list[Entity] = []
    definition = _EN_DEFINITION.match(text)
    if definition:
        asked_about = definition.group("x") or definition.group("y") or ""
        target = _definition_head(asked_about)
        if re.search(r"[?.!]\s", target):
            target = ""  # the question ran on into another sentence
        words = target.split()
        generic = bool(words) and words[0].lower() in _EN_GENERIC_HEADS
        if (target and len(words) <= 5 and not generic
                and not (set(w.lower() for w in words) <= EN_STOPWORDS)):
            entity = _en_entity(target, text, turn, "subject", proper=target[0].isupper())
            role_noun = _EN_ROLE_BEFORE_NAME.match(
                re.sub(r"^(?:the|a|an)\s+", "", asked_about.strip()))
            if entity.kind == "thing" and (re.match(r"\s*who\b", text, re.IGNORECASE)
                                           or role_noun):
                entity = replace(entity, kind="person")  # "Who was Ada Lovelace?": somebody
            if re.search(r"\s(?:and|&)\s+(?:the\s+)?[A-Z]", target):
                entity = replace(entity, plural=True)  # "Robin Hale and Avery Stone": they
            entities.append(entity)
    previous: tuple[int, str] | None = None
    starts = _sentence_starts(text)
    things: set[str] = set()
    for match in _EN_CAP_SPAN.finditer(text):
        span = _trim_en_span(match.group(0), at_start=match.start() in starts)
        if not span or (len(span) == 1 and re.search(r"[\d°º]\s*$", text[:match.start()])):
            continue  # nothing left, or a unit after a number ("200°C", "5 V")
        if (match.start() in starts and " " not in span
                and span == match.group(0).strip(" ,.;:?!")
                and not re.search(rf"(?<![.!?]\s)(?<!^)\b{re.escape(span)}\b", text[1:])):
            # A lone capitalised word opening a sentence ("Several", "Sure", "South") is
            # usually grammar, not a name, unless the text capitalises it elsewhere too.
            continue
        role: Role = "subject" if match.start() < max(1, len(text) // 3) else "object"
        if previous and re.fullmatch(r"\s+(?:and|&)\s+(?:the\s+)?",
                                     text[previous[0]:match.start()], re.IGNORECASE):
            # "Sonny and Cher" is also one plural referent ("they").
            group = f"{previous[1]} and {span}"
            entities.append(replace(_en_entity(group, text, turn, role, proper=True), plural=True))
        compound = _name_compound(text, match, span) if compounds else None
        entity = _en_entity(compound or span, text, turn, role, proper=True)
        if compound:
            entity = replace(entity, plural=looks_plural(compound.split()[-1]))
        elif entity.kind == "thing" and _EN_THE_BEFORE.search(text, 0, match.start()):
            # "the Ottoman Empire", "the Kit Kat Club": a name with an article is a
            # place, an institution or a thing, never a he or a she. Marked a place: an
            # organisation would take "they" first, and "the South" or "the Northampton
            # demos" did not on the tuning halves.
            entity = replace(entity, kind="place")
            things.add(span.lower())
        entities.append(entity)
        previous = (match.end(), span)
    return [replace(e, kind="place") if e.kind == "thing" and e.text.lower() in things else e
            for e in entities]


# A name that modifies the common noun after it: "the Pro plan", "a Venus flytrap",
# "about Venus flytraps in…". The referent is the compound (a plan, a plant), so a later
# "it" names "Pro plan", never "Pro". The name must follow a determiner, or a preposition
# when the noun is plural, and the noun end its phrase; not after an auxiliary, where the
# word after the name is the question's verb or predicate ("Did the Nile flood?", "Is the
# Nile long?").
_EN_COMPOUND_DETERMINERS = frozenset("the a an my our your their its this that these those".split())
_EN_COMPOUND_PREPOSITIONS = frozenset("about of for in on with from between among like".split())
_EN_WORDS_BEFORE = re.compile(r"(?:(?P<prev>[A-Za-z']+)\s+)?(?P<det>[A-Za-z]+)\s+$")
_EN_IDENTITY_QUESTION = re.compile(r"\s*(?:what|which|who|how\s+(?:much|many))\b", re.I)
_EN_COMPOUND_NOUN = re.compile(
    r"\s+(?P<noun>[a-z][a-z\-]{2,})(?P<owner>['’]s\b)?"
    r"(?=\s*[?.!,;:)]|\s*$|\s+(?P<next>[a-z]+)\b)")
# Frequent bare verbs that follow do-support's subject ("How much does the Pro plan
# cost?", "Does my Gold dental plan cover braces?"): where the subject's nouns end. A
# closed list of the verbs questions about products, services and places use most,
# without those more often nouns in a compound (leave, support, report, charge…); a
# verb not in it leaves the phrase unread (no compound), which changes nothing. The
# last one of a run is the verb ("the parental leave policy work").
COMMON_VERBS = frozenset(
    """
    accept add affect allow apply ask become begin break bring buy cancel carry cause
    close come compare contain cost count cover create deal deliver depend die do end
    expire feel fit get give go grow happen have help hold include keep know last lead
    let like live look make mean meet move need offer open operate own pay protect
    provide reach read receive recommend reduce remain remove renew replace require run
    save say see sell send serve ship sleep sound stand start stay stop take talk teach
    tell think treat use vary wait want wear win work write
    """.split()
)
_BE_FORMS = frozenset("is are was were be been am isn aren wasn weren".split())
_MODALS = frozenset("can could will would should may might must".split())
_EN_NEXT_WORD = re.compile(r"\s+([a-z][a-z\-]{2,})\b(?!['’])")
_EN_PHRASE_END = re.compile(r"\s*(?:[?.!,;:)]|$)|\s+([A-Za-z]+)\b")
# Adverbs that end a question after a name ("the Louvre today?"): no noun.
_EN_TRAILING_ADVERBS = frozenset(
    "today tomorrow yesterday tonight nowadays nearby online offline abroad overseas home "
    "later earlier soon ago anymore together alone first instead".split()
)


def _name_compound(text: str, match: re.Match[str], span: str) -> str | None:
    """The name with the common noun it modifies, or None (see the tables above)."""
    raw = match.group(0).rstrip()
    if not raw.endswith(span) or re.search(r"['’]s?$", raw):
        return None  # trimmed, or a possessive: "the Eiffel Tower's height"
    start = match.start() + len(raw) - len(span)  # "Does the Pro" is matched as one span
    before = _EN_WORDS_BEFORE.search(text[max(0, start - 40):start])
    noun = _EN_COMPOUND_NOUN.match(text, match.start() + len(raw))
    if before is None or noun is None:
        return None
    det = before.group("det").lower()
    prev = bare_word(before.group("prev") or "")
    word, following = noun.group("noun"), noun.group("next")
    if word in _NP_CLOSED or word.endswith("ly"):
        return None
    if det in ("do", "did") and looks_plural(word) and following is not None:
        # Do-support with a plural noun, then the verb: "What do Venus flytraps eat?"
        return f"{span} {word}"
    if det not in _EN_COMPOUND_DETERMINERS | _EN_COMPOUND_PREPOSITIONS:
        return None
    if prev in _DO_SUPPORT | _MODALS and det in _EN_COMPOUND_DETERMINERS:
        # After do-support or a modal the subject's nouns run up to the bare verb: "How
        # much does the Pro plan cost?", "Does my Gold dental plan cover braces?". Only a
        # known verb ends them (`COMMON_VERBS`); "Did the Nile flood farms?" has none.
        nouns = re.findall(r"[a-z][a-z\-]*", text[match.start() + len(raw):])[:4]
        verb_at = next((k for k, w in enumerate(nouns) if w in COMMON_VERBS
                        and (k + 1 == len(nouns) or nouns[k + 1] not in COMMON_VERBS)), None)
        if not verb_at or any(w in _NP_CLOSED or w.endswith("ly") or _PARTICIPLE.fullmatch(w)
                              for w in nouns[:verb_at]):
            return None
        return " ".join([span, *nouns[:verb_at]])
    sentence = text[:start].rsplit(".", 1)[-1].rsplit("?", 1)[-1]
    if prev in _BE_FORMS and following and following[:1].islower() and not (
            following in _NP_CLOSED or _PREDICATE_ADJECTIVE.search(word)):
        return f"{span} {word}"  # "Is the Folkwang library open…": a noun, then the predicate
    if prev in _BE_FORMS and not (
            prev in ("is", "are", "was", "were") and _EN_IDENTITY_QUESTION.match(sentence)
            and not _ADJECTIVE_ENDING.search(word)):
        # After a fronted "is" the word is the predicate ("Is the Nile long?"); "How much
        # is the Pro plan?" asks for an amount or identity, so its phrase is whole.
        return None
    if noun.group("owner"):
        return f"{span} {word}"  # "the Gold tier's price"
    run = _noun_run_after(text, match.start() + len(raw))
    if not run or (det in _EN_COMPOUND_PREPOSITIONS and not looks_plural(run[-1])):
        return None  # "in Paris today", "from London alone": only "about Venus flytraps"
    return " ".join([span, *run])


def _noun_run_after(text: str, position: int) -> list[str]:
    """One to three lower-case nouns from `position` that end their phrase, or [].

    "the Premium roadside assistance add-on?" → roadside assistance add-on. The phrase
    ends at punctuation, the end or a closed-class word other than a determiner: a word
    before a determiner is a verb ("My Instant Pot shows a burn error"). A last word
    with an adjective's ending is a predicate ("…the Venus flytrap native to…").
    """
    run: list[str] = []
    while len(run) < 3:
        m = _EN_NEXT_WORD.match(text, position)
        if m is None:
            return []
        w = m.group(1)
        if (w in _NP_CLOSED or w in _EN_TRAILING_ADVERBS or w.endswith("ly")
                or _PARTICIPLE.fullmatch(w) or _PRESENT_PARTICIPLE.fullmatch(w)):
            return []
        run.append(w)
        position = m.end()
        end = _EN_PHRASE_END.match(text, position)
        following = end.group(1) if end else None
        if end and (following is None or (following.lower() in _NP_CLOSED
                                          and following.lower() not in _NP_DETERMINERS
                                          and following[:1].islower())):
            return [] if _ADJECTIVE_ENDING.search(w) and len(run) > 1 else run
        if end and following and following.lower() in _NP_DETERMINERS:
            return run[:-1]  # "My Zephyr kettle shows an error": "shows" is the verb
    return []


# --- English common noun phrases, without a tagger ------------------------------------
#
# A noun phrase is a maximal run of content words after a word that opens one (a
# determiner, a possessive, a preposition, do-support), ended by a closed-class word
# (auxiliary, pronoun, wh-word, preposition, conjunction, adverb) or punctuation. Open-
# class verbs cannot be listed, so a phrase is only opened where English grammar puts a
# noun next, and a phrase whose end may be a verb is cut (see `_np_run`).

_NP_DETERMINERS = frozenset(
    "the a an this that these those my your our his her its their some any each every "
    "another no".split()
)
_NP_PREPOSITIONS = frozenset(
    "about of for in on at with from to by into onto over under between among during after "
    "before through without within against like than around near per via across behind "
    "beyond toward towards upon besides versus vs".split()
)
_NP_AUXILIARIES = frozenset(
    "is are was were be been being am do does did done have has had can could will would "
    "shall should may might must need needs ought get gets got going".split()
)
_NP_CLOSED = _NP_DETERMINERS | _NP_PREPOSITIONS | _NP_AUXILIARIES | frozenset(
    "i you he she it we they me him us them myself yourself itself themselves one ones "
    "what who whom whose when where why how which whether and or but nor if because so "
    "that then than as while although though not never also just very too really only "
    "even still already ever often usually typically generally always now there here "
    "else more most less least much many few all both such own same enough quite rather "
    "instead again anyway either neither "
    "s t don doesn didn isn aren wasn weren can't won't".split()
)
# Words that open a phrase but are not part of it: quantifiers and vague adjectives.
NP_QUANTIFIERS = frozenset(
    "some any many much more most few several all both other others different various "
    "certain same whole entire particular specific main important interesting common "
    "typical good best better bad worst new old possible popular famous major key basic "
    "overall general first second third last next final".split()
)
# Heads that name an attribute, a part or a circumstance of something else ("the cost
# of…", "the different types", "a typical day"): what is asked about, never what a later
# "it" means. Relational and light nouns, a closed class in practice.
NP_LIGHT_HEADS = frozenset(
    "thing things way ways type types kind kinds sort sorts example examples fact facts "
    "information info detail details difference differences relationship relation role "
    "purpose cost costs price prices benefit benefits advantage advantages disadvantage "
    "disadvantages pros cons effect effects impact impacts importance history reason "
    "reasons cause causes problem problems issue issues option options part parts process "
    "step steps feature features characteristic characteristics symptom symptoms sign "
    "signs risk risks factor factors use uses name names number numbers list lot lots bit "
    "amount level levels rate rates hour hours day days week weeks month months year years time "
    "times period periods age moment idea ideas point points question questions answer "
    "answers someone something anything everything nothing anyone everyone people person "
    "place places area areas world case cases result results outcome source sources "
    "meaning definition origin origins evidence support help work job life aspect aspects "
    "member members section article".split()
)
# Light heads that stay light after any modifier ("fun facts", "safety tips").
_NP_VAGUE_HEADS = frozenset(
    "thing things way ways type types kind kinds sort sorts example examples fact facts "
    "information info detail details aspect aspects idea ideas tip tips lot lots bit "
    "question questions answer answers".split()
)
# A first word that makes a light head an attribute ("the environmental cost").
_ADJECTIVE_ENDING = re.compile(r"(?:al|ic|ive|ous|ful|able|ible|ent|ant|ary|less)$", re.IGNORECASE)
# Adjective endings that are seldom a noun's (unlike "-al": festival, scandal): a name's
# predicate in "Where is Ada Lovelace famous?".
_PREDICATE_ADJECTIVE = re.compile(r"(?:ous|ful|able|ible|ive)$")
# Adjectives a question puts after its subject as the predicate ("When is the pool
# open?", "Is the museum free?"): the end of a noun phrase, never its head. A closed
# list of the frequent ones; a noun in their place would make a question ungrammatical.
_PREDICATE_WORDS = frozenset(
    "open closed shut free available valid safe possible necessary required allowed "
    "included covered refundable expensive cheap busy full empty late early ready due "
    "worth legal mandatory optional compulsory accessible reachable crowded quiet noisy "
    "warm cold hot".split()
)
_IRREGULAR_PARTICIPLES = frozenset(
    "born known made held built found shot set taken written given sold run begun "
    "done seen grown drawn thrown chosen spoken broken".split()
)
# "-ing" words long enough not to be "king", "ring", "thing".
_PRESENT_PARTICIPLE = re.compile(r"[a-z]{4,}ing", re.IGNORECASE)
_PARTICIPLE = re.compile(r"[a-z]{2,}(?<!e)ed", re.IGNORECASE)  # formed, but not breed
# A plural noun, after which do-support's bare verb follows at once ("Do big dogs live…").
_PLURAL = re.compile(r"[a-z]{2,}(?<![su])s$")
_DO_SUPPORT = frozenset("do does did".split())
# Imperatives whose object is what a search question is about ("Describe the…").
_NP_IMPERATIVES = frozenset("describe explain compare contrast define discuss summarize".split())
_NP_WH_QUANTIFIERS = frozenset("many much what which".split())
# "what about X", "tell me (more) about X": X is the question's topic.
_NP_ABOUT_TOPIC = frozenset("what how me more".split())
# Words after which English puts a noun phrase: prepositions ("to" mostly opens a verb),
# do-support ("does seed funding work"), how many/much, and what/which as determiners.
_NP_OPENERS = (_NP_PREPOSITIONS - {"to"}) | _DO_SUPPORT | _NP_WH_QUANTIFIERS
_NP_WORD = re.compile(r"[A-Za-z0-9][\w'’\-]*|[^\w\s]")


def en_noun_phrases(text: str, turn: int = 0) -> list[Entity]:
    """Lower-case (or mixed) English noun phrases of a question, as common-noun entities.

    "How can I tell when my robot vacuum needs a new filter?" → robot vacuum;
    "What are some interesting facts about bees?" → bees ("facts" is a light head).
    Capitalised names are left to the name extractor.
    """
    tokens = list(_NP_WORD.finditer(text))
    starts = _sentence_starts(text)
    found: list[Entity] = []
    i = 0
    while i < len(tokens):
        word = tokens[i].group(0)
        low = bare_word(word)
        # The object of a question whose subject is its wh-word ("What causes acid
        # reflux?"), of an imperative ("Describe the…") or of "what about"/"tell me
        # about" is what the question is about.
        wh_subject = (i == 1 and bare_word(tokens[0].group(0)) in ("what", "who")
                      and re.fullmatch(r"[a-z]{3,}(?:s|ed)", word) is not None
                      and low not in _NP_CLOSED) or (
            tokens[i].start() in starts and low in _NP_IMPERATIVES) or (
            low == "about" and i > 0 and bare_word(tokens[i - 1].group(0)) in _NP_ABOUT_TOPIC)
        if not (low in _NP_DETERMINERS or low in _NP_OPENERS or wh_subject):
            i += 1
            continue
        first = i + 1
        if low in _DO_SUPPORT or wh_subject:
            while first < len(tokens) and (bare_word(tokens[first].group(0)) in _NP_DETERMINERS
                                           or (low == "about" and tokens[first].group(0) == "for")):
                first += 1
        run, end = _np_run(tokens, first, starts)
        i = max(end, i + 1)
        if low in _DO_SUPPORT and not (end < len(tokens) and bare_word(
                tokens[end].group(0)) in _NP_AUXILIARIES):
            # Do-support: "How does seed investment work…" — the subject, then a bare verb,
            # which follows a plural subject at once ("Do big dogs live longer…"); a verb
            # the closed list knows ended the run already ("What do Spanish people do…").
            plural = next((k for k, w in enumerate(run[:-1]) if _PLURAL.search(w.group(0))), None)
            verb = next((k for k, w in reversed(list(enumerate(run)))
                         if k and bare_word(w.group(0)) in COMMON_VERBS), None)
            if verb is not None:
                run = run[:verb]  # "How does seed funding work for startups?"
            elif plural is not None:
                run = run[:plural + 1]
            elif not (end < len(tokens) and bare_word(tokens[end].group(0)) in _NP_PREPOSITIONS):
                run = run[:-1]
            # else the verb comes after the phrase's complement: "Does the sourdough loaf
            # at the bakery contain sesame?"
            if run and run[0].group(0)[:1].isupper():
                # "Why did Dali choose…": a name, then the verb; the name is the subject.
                run = list(itertools.takewhile(lambda w: w.group(0)[:1].isupper(), run))
        elif low in _NP_WH_QUANTIFIERS:
            # "What dog breed is…", "how many vacation days do…": a determiner only when
            # an auxiliary follows the noun ("What causes acid reflux" has a verb).
            nxt = bare_word(tokens[end].group(0)) if end < len(tokens) else ""
            if nxt not in _NP_AUXILIARIES:
                i = first  # not a determiner: read on from the next word
                continue
        while run and (bare_word(run[0].group(0)) in NP_QUANTIFIERS or (
                len(run) > 1 and low in _NP_PREPOSITIONS
                and _PRESENT_PARTICIPLE.fullmatch(run[0].group(0))
                and not looks_plural(run[-1].group(0)))):
            # "some", or a gerund: "about replacing the motor" is the motor; before a
            # plural it is a compound's modifier ("for standing desks", "running shoes")
            run = run[1:]
        takes_object = end < len(tokens) and bare_word(tokens[end].group(0)) in _NP_DETERMINERS
        if not run or (len(run) == 1 and low in _NP_PREPOSITIONS and (
                _PRESENT_PARTICIPLE.fullmatch(run[0].group(0))
                or (takes_object and re.fullmatch(r"[a-z]{2,}ing", run[0].group(0))))) or (
                bare_word(run[-1].group(0)) in _NP_VAGUE_HEADS) or (
                bare_word(run[-1].group(0)) in NP_LIGHT_HEADS
                and (len(run) == 1 or _ADJECTIVE_ENDING.search(run[0].group(0)))):
            # A lone gerund ("about purchasing…", "of buying a desk") is no thing ("the
            # building" is); nor is
            # a vague head; nor a light head alone or after an adjective ("the
            # environmental cost"); after a noun it names a kind of thing ("vacation
            # days", "privacy issues").
            continue
        phrase = text[run[0].start():run[-1].end()]
        if all(w.group(0)[:1].isupper() for w in run) or len(phrase) < 3 or phrase.isdigit() or (
                len(run) >= 3 and run[-1].group(0)[:1].isupper() and run[-2].group(0)[:1].isupper()
                and run[0].group(0)[:1].islower()):
            continue  # a name (after its role noun: "the composer Ilse Marchetti"): the
            # name extractor has it, with its features
        # The subject of its clause (after do-support, or right before an auxiliary) is
        # what the question is about; any other phrase is a detail of it.
        after = bare_word(tokens[end].group(0)) if end < len(tokens) else ""
        # A wh-determiner's phrase ("Which cities did…") is what is asked for: a detail.
        role: Role = "subject" if (low in _DO_SUPPORT or wh_subject or (
            after in _NP_AUXILIARIES and low not in _NP_WH_QUANTIFIERS)) else "object"
        plural = looks_plural(run[-1].group(0))
        found.append(Entity(text=phrase, plural=plural, turn=turn, role=role, proper=False,
                            lang="en"))
    return found


def looks_plural(word: str) -> bool:
    """An English noun ending in a plural "-s" (not "glass", "virus", "basis", "physics")."""
    word = bare_word(word)
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "ics"))


def _np_run(tokens: Sequence[re.Match[str]], i: int, starts: set[int]
            ) -> tuple[list[re.Match[str]], int]:
    """The content words from token `i` on, up to the first closed-class word or mark.

    A possessive stays inside ("a child's college fund"); a capitalised word opening a
    sentence ends the run (it is the next sentence's grammar).
    """
    run: list[re.Match[str]] = []
    while i < len(tokens):
        token = tokens[i]
        word = token.group(0)
        if not (word[:1].isalnum()) or bare_word(word) in _NP_CLOSED or (
                run and token.start() in starts):
            break
        if run and (_PARTICIPLE.fullmatch(word) or _PRESENT_PARTICIPLE.fullmatch(word)
                    or word.lower() in _PREDICATE_WORDS or word in _IRREGULAR_PARTICIPLES):
            break  # a participle after the noun: "was the band formed", "…opener leaking"
        run.append(token)
        i += 1
    return run, i


_EN_THE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)


def _sentence_starts(text: str) -> set[int]:
    """Offsets where a sentence (or a quoted utterance) begins."""
    return {m.end() for m in re.finditer(r"(?:^|[.!?:;\n\"“]\s*)\s*", text)}


def _trim_en_span(span: str, *, at_start: bool) -> str:
    words = span.split()
    # A capitalised first word of a sentence is usually just grammar ("What", "The");
    # so is a wh-word with a clitic ("What's", "Who’s").
    while words and (bare_word(words[0]) in _EN_QUESTION_WORDS | EN_STOPWORDS
                     or (at_start and bare_word(words[0]) in _EN_OPENERS)):
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


def bare_word(word: str) -> str:
    """A word lower-cased without its punctuation or clitic: "What's" → "what"."""
    return re.sub(r"['’](?:s|re|ve|ll|d|m)$", "", word.lower().strip(" ,.;:?!\"'’“”"))


def _en_entity(span: str, context: str, turn: int, role: Role, *, proper: bool) -> Entity:
    gender: Gender = "unknown"
    kind: Kind = "thing"
    if _EN_FEMALE_TITLES.match(span):
        kind, gender = "person", "female"
    elif _EN_MALE_TITLES.match(span):
        kind, gender = "person", "male"
    elif re.match(r"(?:Dr|Prof|Professor|Doctor)\b\.?\s+[A-Z]", span):
        kind = "person"  # "Dr. Priya Raman": somebody, of no stated gender
    if proper and kind == "thing" and _EN_COMPANY.search(span):
        kind = "org"  # "Halvorsen & Pike", "Brightline Ltd": a firm, never a he or a she
    plural = not proper and looks_plural(span.split()[-1])
    return Entity(
        text=span, kind=kind, gender=gender, plural=plural, turn=turn, role=role,
        proper=proper, lang="en",
    )


_EN_COMPANY = re.compile(r"&|\b(?:Inc|Ltd|LLC|GmbH|PLC|Corp|Co)\b\.?$")
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
    positions = [(_first_mention(lowered, e, entities), k) for k, e in enumerate(entities)]
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


def _first_mention(lowered: str, entity: Entity, entities: Sequence[Entity]) -> int:
    """Where `lowered` first names the entity, -1 if nowhere.

    An English name also counts by a word of its own ("Hopper" for Grace Hopper):
    answers shorten names, and the subject they go on to call "he" is often shortened.
    A word another known name shares ("Curie") names neither.
    """
    found = [lowered.find(entity.text.lower())]
    if entity.lang == "en" and entity.proper and " " in entity.text \
            and " and " not in entity.text:
        others = {w for e in entities if e is not entity and " " in e.text
                  and " and " not in e.text for w in e.text.split()}
        found += [m.start() for word in entity.text.split()
                  if len(word) >= 4 and word[0].isupper() and word not in others
                  for m in [re.search(rf"\b{re.escape(word.lower())}\b", lowered)] if m]
    return min((p for p in found if p >= 0), default=-1)


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
