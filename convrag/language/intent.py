"""Rule-based routing: does a message need the knowledge base at all?

Greetings, thanks, farewells and questions about the conversation itself are
answered without retrieval. Anything with content beyond the social phrase is a
knowledge question ("谢谢！那亚马逊河呢？" still retrieves).
"""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["greeting", "thanks", "farewell", "meta", "help", "knowledge"]

_SOCIAL: list[tuple[Intent, re.Pattern[str]]] = [
    ("greeting", re.compile(
        r"^(?:你好|您好|嗨|哈喽|早上好|下午好|晚上好|早安|晚安|hi|hello|hey|hiya|howdy|"
        r"good (?:morning|afternoon|evening)|greetings)(?:呀|啊|哦)?\b", re.IGNORECASE)),
    ("thanks", re.compile(
        r"^(?:谢谢|多谢|感谢|谢啦|thanks|thank you|thx|cheers|much appreciated)(?:你|您|了|啦)?",
        re.IGNORECASE)),
    ("farewell", re.compile(
        r"^(?:再见|拜拜|回头见|下次见|bye|goodbye|good bye|see you|farewell)", re.IGNORECASE)),
]
_META = re.compile(
    r"我(?:刚才|之前|前面|第一个|最开始|上一个)?(?:问|说)(?:了|过)(?:什么|哪些|啥)|"
    r"我们(?:刚才|之前)?(?:聊|谈|说)了(?:什么|哪些|啥)|(?:总结|回顾)一下(?:我们的)?(?:对话|聊天)|"
    r"我(?:的)?第一个问题|上一个问题是什么|"
    r"\bwhat (?:did|have) (?:i|we) (?:just )?"
    r"(?:ask|asked|say|said|discuss|discussed|talk|talked)\b|"
    r"\bwhat was my (?:first|last|previous) question\b|"
    r"\b(?:summari[sz]e|recap) (?:our|this|the) (?:conversation|chat|discussion)\b",
    re.IGNORECASE,
)
_HELP = re.compile(
    r"^(?:你(?:能|会|可以)(?:做|干)什么|你是谁|你是什么|怎么用你|"
    r"what can you do|who are you|what are you|how do i use (?:you|this))\s*[？?]?\s*$",
    re.IGNORECASE,
)
_PUNCT = r"[\s,，.。!！~～?？:：;；、…\-—]*"
_FILLER = re.compile(
    rf"^{_PUNCT}(?:啊|呀|哦|嗯|了|的|so much|a lot|very much)?{_PUNCT}$", re.IGNORECASE
)


def classify(message: str) -> Intent:
    """Classify a raw user message; 'knowledge' means it should go to retrieval."""
    text = message.strip()
    if _META.search(text):
        return "meta"
    if _HELP.match(text):
        return "help"
    for intent, pattern in _SOCIAL:
        m = pattern.match(text)
        if m and _FILLER.match(text[m.end():]):
            return intent
    return "knowledge"


_REPLIES: dict[Intent, dict[str, str]] = {
    "greeting": {
        "zh": "你好！我可以根据知识库回答问题，也能理解“它”“那…呢？”这样的追问。请问想了解什么？",
        "en": "Hello! I answer questions from the knowledge base and follow up on 'it', "
              "'what about…?' and the like. What would you like to know?",
    },
    "thanks": {"zh": "不客气！还有其他问题吗？", "en": "You're welcome! Anything else?"},
    "farewell": {"zh": "再见！对话已保存，下次可以接着聊。",
                 "en": "Goodbye! This conversation is saved; you can pick it up later."},
    "help": {
        "zh": "我是一个基于知识库的问答助手：回答问题并标注来源，能理解上下文里的指代和省略。",
        "en": "I am a question-answering assistant over a knowledge base: I cite my sources "
              "and understand follow-up questions that refer back to earlier turns.",
    },
}


def canned_reply(intent: Intent, lang: str) -> str:
    """The reply for a social intent (not 'meta' or 'knowledge', which need content)."""
    replies = _REPLIES.get(intent)
    if replies is None:
        raise ValueError(f"no canned reply for intent {intent!r}")
    return replies["zh" if lang == "zh" else "en"]
