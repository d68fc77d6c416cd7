"""The gate: a cheap test of whether a question needs its references resolved.

A question that names its subject and contains no pronoun, demonstrative or ellipsis
is already standalone, so no model call (and no rewrite) is spent on it. The gate is
deliberately generous: a false alarm costs one rewrite that changes nothing, a miss
sends an unresolved question to retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from convrag.language.references import (
    EN_DEMONSTRATIVES,
    ZH_ELLIPSIS_OPENERS,
    en_pronouns,
    zh_references,
)
from convrag.language.tokens import Lang, detect_lang, zh_cut

_ZH_ELLIPSIS = re.compile(
    rf"^(?:{'|'.join(ZH_ELLIPSIS_OPENERS)})?\s*(?P<x>.{{1,24}}?)\s*呢\s*[？?]?\s*$"
)
_ZH_BARE = re.compile(
    r"^(?:那么|那|还有|所以|然后)?\s*(?:有多|多|几|哪|什么时候|为什么|怎么|如何|是不是|是什么|是谁|"
    r"在哪|有没有|有哪些|有什么|能不能|可以|需要|要多|好不好|贵不贵|远不远|大吗|"
    r"成立|建于|位于|属于|创办|发明|出生|去世|毕业)"
)

_EN_DEMONSTRATIVE_WORDS = "|".join(EN_DEMONSTRATIVES)
# "this"/"that" are references when they stand alone or after a verb or preposition,
# not when introducing a clause ("the book that I read").
_EN_DEMONSTRATIVE = re.compile(
    r"(?:^|\b(?:is|was|are|were|about|of|in|on|for|with|from|to|do|does|did|mean|means|"
    rf"after|before|during|besides|than|like)\s+)({_EN_DEMONSTRATIVE_WORDS})\b|"
    rf"\b({_EN_DEMONSTRATIVE_WORDS})\s*[?.!]?\s*$|\b(there|then)\s*[?.!]?\s*$",
    re.IGNORECASE,
)
# A leading "and" opens an ellipsis ("And the Mississippi?") unless a clause follows it
# ("And when did she die?" is a whole question).
_EN_CLAUSE = (
    r"(?:what|who|whom|whose|when|where|why|how|which|is|are|was|were|do|does|did|can|"
    r"could|will|would|should|has|have|had|i|you|we|he|she|it|they|there)\b"
)
_EN_ELLIPSIS_OPENER = (
    rf"(?:and\s+)?(?:what|how)\s+about|and(?!\s+{_EN_CLAUSE})|what\s+of|as\s+for|same\s+for"
)
_EN_ELLIPSIS = re.compile(
    rf"^\s*(?:{_EN_ELLIPSIS_OPENER}|what\s+else|anything\s+else|any\s+other|other\s+than)\b",
    re.IGNORECASE,
)
_EN_ELLIPSIS_TARGET = re.compile(
    rf"^\s*(?:{_EN_ELLIPSIS_OPENER})\s+(?P<x>.+?)\s*[?.!]*\s*$", re.IGNORECASE
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
        kinds = {r.kind for r in zh_references(zh_cut(text))}
        if "pronoun" in kinds:
            reasons.append("pronoun")
        if kinds - {"pronoun"}:
            reasons.append("demonstrative")
        if _ZH_ELLIPSIS.match(text):
            reasons.append("ellipsis")
        if _ZH_BARE.match(text) and not names_subject:
            reasons.append("bare-attribute")
    else:
        if en_pronouns(text):
            reasons.append("pronoun")
        if _EN_DEMONSTRATIVE.search(text):
            reasons.append("demonstrative")
        if _EN_ELLIPSIS.match(_last_sentence(text)):
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
    m = _EN_ELLIPSIS_TARGET.match(_last_sentence(text))
    if m:
        # "What about the Volga in particular?" is about the Volga.
        return _EN_TRAILING_ADVERBIAL.sub("", m.group("x").strip()) or None
    return None


def _last_sentence(text: str) -> str:
    """The last sentence of an English question: "Interesting. What about X?" asks the
    second; the first is a reaction."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip())[-1]


_EN_TRAILING_ADVERBIAL = re.compile(
    r"[\s,]+(?:in particular|specifically|instead|too|as well|then|now|though)$", re.IGNORECASE
)
