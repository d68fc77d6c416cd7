"""Rule-based routing: does a message need the knowledge base at all?

Greetings, thanks, farewells, acknowledgements ("ok", "好的") and questions about the
conversation itself are answered without retrieval. Small talk is recognised by what it
is made of, not by a fixed list of whole messages: an utterance made only of small-talk
phrases, interjections and punctuation ("ok thanks, bye", "好的，再见", "嗯嗯 谢谢啦～")
is small talk in either language. Anything with content beyond them is a knowledge
question ("谢谢！那亚马逊河呢？" still retrieves).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from convrag.language.tokens import zh_cut

Intent = Literal[
    "greeting", "thanks", "farewell", "acknowledgement", "meta", "help", "knowledge"
]

# The phrases small talk is made of, by what they do. Matched case-insensitively, an
# English phrase only as whole words; a message may string several together.
_SMALL_TALK: dict[Intent, tuple[str, ...]] = {
    "greeting": (
        "你好", "您好", "大家好", "嗨", "哈喽", "哈罗", "早上好", "上午好", "中午好", "下午好",
        "晚上好", "早安", "早", "hi", "hello", "hey", "hiya", "howdy", "good morning",
        "good afternoon", "good evening", "greetings",
    ),
    "thanks": (
        "谢谢", "多谢", "感谢", "非常感谢", "太感谢了", "谢啦", "谢了", "辛苦了", "thanks",
        "thank you", "thank u", "thx", "ty", "cheers", "much appreciated", "appreciate it",
        "many thanks", "thanks for your help", "thanks for the help", "thank you for your help",
    ),
    "farewell": (
        "再见", "拜拜", "拜", "回头见", "下次见", "明天见", "晚安", "bye", "bye bye", "goodbye",
        "good bye", "see you", "see ya", "see you later", "see you soon", "farewell",
        "good night", "take care", "have a nice day", "have a good day", "that's all",
        "that is all",
    ),
    "acknowledgement": (
        "好的", "好", "好吧", "行", "行吧", "可以", "没问题", "嗯", "哦", "噢", "喔", "明白",
        "明白了", "知道了", "懂了", "了解", "了解了", "收到", "好嘞", "太好了", "不错", "很好",
        "棒", "太棒了", "真棒", "ok", "okay", "okey", "k", "kk", "great", "cool", "nice", "good",
        "perfect", "awesome", "alright", "all right", "got it", "i see", "understood",
        "noted", "sure", "fine", "sounds good", "makes sense", "wonderful", "excellent",
        "fantastic", "helpful", "useful", "interesting", "that helps", "this helps",
        "that helped", "good to know", "no worries", "no problem", "有帮助", "很有帮助",
        "原来如此", "明白啦", "懂啦", "知道啦",
    ),
}
# Words that go with small talk without changing what it is ("thanks so much", "谢谢你啦",
# "oh ok"); a message of these alone ("yes", "啊") is not small talk.
_FILLERS = (
    "啊", "呀", "哦", "啦", "了", "哈", "哈哈", "嘛", "咯", "喽", "哟", "吧", "呢", "你", "您",
    "非常", "很", "真", "大家", "so much", "a lot", "very much", "again", "all", "then",
    "for now", "there", "oh", "ah", "wow", "well", "yes", "yeah", "yep", "no", "nope", "and",
    "earlier", "before", "today",
    # "That's helpful", "it was useful": the words around an acknowledgement.
    "that's", "that is", "that was", "this is", "it's", "it is", "it was", "really", "very",
)
_KIND: dict[str, Intent | None] = {
    **{filler: None for filler in _FILLERS},
    **{phrase: kind for kind, phrases in _SMALL_TALK.items() for phrase in phrases},
}


def _phrase_pattern(phrase: str) -> str:
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    # An English phrase ends at a word's end: "hi" is no greeting inside "his".
    return words + (r"(?![a-z0-9'])" if phrase[-1].isascii() and phrase[-1].isalnum() else "")


# Longest first, so that the scan takes "好的" before "好" and "bye bye" before "bye".
_PHRASE = re.compile(
    "|".join(_phrase_pattern(p) for p in sorted(_KIND, key=len, reverse=True)), re.IGNORECASE
)
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
# When a message mixes kinds, the reply answers the one that ends or steers the talk most:
# "ok thanks, bye" is a farewell, "hi, thanks" thanks.
_PRECEDENCE: tuple[Intent, ...] = ("farewell", "thanks", "greeting", "acknowledgement")


def _separator(char: str) -> bool:
    """Punctuation, symbols (emoji, "~", "^_^"), spaces and invisible characters."""
    return unicodedata.category(char)[0] in "PSZC"


def small_talk(message: str) -> Intent | None:
    """The small-talk intent of a message made only of small-talk phrases, else None.

    One left-to-right scan taking the longest phrase at each word, so the cost is linear
    in the message and stops at its first word of content.
    """
    text = message.replace("’", "'")
    kinds: set[Intent] = set()
    position = 0
    while position < len(text):
        if _separator(text[position]):
            position += 1
            continue
        match = _PHRASE.match(text, position)
        if match is None:
            return None
        kind = _KIND[" ".join(match.group(0).lower().split())]
        if kind is not None:
            kinds.add(kind)
        position = match.end()
    return next((kind for kind in _PRECEDENCE if kind in kinds), None)


def classify(message: str) -> Intent:
    """Classify a raw user message; 'knowledge' means it should go to retrieval."""
    text = message.strip()
    if _META.search(text):
        return "meta"
    if _HELP.match(text):
        return "help"
    return small_talk(text) or "knowledge"


_REPLIES: dict[Intent, dict[str, str]] = {
    "greeting": {
        "zh": "你好！我可以根据知识库回答问题，也能理解“它”“那…呢？”这样的追问。请问想了解什么？",
        "en": "Hello! I answer questions from the knowledge base and follow up on 'it', "
              "'what about…?' and the like. What would you like to know?",
    },
    "thanks": {"zh": "不客气！还有其他问题吗？", "en": "You're welcome! Anything else?"},
    "farewell": {"zh": "再见！对话已保存，下次可以接着聊。",
                 "en": "Goodbye! This conversation is saved; you can pick it up later."},
    "acknowledgement": {"zh": "好的！还有其他想了解的吗？",
                        "en": "Glad to help. Anything else you would like to know?"},
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


_STOCK = frozenset(reply for replies in _REPLIES.values() for reply in replies.values())
# The first sentence of a reply that says the knowledge base lacks the answer: the offline
# not-found sentence (this version's and earlier wordings) and what a model says when
# told to "say plainly that the knowledge base does not have it".
_NO_ANSWER = re.compile(
    r"\bknowledge base (?:has nothing|has no\b|does not|doesn't|did not|didn't|lacks|"
    r"contains no|holds no)|\b(?:nothing|no information|no answer) (?:in|from) the "
    r"knowledge base|"
    r"知识库(?:中|里)?(?:没有|并没有|未|找不到|不包含)",
    re.IGNORECASE,
)
# The sentences refusing a question (convrag.language.checks.question_problem).
_REFUSAL = re.compile(r"^The question is (?:empty|\d+ characters long)")


def answers_nothing(reply: str) -> bool:
    """Whether an assistant reply, given as plain text, answers nothing from the knowledge
    base: a canned reply, a refusal of the input, or one whose first sentence says the
    knowledge base lacks the answer. Its words are then the assistant's own, never what a
    later "it" or "它" refers to. The graph marks its replies (see the answer node); this
    is for histories that arrive as text."""
    text = reply.strip()
    if not text or text in _STOCK or _REFUSAL.match(text):
        return True
    first = re.split(r"(?<=[。！？.!?])\s*", text, maxsplit=1)[0][:300]
    return bool(_NO_ANSWER.search(first))


GIBBERISH_MIN_CHARS = 4
"""Fewer ideographs than this are never taken for gibberish: "他是谁" is three words of one
character each, and a short run of rare characters can be a name."""
COMMON_CHAR_FREQ = 1000
"""A character jieba's dictionary counts this often as a word of its own (是, 他, 谁: tens
or hundreds of thousands) is a word of the language; random ideographs are counted a few
times or never."""
_IDEOGRAPH = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LATIN_LETTER = re.compile("[A-Za-z]")


def gibberish(message: str) -> bool:
    """Whether a message is ideographs that make no words: at least `GIBBERISH_MIN_CHARS`
    of them, none in a dictionary word of two or more characters, most not even a word
    on their own, and no Latin word beside them ("鬱鬰齉龘靐", "㐀㐁㐂𠀀𠀁𪚥").

    Such a message is still searched for, but names nothing a later question can refer
    to, and refers to nothing itself. Linear: one dictionary cut (cached, the resolver
    cuts the same text) and one look-up per character.
    """
    ideographs = _IDEOGRAPH.findall(message)
    if len(ideographs) < GIBBERISH_MIN_CHARS or _LATIN_LETTER.search(message):
        return False
    if any(len(word) > 1 and _IDEOGRAPH.search(word) for word in zh_cut(message)):
        return False
    import jieba  # loaded and initialised by the cut above

    freq = jieba.dt.FREQ
    common = sum(1 for char in ideographs if freq.get(char, 0) >= COMMON_CHAR_FREQ)
    return common * 3 <= len(ideographs)

