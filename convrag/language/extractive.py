"""Answers and summaries without a model: pick sentences, never invent them.

The offline answer quotes the retrieved sentences that best cover the question's
content words, each with its [n] citation, and says plainly when none covers enough
of the question. The offline summary keeps each compacted turn as a question and the
first sentence of its answer, within a token budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from convrag.language.entities import extract_entities
from convrag.language.tokens import count_tokens, search_terms

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.])(?=\s)|\n+")


def split_sentences(text: str) -> list[str]:
    """Split Chinese and English text into sentences, dropping empty pieces."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")
_CLOSING_PUNCTUATION = tuple("。！？!?.；;：:…)）」\"'”")
# The longest line without closing punctuation still taken for a heading: a title is a
# few words ("Parental leave", "公司历史"); a longer unpunctuated line is more likely a
# sentence whose full stop a converter dropped, and such a line may well answer.
_HEADING_MAX_CJK_CHARS = 12
_HEADING_MAX_WORDS = 6


def is_heading(line: str) -> bool:
    """True for a Markdown heading or a short title line without closing punctuation."""
    line = line.strip()
    if _MARKDOWN_HEADING.match(line):
        return True
    if not line or line.endswith(_CLOSING_PUNCTUATION) or any(ch.isdigit() for ch in line):
        return False
    cjk = sum(1 for ch in line if "\u4e00" <= ch <= "\u9fff")
    if cjk:
        return len(line) <= _HEADING_MAX_CJK_CHARS
    return len(line.split()) <= _HEADING_MAX_WORDS


@dataclass(frozen=True)
class ExtractiveAnswer:
    """The answer text, the 1-based passage numbers it cites, and whether it answers."""

    text: str
    cited: tuple[int, ...]
    found: bool


NOT_FOUND = {
    "zh": "知识库中没有找到能回答“{q}”的内容。可以换个问法，或先导入相关文档。",
    "en": "The knowledge base has nothing that answers “{q}”. Try rephrasing it, or "
          "ingest documents that cover it.",
}


def extractive_answer(
    question: str,
    passages: Sequence[str],
    *,
    lang: str,
    titles: Sequence[str | None] = (),
    max_sentences: int = 3,
    min_coverage: float = 0.4,
) -> ExtractiveAnswer:
    """Quote the sentences of the best passage that answer `question`, citing [n].

    The passage comes first: the one whose words cover most of the question's
    IDF-weighted content words (IDF over the retrieved sentences), the search's rank
    breaking near-ties. Within it, a sentence scores by its own coverage, half the credit
    of the rest of its passage; one that has the form the question asks for (a number
    for "how many", a time for "what time", a date or deadline for "when", a frequency
    for "how often", a place for "where", a person or role for "who did…") comes before
    those that do not. Below `min_coverage` of the question's weight the answer is "not
    found". A quoted sentence whose subject is a pronoun ("They must be changed every 90
    days.") gets its referent's name: for "It"/"They" the agreeing subject of the
    sentence before, else the passage's title (`titles[n-1]`), else the first name its
    opening sentence gives.
    """
    not_found = ExtractiveAnswer(NOT_FOUND["zh" if lang == "zh" else "en"].format(q=question),
                                 (), False)
    query = set(search_terms(question)) - _QUESTION_FORM_WORDS
    if not query or not passages:
        return not_found
    sentences: list[tuple[int, int, str, frozenset[str]]] = []
    passage_terms: dict[int, frozenset[str]] = {}
    for number, passage in enumerate(passages, start=1):
        passage_terms[number], split = _passage_terms(passage)
        for position, (sentence, terms) in enumerate(split):
            sentences.append((number, position, sentence, terms))
    if not sentences:
        return not_found
    # Counted sentence by sentence: linear in the text, not query terms x sentences (a
    # 2,000-character question has a thousand terms).
    df = dict.fromkeys(query, 0)
    for *_, terms in sentences:
        for term in query & terms:
            df[term] += 1
    # A word no retrieved sentence has counts as if one had it: the retrieved sentences
    # are too few to tell a word they lack ("开门" where the text says "开放") from a rare
    # one, and at the highest weight of all it sank every passage below min_coverage.
    weight = {term: math.log(1 + len(sentences) / (1 + max(df[term], 1))) + 0.1
              for term in query}
    total = sum(weight.values())
    expects = _expected_answer(question)

    def coverage(terms: frozenset[str]) -> float:
        return sum(weight[t] for t in query & terms) / total

    best = max(passage_terms, key=lambda n: coverage(passage_terms[n]) + RANK_CREDIT / n)
    if coverage(passage_terms[best]) < min_coverage:
        return not_found

    def score(position: int, sentence: str, terms: frozenset[str]) -> float:
        # A sentence inherits half the credit of its passage's words: "She died in 1934"
        # answers "When did Marie Curie die?" in a passage about Marie Curie.
        inherited = coverage(passage_terms[best] - terms) / 2
        return coverage(terms) + inherited - 0.01 * position

    def fits(sentence: str) -> bool:
        return expects is not None and bool(expects.search(sentence))

    # Within the best passage a sentence of the form asked for (a date for "when", a
    # number for "how long") comes first; the others only join it if they have it too.
    candidates = [row for row in sentences if row[0] == best]
    # A heading names a topic, it does not answer: quote one only when the passage has
    # nothing else.
    candidates = [row for row in candidates if not is_heading(row[2])] or candidates
    scored = sorted(
        ((score(position, sentence, terms), position, sentence, terms)
         for _, position, sentence, terms in candidates),
        key=lambda row: (fits(row[2]), row[0]),
        reverse=True,
    )
    typed_answer = fits(scored[0][2])
    chosen: list[tuple[int, str]] = []
    covered: set[str] = set()
    for value, position, sentence, terms in scored:
        if len(chosen) >= max_sentences or value < 0.5 * scored[0][0]:
            break
        if chosen and not (terms & query) - covered:
            continue
        if chosen and typed_answer and not fits(sentence):
            continue
        chosen.append((position, sentence))
        covered |= terms & query
    # Keep the passage's own order so the quote reads naturally.
    chosen.sort()
    title = titles[best - 1] if len(titles) >= best else None
    quoted = [
        sentence if i > 0 and chosen[i - 1][0] == position - 1  # it follows its antecedent
        else _name_subject(sentence, _referent(passages[best - 1], title, position))
        for i, (position, sentence) in enumerate(chosen)
    ]
    joiner = "" if lang == "zh" else " "
    text = joiner.join(_cite(sentence, best) for sentence in quoted)
    return ExtractiveAnswer(text, (best,), True)


@lru_cache(maxsize=1024)
def _passage_terms(passage: str) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """A passage's search terms and its sentences with theirs.

    Cached: the same chunks come back turn after turn on a thread's topic, and jieba's
    search-mode cut of every sentence was most of an offline answer's time.
    """
    return frozenset(search_terms(passage)), tuple(
        (sentence, frozenset(search_terms(sentence))) for sentence in split_sentences(passage))


# How much a better search rank counts when choosing the passage (credit / rank): a
# passage ranked first wins unless another covers clearly more of the question.
RANK_CREDIT = 0.15

# Words of the question's form that survive as search terms: an answer says "全长6300公里"
# or "receive 25 days", never "多长", "how many" or "get", so they would only dilute
# coverage (the form is scored on its own). Worse, being rare in the passages, they get a
# high IDF: "How many vacation days do I get?" chose the passage that says "gets a
# laptop". Modal verbs ("must") say nothing about the topic either. English ones are
# stems, as search_terms gives them.
_QUESTION_FORM_WORDS = frozenset(
    "多长 多大 多高 多远 多久 多深 多重 多宽 哪年 哪里 哪儿 为何 何时 "
    "几点 几时 时候 之前 以前 "
    "mani much often get got must may might shall need"
    .split()
)
_EN_PRONOUN_SUBJECT = re.compile(r"^(?:He|She|It|They)\b(?=\s+[a-z])")
_ZH_PRONOUN_SUBJECT = re.compile(r"^(?:它们|他们|她们|它|他|她|其)")


# A sentence's subject: the words before its first auxiliary ("Passwords must…", "The
# cafeteria is…"), when they are a short noun phrase.
_EN_SUBJECT = re.compile(
    r"^(?P<np>(?:[A-Za-z][\w'’-]*\s+){0,4}?[A-Za-z][\w'’-]*)\s+"
    r"(?:is|are|was|were|must|can|may|will|should|has|have|had|needs?|gets?|stays?)\b"
)
_EN_NOT_A_SUBJECT = re.compile(
    r"^(?:it|they|he|she|this|that|these|those|there|here|we|you|i|each|every|all|some|"
    r"any|no|one)\b", re.IGNORECASE)


def _previous_subject(sentences: Sequence[str], position: int, pronoun: str) -> str | None:
    """The subject of the sentence before `position` when an English `It`/`They` opening
    that sentence agrees with it: "Passwords must be… They must be changed…"."""
    if position == 0 or pronoun not in ("It", "They"):
        return None
    m = _EN_SUBJECT.match(sentences[position - 1])
    if not m or _EN_NOT_A_SUBJECT.match(m.group("np")):
        return None
    subject = m.group("np")
    last = subject.split()[-1].lower()
    plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
    return subject if plural == (pronoun == "They") else None


def _referent(passage: str, title: str | None, position: int) -> str | None:
    """What a pronoun opening the `position`-th sentence of `passage` most likely names:
    for "It"/"They", the subject of the sentence before when it agrees; else the
    passage's title (as the passage writes it: "the cafeteria"), else the first name its
    opening sentence gives."""
    sentences = split_sentences(passage)
    if 0 < position < len(sentences):
        pronoun = _EN_PRONOUN_SUBJECT.match(sentences[position])
        subject = pronoun and _previous_subject(sentences, position, pronoun.group(0))
        if subject:
            return subject
    if title and title.strip():
        title = title.strip()
        # The title as the text says it, with its article: "The cafeteria is…", not
        # "Cafeteria is…".
        m = re.search(rf"\b(?:the\s+)?{re.escape(title)}\b", passage, re.IGNORECASE)
        return m.group(0) if m and m.group(0).lower().startswith("the ") else title
    opening = sentences[:1]
    if position == 0 or not opening:
        return None
    proper = [e for e in extract_entities(opening[0][:300]) if e.proper]
    if not proper:
        return None
    # Keep the article the passage gives the name: "the Danube", not "Danube".
    m = re.search(rf"\bthe\s+{re.escape(proper[0].text)}", opening[0], re.IGNORECASE)
    return f"the {proper[0].text}" if m else proper[0].text


def _name_subject(sentence: str, referent: str | None) -> str:
    """A sentence quoted on its own, its pronoun subject replaced by `referent`."""
    if referent is None:
        return sentence
    if _ZH_PRONOUN_SUBJECT.match(sentence):
        return _ZH_PRONOUN_SUBJECT.sub(referent, sentence, count=1)
    return _EN_PRONOUN_SUBJECT.sub(referent[:1].upper() + referent[1:], sentence, count=1)


_CLOCK = r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?|o'clock)|\bnoon\b|\bmidnight\b|" \
         r"\d{1,2}\s*[点时]|[一二三四五六七八九十]+点"
_MONTH = (r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
          r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b")
_WEEKDAY = (r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|\bweekdays?\b|\bweekends?\b|"
            r"星期|周[一二三四五六日末]")
_NUMBER = (r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
           r"fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion|"
           r"dozen|half|once|twice)\b|"
           # A lone 一 before a measure word is mostly the article "a" (一条大河).
           r"(?:[零两三四五六七八九十百千万亿半]|[一二三四五六七八九十][零一二三四五六七八九十百千万亿]+)"
           r"\s*(?:个|天|日|年|月|周|星期|小时|分钟|公里|千米|米|"
           r"元|块|次|人|倍|岁|位|名|种|项|张|台|页|字|家|所|条)")
# (what the question asks, the form of a sentence that answers it), first match wins.
# They are about the form, not the topic: a time for "what time", a number for "how
# many", a date or a deadline for "when", a place for "where", a person or a role for
# "who". A sentence of the form asked for is quoted before those that are not.
_EXPECTED = [
    (re.compile(r"\bwhat time\b|\b(?:opening|office|business|working) hours\b|几点|"
                r"营业时间|开放时间|办公时间", re.I),
     re.compile(_CLOCK, re.I)),
    (re.compile(r"how often|多久一次|多长时间一次|每隔多久|多频繁", re.I),
     re.compile(r"\bevery\b|\bper\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b|"
                r"\btimes a\b|\bonce\b|\btwice\b|每", re.I)),
    (re.compile(r"^\s*when\b|什么时候|哪一?年|何时|哪天|几月|几号|\bwhat (?:year|date|day)\b|"
                r"\bby when\b|\bhow soon\b|截止", re.I),
     # Case matters: "May" is a month, "may" is not.
     re.compile(r"\b1\d{3}\b|\b20\d{2}\b|\d+\s*(?:年|月|日|号|世纪)|\bcentury\b|"
                rf"{_MONTH}|{_WEEKDAY}|{_CLOCK}|"
                r"\b(?:until|before|after|within|by|during|since)\s+(?:the\s+)?(?:\d|[a-z]+\s+\d|"
                r"(?:first|last|next|end|start|beginning)\b)|\bevery\b|"
                r"之前|以前|之后|以后|以内|期间")),
    (re.compile(r"how (?:long|many|much|far|big|tall|high|old|large|deep|wide|heavy)|"
                r"多长|多少|多大|多高|多远|多久|多深|多重|多宽|几", re.I),
     re.compile(_NUMBER, re.I)),
    (re.compile(r"^\s*where\b|哪里|在哪|位于哪|哪儿", re.I),
     re.compile(r"\b(?:in|at|near|located|inside|beside|behind|through|from)\s+[A-Z]|"
                r"(?i:\b(?:in|at|on|near|inside|beside|behind|next to|through|via)\s+"
                r"(?:the\s+|a\s+|your\s+|our\s+)?(?:[\w-]+\s+){0,2}(?:floor|building|room|street|road|"
                r"avenue|office|campus|city|wing|hall|level|site|desk|portal|website|"
                r"page|intranet|center|centre)s?\b)|位于|坐落|在[\u4e00-\u9fff]{2,}")),
    # "Who approves…?" and "Who was the first director?" ask for a person; "Who was Marie
    # Curie?" and "她是谁？" ask what someone is, which any sentence about them answers.
    (re.compile(r"^\s*who\s+(?:(?:is|was|are|were)\s+(?:the|a|an|your|our|my)\b|"
                r"(?!(?:is|was|are|were)\b))|\bby whom\b|(?<!是)谁|哪位", re.I),
     re.compile(r"(?<=\s)[A-Z][a-z]+\s+[A-Z][a-z]+|\bby\s+(?:the\s+|your\s+|a\s+)?[\w-]+|"
                r"\b(?:manager|supervisor|director|head|lead|officer|administrator|team|"
                r"department|desk|committee|board|boss|owner|chair)s?\b|"
                r"由|负责|经理|主管|主任|部门|办公室|委员会")),
]


def _expected_answer(question: str) -> re.Pattern[str] | None:
    """A pattern for the form of answer the question asks for (a date, a number, a place)."""
    for asks, answer in _EXPECTED:
        if asks.search(question):
            return answer
    return None


def _cite(sentence: str, number: int) -> str:
    """Put the citation before the sentence's closing punctuation: "…之一[1]。"."""
    m = re.search(r"[。！？!?.；;]+$", sentence)
    if m:
        return f"{sentence[:m.start()]} [{number}]{m.group(0)}" if not _is_cjk_end(sentence) \
            else f"{sentence[:m.start()]}[{number}]{m.group(0)}"
    return f"{sentence} [{number}]"


def _is_cjk_end(sentence: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff\d][。！？；]*$", sentence)) and bool(
        re.search(r"[。！？；]$", sentence))


def extractive_summary(
    previous: str, turns: Sequence[tuple[str, str]], *, lang: str, budget_tokens: int
) -> str:
    """Extend `previous` with one line per (question, answer) turn, within a budget.

    When the budget is exceeded the oldest lines go first: the entities people refer
    back to are kept separately in the graph state, so the summary can afford to forget.
    """
    lines = [line for line in previous.splitlines() if line.strip()]
    for question, answer in turns:
        first = split_sentences(answer)[:1]
        gist = re.sub(r"\s*\[\d+\]", "", first[0]) if first else ""
        if lang == "zh":
            lines.append(f"用户问：{question.strip()} 答：{gist}".strip())
        else:
            lines.append(f"User asked: {question.strip()} Answer: {gist}".strip())
    while len(lines) > 1 and count_tokens("\n".join(lines)) > budget_tokens:
        lines.pop(0)
    return "\n".join(lines)
