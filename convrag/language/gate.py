"""The gate: a cheap test of whether a question needs its references resolved.

A question that names its subject and contains no pronoun, demonstrative or ellipsis
is already standalone, so no model call (and no rewrite) is spent on it. The gate is
deliberately generous: a false alarm costs one rewrite that changes nothing, a miss
sends an unresolved question to retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from convrag.language.tokens import Lang, detect_lang

# Chinese third-person pronouns and demonstratives. 那/这 alone start many sentences
# ("那我们走吧"), so they count when followed by a classifier or as "那…呢".
_ZH_PRONOUN = re.compile(
    r"它们|他们|她们|它|他|她|其(?![他它实中次余])|该(?=[\u4e00-\u9fff])|此(?=[\u4e00-\u9fff])"
)
_ZH_DEMONSTRATIVE = re.compile(
    r"(?:这|那)(?:个|些|位|条|座|家|所|本|部|种|项|件|次|里|儿|款|只)"
)
_ZH_ELLIPSIS = re.compile(r"^(?:那|那么|还有|另外|而)?\s*(?P<x>.{1,24}?)\s*呢\s*[？?]?\s*$")
_ZH_BARE = re.compile(
    r"^(?:那|那么|还有|所以|然后)?\s*(?:有多|多|几|哪|什么时候|为什么|怎么|如何|是不是|是什么|是谁|"
    r"在哪|有没有|有哪些|有什么|能不能|可以|需要|要多|好不好|贵不贵|远不远|大吗|"
    r"成立|建于|位于|属于|创办|发明|出生|去世|毕业)"
)

_EN_PRONOUN = re.compile(
    r"\b(it|its|itself|they|them|their|theirs|themselves|he|him|his|himself|she|her|hers|"
    r"herself)\b",
    re.IGNORECASE,
)
# "this"/"that" are references when they stand alone or after a verb or preposition,
# not when introducing a clause ("the book that I read").
_EN_DEMONSTRATIVE = re.compile(
    r"(?:^|\b(?:is|was|are|were|about|of|in|on|for|with|from|to|do|does|did|mean|means|"
    r"after|before|during|besides|than|like)\s+)(this|that|these|those)\b|"
    r"\b(this|that|these|those)\s*[?.!]?\s*$|\b(there|then)\s*[?.!]?\s*$",
    re.IGNORECASE,
)
_EN_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|and|what\s+of|as\s+for|same\s+for|"
    r"what\s+else|anything\s+else|any\s+other|other\s+than)\b",
    re.IGNORECASE,
)
_EN_BARE = re.compile(
    r"^\s*(?:when|where|why|how|who|which|what)(?:\s+(?:else|year|date|time|for|now|so))?"
    r"\s*[?.!]*\s*$|^\s*(?:why|how)\s+(?:not|so|come)\b|^\s*(?:is|was|are|were|did|does)\s+"
    r"(?:it|that|this|there)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GateResult:
    """Whether to resolve, and why (the reasons are a trace for Studio and the CLI)."""

    needs_resolution: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def check(question: str, *, has_history: bool, names_subject: bool, lang: Lang | None = None
          ) -> GateResult:
    """Decide whether `question` needs resolving against the conversation so far.

    `names_subject` says whether the question mentions an entity of its own; a short
    question that names nothing in a running conversation is elliptical.
    """
    if not has_history:
        return GateResult(False, ())
    lang = lang or detect_lang(question)
    text = question.strip()
    reasons: list[str] = []
    if lang == "zh":
        if _ZH_PRONOUN.search(text):
            reasons.append("pronoun")
        if _ZH_DEMONSTRATIVE.search(text):
            reasons.append("demonstrative")
        if _ZH_ELLIPSIS.match(text):
            reasons.append("ellipsis")
        if _ZH_BARE.match(text) and not names_subject:
            reasons.append("bare-attribute")
    else:
        if _EN_PRONOUN.search(text):
            reasons.append("pronoun")
        if _EN_DEMONSTRATIVE.search(text):
            reasons.append("demonstrative")
        if _EN_ELLIPSIS.match(text):
            reasons.append("ellipsis")
        if _EN_BARE.match(text):
            reasons.append("bare-attribute")
    if not reasons and not names_subject and len(text) <= 80:
        reasons.append("no-subject")
    return GateResult(bool(reasons), tuple(reasons))


def ellipsis_target(question: str, lang: Lang | None = None) -> str | None:
    """The new entity of an ellipsis: "那亚马逊河呢？" → 亚马逊河, "What about X?" → X."""
    lang = lang or detect_lang(question)
    text = question.strip()
    if lang == "zh":
        m = _ZH_ELLIPSIS.match(text)
        if m:
            target = m.group("x").strip(" ，,。")
            target = re.sub(r"^(?:的话|如果是|要是)", "", target)
            return target or None
        return None
    m = re.match(
        r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|and|what\s+of|as\s+for|same\s+for)\s+"
        r"(?P<x>.+?)\s*[?.!]*\s*$",
        text,
        re.IGNORECASE,
    )
    if m:
        return m.group("x").strip()
    return None
