"""Referring words: the one table of pronouns and demonstratives the gate and the resolver share.

Chinese references are found on jieba's words, not on characters: 他 inside 吉他 and 其
inside 尤其 or 其他 are parts of other words, and jieba keeps them there. English ones are
whole words. Each pronoun carries the agreement class its antecedent must fit
("thing", "things", "female", "male", "plural", "any") and how its replacement is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Agreement = Literal["thing", "things", "female", "male", "plural", "any", "place"]

# pronoun: (agreement class, replacement template)
ZH_PRONOUNS: dict[str, tuple[Agreement, str]] = {
    # 它们 is "they" for things: a Chinese noun is unmarked for number (大熊猫 is one
    # panda or all of them), so any thing fits it, never a person.
    "它们": ("things", "{}"),
    "他们": ("plural", "{}"),
    "她们": ("plural", "{}"),
    "它": ("thing", "{}"),
    "她": ("female", "{}"),
    "他": ("male", "{}"),
    "其": ("any", "{}的"),
}
# Demonstrative words that stand for a whole place: 那里的气候 is the antecedent's climate.
ZH_PLACE_DEMONSTRATIVES = frozenset("这里 那里 这儿 那儿 此地 该地 当地".split())
# 该校, 此书, 本院: a demonstrative and a one-character head noun in one word stand for
# the antecedent whose name ends with that head (该校 → …大学/…学校 by the 校 family).
ZH_DEMONSTRATIVE_PREFIXES = ("该", "此")
# 这个/那座/这些 … followed by a noun: "这个学院" is the 文学院 named before.
# The bare 该 and 此 come last: they count only before a noun (该怎么办 is "should").
ZH_DETERMINERS = tuple(
    "这个 那个 这些 那些 这位 那位 这座 那座 这条 那条 这家 那家 这所 那所 这本 那本 这部 那部 "
    "这种 那种 这项 那项 这件 那件 这款 那款 这只 那只 这首 那首 这张 那张 这篇 那篇 这场 那场 "
    "这台 那台 这辆 那辆 这门 那门 这支 那支 这道 那道 这句 那句 这届 那届 该 此".split()
)
# 这 and 那 standing alone as a subject, and the words that show it: 这 before a verb
# or an adverb ("这也是…", "这不行"); 那 only before the copula, since "那有…", "那就…"
# open a clause with "then".
ZH_DEMONSTRATIVE_PRONOUNS: dict[str, frozenset[str]] = {
    "这": frozenset(
        "是 也 就 都 还 不 又 才 真 太 可 应该 已经 也是 就是 都是 不是 可是 算是".split()),
    "那": frozenset("是 也是 就是 都是 不是 算是".split()),
}
ZH_CLASSIFIERS = frozenset(d[1] for d in ZH_DETERMINERS if len(d) == 2 and d[1] not in "个些")
"""Classifiers of the determiners (首 of 这首), which jieba may cut onto the noun after."""
ZH_THING_CLASSIFIERS = ZH_CLASSIFIERS - {"位"}
"""Classifiers that count things, never people (首, 款, 部; not 位)."""
# Words after a determiner that show it stands alone: a verb, an adverb, a particle.
_NOT_NOUNS = frozenset(
    "是 有 在 也 就 都 还 不 没 没有 很 真 太 挺 怎么 怎么样 呢 吗 吧 啊 了 的 能 会 可以 要 "
    "到底 好 对 又 才 再 已经 和 跟 与 叫".split()
    # Question words and the adjectives a question asks with: "这个多少钱" asks the
    # price of "this", and 多少 is no noun of the determiner's.
    + "多少 多 多大 多久 多长 多高 多重 多远 几 什么 啥 哪 哪里 哪儿 为什么 为啥 如何 怎样 "
    "咋样 好看 好吃 好玩 好听 好用 贵 便宜 难 容易 大 小 值得 适合 卖".split()
)
# How an elliptical Chinese follow-up opens ("那么亚马逊河呢？"); longest first, so 那么
# is never read as 那 + 么.
ZH_ELLIPSIS_OPENERS = tuple(
    sorted("那 那么 还有 另外 而 那如果 那要是".split(), key=len, reverse=True)
)

EN_PRONOUNS: dict[str, tuple[Agreement, str]] = {
    "it": ("thing", "{}"),
    "itself": ("thing", "{}"),
    "its": ("thing", "{}'s"),
    "they": ("plural", "{}"),
    "them": ("plural", "{}"),
    "their": ("plural", "{}'s"),
    "theirs": ("plural", "{}'s"),
    "themselves": ("plural", "{}"),
    "he": ("male", "{}"),
    "him": ("male", "{}"),
    "his": ("male", "{}'s"),
    "himself": ("male", "{}"),
    "she": ("female", "{}"),
    "her": ("female", "{}"),
    "hers": ("female", "{}'s"),
    "herself": ("female", "{}"),
}
EN_DEMONSTRATIVES = ("this", "that", "these", "those")

EN_PRONOUN_RE = re.compile(r"\b(" + "|".join(EN_PRONOUNS) + r")\b", re.IGNORECASE)
# "it" that refers to nothing: "How long does it take to…", "Is it safe to…", "it rains".
_EN_PLEONASTIC = re.compile(
    r"\bit\s+(?:take|takes|took|cost|costs)\b(?=.*\bto\s+[a-z])"
    r"|\bit\s+(?:rain|rains|snow|snows|seems|seemed|appears)\b"
    r"|\bit(?:'s|\s+(?:is|was|be|been))\s+(?:\w+\s+){0,2}?(?:to|that|for|whether|when)\b"
    r"|\b(?:is|was|would|will)\s+it\s+(?:be\s+)?(?:\w+\s+)?(?:to|that|for|whether)\b"
    r"|\bwhat\s+time\s+is\s+it\b|\bit\s+(?:gets|got|is\s+getting)\s+(?:dark|light|cold|hot|"
    r"late|busy|crowded|windy)\b"
    r"|\b(?:is|was|isn't|wasn't)\s+it\s+worth\b|\bit(?:'s|\s+is|\s+was)\s+worth\s+\w+ing\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reference:
    """A referring word found in a question: where it is and what it is."""

    start: int
    end: int
    word: str
    kind: Literal["pronoun", "demonstrative", "place", "determiner"]
    following: str = ""  # a determiner's noun: 学院 of 这个学院


def zh_references(words: Sequence[str]) -> list[Reference]:
    """The referring words among jieba's `words` of a question, with character offsets."""
    return list(_zh_references(tuple(words)))


@lru_cache(maxsize=256)
def _zh_references(words: tuple[str, ...]) -> tuple[Reference, ...]:
    """`zh_references`, cached: the gate and the resolver read the same question's words
    two or three times a turn."""
    found: list[Reference] = []
    offset = 0
    for i, word in enumerate(words):
        start, offset = offset, offset + len(word)
        if word in ZH_PRONOUNS:
            found.append(Reference(start, offset, word, "pronoun"))
        elif word in ZH_PLACE_DEMONSTRATIVES:
            found.append(Reference(start, offset, word, "place"))
        elif len(word) == 2 and word.startswith(ZH_DEMONSTRATIVE_PREFIXES) and _cjk(word[1]):
            found.append(Reference(start, offset, word, "demonstrative"))
        elif len(word) > 2 and word[:2] in ZH_DETERMINERS[:-2]:
            # jieba keeps some as one word: 这本书 is 这本 + 书.
            found.append(Reference(start, start + 2, word[:2], "determiner", word[2:]))
        elif word in ("这", "那") and i + 1 < len(words) and len(words[i + 1]) == 1 and (
                words[i + 1] in ZH_CLASSIFIERS) and i + 2 < len(words) and _noun_like(
                    words[i + 2]) and words[i + 3:i + 4] != ("的",):
            # jieba cuts 这款手机 as 这 + 款 + 手机: a determiner and its noun all the same
            # (not a modifier with 的 after it: "这首好听的歌" is left as it is).
            found.append(Reference(start, offset + 1, word + words[i + 1], "determiner",
                                   words[i + 2]))
        elif word in ("这", "那") and i + 2 < len(words) and words[i + 1] in ZH_CLASSIFIERS and (
                words[i + 2] in _NOT_NOUNS):
            # "这款有几种颜色": the determiner stands alone for the thing, as 这个 does.
            found.append(Reference(start, offset + 1, word + words[i + 1], "determiner"))
        elif word in ("这", "那") and i + 1 < len(words) and len(words[i + 1]) > 1 and (
                words[i + 1][0] in ZH_CLASSIFIERS) and _noun_like(words[i + 1][1:]):
            # jieba cuts 这首歌 as 这 + 首歌: the classifier belongs to the determiner.
            found.append(Reference(start, offset + 1, word + words[i + 1][0], "determiner",
                                   words[i + 1][1:]))
        elif word in ZH_DEMONSTRATIVE_PRONOUNS and i + 1 < len(words) and (
                words[i + 1] in ZH_DEMONSTRATIVE_PRONOUNS[word]):
            # "这也是…", "那是…": the bare demonstrative is the subject, a thing named before.
            found.append(Reference(start, offset, word, "determiner"))
        elif word in ZH_DETERMINERS[:-2] or (
                word in ZH_DETERMINERS and i + 1 < len(words) and _noun_like(words[i + 1])):
            # "这个是人" uses 这个 alone as "it"; "这本书" is a determiner and its noun.
            following = words[i + 1] if i + 1 < len(words) and _noun_like(words[i + 1]) else ""
            found.append(Reference(start, offset, word, "determiner", following))
    return tuple(found)


def en_pronouns(text: str) -> list[re.Match[str]]:
    """The referring English pronouns of `text`; a pleonastic "it" is not one."""
    spans = [(m.start(), m.end()) for m in _EN_PLEONASTIC.finditer(text)]
    matches = []
    for m in EN_PRONOUN_RE.finditer(text):
        if m.group(0).lower() == "it" and any(s <= m.start() < e for s, e in spans):
            continue
        matches.append(m)
    return matches


def _noun_like(word: str) -> bool:
    return bool(word) and _cjk(word[:1]) and word not in _NOT_NOUNS


def _cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"
