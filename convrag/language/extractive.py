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
from convrag.language.tokens import count_tokens, en_words, has_cjk, search_terms

# Sentence ends and line breaks only: a clause cut at ";" reads as a fragment when quoted.
# The full stop of a title before a name ("Mr. Weber", "Dr. Lee") ends no sentence.
_ABBREVIATIONS = "".join(rf"(?<!\b{re.escape(a)})" for a in (
    "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "e.g.", "i.e.", "vs.", "No."))
_SENTENCE_END = re.compile(rf"(?<=[。！？!?])|(?<=[.]){_ABBREVIATIONS}(?=\s)|\n+")


def split_sentences(text: str) -> list[str]:
    """Split Chinese and English text into sentences (at . ! ? 。！？ and line breaks),
    dropping empty pieces."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")
_CLOSING_PUNCTUATION = tuple("。！？!?.；;：:…)）」\"'”")
# The longest line without closing punctuation still taken for a heading: a title is a
# few words ("Parental leave", "公司历史"); a longer unpunctuated line is more likely a
# sentence whose full stop a converter dropped, and such a line may well answer.
_HEADING_MAX_CJK_CHARS = 12
_HEADING_MAX_WORDS = 6


# A digit inside a word is a model name ("S12", "K9"), part of a title; a free-standing
# number ("costs 6 euros", "9:00") is a fact, and a line with one may answer.
def is_heading(line: str, title: str | None = None) -> bool:
    """True for a Markdown heading, the document's `title` itself, or a short title line
    without closing punctuation (a model number such as "S12" may be part of it)."""
    line = line.strip()
    if _MARKDOWN_HEADING.match(line):
        return True
    if title and line.lstrip("#").strip().casefold() == title.strip().casefold():
        return True
    if not line or line.endswith(_CLOSING_PUNCTUATION) or _has_free_number(line):
        return False
    cjk = sum(1 for ch in line if "\u4e00" <= ch <= "\u9fff")
    if cjk:
        return len(line) <= _HEADING_MAX_CJK_CHARS
    return len(line.split()) <= _HEADING_MAX_WORDS


# Digits glued to letters on either side ("S12", "4K", "X3") belong to a name.
_FREE_NUMBER = re.compile(r"(?<![A-Za-z\d])\d+(?:[.:,]\d+)*(?![A-Za-z\d])")


def _has_free_number(line: str) -> bool:
    return _FREE_NUMBER.search(line) is not None


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
    """Quote the sentences that answer `question` from the best passage, citing [n].

    Words are weighted by IDF over the retrieved sentences. A topic the resolver put in
    front ("X: how long…?") helps choose the passage; the user's own words decide the rest.
    The passages that may answer cover `min_coverage` of the question's weight, and as much
    of its key words (those that are not light verbs such as "use", 提供, nor the passage's
    own subject: "When did X die?" finds nothing in a passage about X that never says so),
    all of what an "Is there…?" asks exists and the action of "Can I…?", and come near the
    best one (coverage plus a credit for search rank). Among their sentences (never a
    heading), one of the form the question asks for comes first (a currency amount, then any
    number, for "how much"; a number for "how many/long"; a time, date, frequency, place,
    person, or an instruction for "how do I"); then the one that covers most of the question
    itself, with half the credit of the rest of its passage, more when the question's words
    are its subject ("The trial period lasts…" over "…once their trial period is over") or
    stand side by side in it. A sentence of the form asked for stands alone (an instruction
    keeps its next steps); otherwise later sentences of its paragraph join it when they add
    a question word beyond the passage's subject, and none from before it.

    A quoted sentence is whole; one a chunk cut starts with a capital and ends with a full
    stop. A he/she/他/她 subject is named only by the agreeing person's name that is the
    subject of an earlier sentence of the passage; an it/they/它 subject by the agreeing
    subject of the sentence before, else by the title when it names a thing, else by the
    first name the passage's opening sentence gives.
    """
    not_found = ExtractiveAnswer(NOT_FOUND["zh" if lang == "zh" else "en"].format(q=question),
                                 (), False)
    query = _content_terms(question)
    if not query or not passages:
        return not_found
    # "Aurora K2: how long is the warranty?": the resolver's topic is a guess; the words
    # the user typed carry the question's form and what must be covered.
    own_words = _own_words(question)
    own_terms = _content_terms(own_words) & query or query
    sentences: list[tuple[int, int, str, frozenset[str]]] = []
    passage_terms: dict[int, frozenset[str]] = {}
    heads: dict[tuple[int, int], frozenset[str]] = {}
    # A Chinese word of the question is in a sentence that has its characters, however
    # jieba cut the sentence ("出生" in "1968年出生于苏州", cut as 年出/生于). Bounded: a
    # question of more words than that is no question of a few words cut differently.
    spelled = [t for t in query if len(t) > 1 and has_cjk(t)]
    spelled = spelled if len(spelled) <= _MAX_SPELLED else []
    for number, passage in enumerate(passages, start=1):
        terms_of_passage, split = _passage_terms(passage)
        passage_terms[number] = terms_of_passage | {t for t in spelled if t in passage}
        for position, (sentence, terms, head) in enumerate(split):
            terms = terms | {t for t in spelled if t in sentence} if spelled else terms
            sentences.append((number, position, sentence, terms))
            heads[number, position] = head
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
    key = frozenset(t for t in own_terms if t not in _LIGHT_VERBS) or own_terms
    # "Is there a car park?", "图书馆有停车场吗？": what the question asks exists must be
    # in the passage; the library it is asked of is not enough.
    asked = _asked_exists(own_words) & query
    action = _asked_action(own_words) & query
    forms = _answer_forms(own_words)
    title_of = {n: (titles[n - 1] if len(titles) >= n else None) for n in passage_terms}
    subject_of = {n: _subject_terms(passages[n - 1], title_of[n]) for n in passage_terms}
    # The title is indexed with every chunk: its words are the passage's too.
    passage_terms = {n: terms | _terms(title_of[n] or "")
                     for n, terms in passage_terms.items()}

    def predicate(n: int) -> frozenset[str]:
        # What the question says of its subject: a passage about Helena Ortega covers
        # "Helena Ortega" in "When did Helena Ortega die?" by being about her; only "die"
        # tells whether it answers. A question of its subject alone ("Who is X?") keeps it.
        return key - subject_of[n] - _PRICE_WORDS or key

    def coverage(terms: frozenset[str], among: frozenset[str] = query) -> float:
        return sum(weight[t] for t in among & terms) / sum(weight[t] for t in among)

    def standing(n: int) -> float:
        return coverage(passage_terms[n]) + RANK_CREDIT / n

    eligible = [n for n in passage_terms
                if coverage(passage_terms[n]) >= min_coverage
                and coverage(passage_terms[n], predicate(n)) >= min_coverage
                # "Is there a pension plan?": a plan is not a pension plan.
                and asked <= passage_terms[n]
                # "Can I freeze the bread?": a passage on the bread that never says
                # "freeze" does not answer it.
                and action <= passage_terms[n]]
    if not eligible:
        return not_found
    top = max(standing(n) for n in eligible)
    eligible = [n for n in eligible if standing(n) >= top - PASSAGE_MARGIN]

    # A sentence answers what the user typed: the resolver's topic chose the passage.
    asks = own_terms
    named = {n: _terms(title_of[n] or "") for n in passage_terms}

    def score(number: int, position: int, sentence: str, terms: frozenset[str]) -> float:
        # A sentence inherits half the credit of its passage's words: "She died in 1934"
        # answers "When did Marie Curie die?" in a passage about Marie Curie.
        # And every sentence is about what its passage is about: "The warranty lasts two
        # years" answers "How long is the Aurora K2's warranty?" as much as the sentence
        # that introduces the Aurora K2 does.
        terms = terms | subject_of[number]
        inherited = coverage(passage_terms[number] - terms, asks) / 2
        # The document's name opening a sentence ("Maple Street Clinic is open…") is no
        # sign that the sentence is about what is asked.
        about = SUBJECT_CREDIT * coverage(heads[number, position] - named[number], asks)
        # The name of what the passage is about is a phrase of every sentence of it.
        said = sum(1 for pair in phrases
                   if set(pair) <= subject_of[number] or pair in _pairs(sentence))
        phrase = PHRASE_CREDIT * said / len(phrases) if phrases else 0.0
        return (coverage(terms, asks) + inherited + about + phrase + RANK_CREDIT / number
                - 0.01 * position)

    # The user's own words: a date in a sentence that only has the resolver's topic
    # ("annual leave: when is a doctor's note required?") answers nothing they asked.
    own = {(n, p): bool(terms & own_terms) for n, p, _, terms in sentences}
    terms_of = {(n, p): terms for n, p, _, terms in sentences}
    goal = _how_to_goal(own_words)
    phrases = frozenset(pair for pair in _pairs(own_words)
                        if set(pair) & query and not set(pair) & _QUESTION_FORM_WORDS)

    def fit(number: int, position: int, sentence: str) -> int:
        # The form counts in a sentence that has a word of the question, or follows one
        # that has ("…续航120公里。售价3299元。"): a date in a sentence about something
        # else answers nothing.
        if not (own[number, position] or own.get((number, position - 1), False)):
            return 0
        return next((len(forms) - i for i, form in enumerate(forms) if form.search(sentence)
                     # "To export a note, …" is no way to sync one
                     and not (form is _PURPOSE and goal and not goal & terms_of[number, position])),
                    0)

    candidates = [row for row in sentences
                  if row[0] in eligible and not is_heading(row[2], title_of[row[0]])]
    if not candidates:
        return not_found
    scored = sorted(
        ((fit(n, position, sentence), score(n, position, sentence, terms), n, position, sentence,
          terms)
         for n, position, sentence, terms in candidates),
        key=lambda row: (row[0], row[1]),
        reverse=True,
    )
    typed_answer, best_value, best = scored[0][0], scored[0][1], scored[0][2]
    if forms and not typed_answer and not _content_terms(own_words):
        # "How often?", "多少钱？": the user's words are the form alone, so a sentence
        # without it answers nothing they asked.
        return not_found
    first_position = scored[0][3]
    paragraph = _paragraphs(passages[best - 1])
    section_end = next((p for n, p, sentence, _ in sentences
                        if n == best and p > first_position and (
                            is_heading(sentence) or paragraph[p] != paragraph[first_position])),
                       len(sentences))
    steps = bool(forms) and forms[0].pattern == _PURPOSE.pattern
    chosen: list[tuple[int, str]] = []
    covered: set[str] = set()
    for form, value, n, position, sentence, terms in scored:
        if len(chosen) >= max_sentences or value < 0.5 * best_value:
            break
        if n != best or (chosen and not (terms & query) - covered):
            continue
        if chosen and not (first_position < position < section_end):
            # What comes before the answer introduces it ("The Aurora K2 is a 1.7 litre
            # kettle."): quoted in front, it reads as the answer and the answer as an
            # afterthought (a pronoun of the answer is named instead, _name_subject). What
            # comes later joins only from the answer's own paragraph: under another heading
            # or in another paragraph it is about something else that shares a word with
            # the question ("…three times" is no keep-warm time).
            continue
        if chosen and typed_answer:
            # The sentence of the form asked for answers; another one of the form is a
            # second answer to choose from, not a part of it. Only the steps that follow
            # an instruction go with it ("…open the settings. Tap Export.").
            if not (steps and form):
                continue
        elif chosen and not (terms & predicate(n)) - covered - subject_of[n]:
            # Naming the passage's subject again ("The S8 is a robot vacuum.") adds
            # nothing to the sentence that answers.
            continue
        chosen.append((position, sentence))
        covered |= terms & query
    # Keep the passage's own order so the quote reads naturally.
    chosen.sort()
    passage = passages[best - 1]
    quoted = [
        sentence if i > 0 and chosen[i - 1][0] == position - 1  # it follows its antecedent
        else _name_subject(sentence, _referent(passage, title_of[best], position))
        for i, (position, sentence) in enumerate(chosen)
    ]
    joiner = "" if lang == "zh" else " "
    text = joiner.join(_cite(_whole(sentence), best) for sentence in quoted)
    return ExtractiveAnswer(text, (best,), True)


@lru_cache(maxsize=4096)
def _pairs(text: str) -> frozenset[tuple[str, str]]:
    """The adjacent pairs of a text's words: "probation period" in "a probation period of
    four months", not in "during probation the notice period". English keeps its little
    words but articles ("after probation" is not "during probation"); Chinese pairs its
    search terms."""
    if has_cjk(text):
        terms = search_terms(text)
    else:
        terms = [(search_terms(w) or [w])[0] for w in en_words(text) if w not in _ARTICLES]
    terms = [_SAME_WORD.get(t, t) for t in terms]
    return frozenset(zip(terms, terms[1:], strict=False))


_ARTICLES = frozenset(("a", "an", "the"))


@lru_cache(maxsize=1024)
def _paragraphs(passage: str) -> tuple[int, ...]:
    """The paragraph (blank-line separated) of each of a passage's sentences; all in one
    when the two splits disagree on the count."""
    numbers = tuple(number for number, paragraph in enumerate(re.split(r"\n\s*\n", passage))
                    for _ in split_sentences(paragraph))
    count = len(split_sentences(passage))
    return numbers if len(numbers) == count else (0,) * count


@lru_cache(maxsize=1024)
def _passage_terms(
    passage: str,
) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str], frozenset[str]], ...]]:
    """A passage's search terms, and its sentences with theirs and their opening's.

    Cached: the same chunks come back turn after turn on a thread's topic, and jieba's
    search-mode cut of every sentence was most of an offline answer's time.
    """
    return _terms(passage), tuple(
        (sentence, _terms(sentence), _terms(_opening(sentence)))
        for sentence in split_sentences(passage))


def _opening(sentence: str) -> str:
    """Where a sentence's subject is: its first five words, or first eight characters in
    Chinese, before any comma."""
    if has_cjk(sentence):
        return re.split(r"[，,、；;：:]", sentence, maxsplit=1)[0][:8]
    clause = re.split(r"[,;:]", sentence, maxsplit=1)[0]
    # "During probation the notice period is two weeks": the subject is the notice period.
    clause = _LEADING_ADVERBIAL.sub("", clause, count=1)
    return " ".join(clause.split()[:5])


# A prepositional phrase opening a sentence without a comma, up to the determiner or
# pronoun that starts the subject.
_LEADING_ADVERBIAL = re.compile(
    r"^(?:During|In|On|At|After|Before|For|From|Within|Throughout|Until|Since|Outside|"
    r"Inside|Under|Over)\s+(?:(?:the|a|an|this|that|these|your|our|their|its)\s+)?"
    r"(?:\S+\s+){0,3}?(?=(?:the|a|an|your|our|their|its|his|her|"
    r"this|these|those|each|every|all|she|he|they|it|we|you|i)\b)", re.IGNORECASE)


# The most Chinese words of a question looked up by their characters in every sentence.
_MAX_SPELLED = 32

# How much a better search rank counts when choosing the passage (credit / rank): a
# passage ranked first wins unless another covers clearly more of the question.
RANK_CREDIT = 0.15

# How far below the best passage (coverage plus rank credit) another may be and still
# offer its sentences: a passage ranked second that covers the question as well as the
# first (both say "trial period") may hold the sentence of the form asked for, one that
# covers clearly less may not. 0.2 is a bit more than the first two ranks' difference in
# credit (0.075) plus a light word's share.
PASSAGE_MARGIN = 0.2

# The credit for a sentence whose opening (its subject) has the question's words: it is
# about what is asked, where one naming it later mentions it in passing ("Staff may work
# from home once their trial period is over"). More than the rank credit between the
# first two passages, less than a content word's share.
SUBJECT_CREDIT = 0.2

# The credit for a sentence that has the question's words side by side as it has them
# ("a probation period of four months" for "How long is the probation period?"), times the
# share of the question's adjacent word pairs it has: a phrase of the question is more
# than its words scattered over a sentence ("During probation the notice period…"). As
# much as the subject credit, so a sentence that has the phrase is not outranked by one
# that opens with one of its words.
PHRASE_CREDIT = 0.2

# Words of the question's form that survive as search terms: an answer says "全长6300公里"
# or "receive 25 days", never "多长", "how many" or "get", so they would only dilute
# coverage (the form is scored on its own). Worse, being rare in the passages, they get a
# high IDF: "How many vacation days do I get?" chose the passage that says "gets a
# laptop". Modal verbs ("must") say nothing about the topic either. English ones are
# stems, as search_terms gives them.
_QUESTION_FORM_WORDS = frozenset(
    "多长 多大 多高 多远 多久 多深 多重 多宽 哪年 哪里 哪儿 为何 何时 "
    "几点 几时 时候 之前 以前 几天 几个 几年 几次 几岁 几位 几种 几名 几家 几项 几条 几周 多少 钱 "
    "几月 几号 哪天 哪个 哪些 哪种 谁 哪位 多 大 长 时间 长时间 多长时间 "
    "mani much often get got must may might shall need"
    .split()
)

# What a price question asks for, not what it is about: an amount in a sentence about
# the thing asked of answers it ("It sells for 39 euros" answers "What does the K9 cost?").
_PRICE_WORDS = frozenset("cost price fee charg 价格 价钱 售价 费用 收费 票价".split())

# The adjective of "how long/far/big…" asks for a measure; the answer gives the measure
# ("lasts three months"), rarely the adjective, which would only dilute coverage.
_HOW_ADJECTIVE = re.compile(
    r"\b(how\s+)(?:long|far|big|tall|high|old|large|deep|wide|heavy|soon)\b", re.IGNORECASE)

# Verbs that say little about a topic: "Do you use cookies?" is about cookies, and a
# passage that only "uses" something does not answer it. A question needs some of its
# other words covered. English ones are stems, as search_terms gives them.
_LIGHT_VERBS = frozenset(
    "use do make have get go take give need want find see know say tell help work "
    "provid offer includ allow let come keep put happen "
    "使用 用 有 是 做 要 需要 可以 能 会 提供 支持 进行 包括 包含 允许"
    .split()
)


# Questions whether something exists or is offered, and the thing asked about.
_EXISTS = re.compile(
    r"^\s*(?:is|are)\s+there\s+(?:a|an|any|some)?\s*(?P<en>[^?]+)|"
    r"^\s*(?:do|does|can)\s+(?:you|we|they|i|the\s+\w+|(?-i:[A-Z][\w-]*))\s+"
    r"(?:have|offer|sell|provide|"
    r"accept|use|get)\s+(?:a|an|any|some)?\s*(?P<en2>[^?]+)|"
    r"有没有(?P<zh>[^？?吗呢，,]{1,8})|有(?P<zh2>[^？?吗呢，,]{1,8})[吗呢]", re.IGNORECASE)


def _asked_exists(question: str) -> frozenset[str]:
    """The search terms of what a question asks exists ("a car park", 停车场), if any."""
    m = _EXISTS.search(question)
    if m is None:
        return frozenset()
    thing = next(g for g in m.groups() if g)
    return frozenset(search_terms(thing))


# A yes/no question about doing something, and the doing: "Can I freeze it?", "Does the
# desk support Linux?".
_ACTION = re.compile(
    r"^\s*(?i:can|could|may|should|do|does|did|will)\s+(?:i|I|we|you|they|one|it|he|she|"
    r"[A-Z][\w-]*|(?:the|my|our|your)\s+[\w-]+)\s+(?P<verb>[a-z]+)\b(?!\s+(?:to|be)\b)")


def _asked_action(question: str) -> frozenset[str]:
    """The search term of the action a yes/no question asks about, unless a light verb."""
    m = _ACTION.search(question)
    if m is None:
        return frozenset()
    return frozenset(t for t in _content_terms(m.group("verb")) if t not in _LIGHT_VERBS)


_HOW_TO_VERB = re.compile(
    r"^\s*how\s+(?:do|can|should|could|would)\s+(?:i|we|you|one)\s+(?P<verb>[a-z]+)|"
    r"^\s*how\s+to\s+(?P<verb2>[a-z]+)", re.IGNORECASE)


def _how_to_goal(question: str) -> frozenset[str]:
    """The search term of what a how-to question wants done ("sync" in "How do I sync my
    notes?"), unless a light verb."""
    m = _HOW_TO_VERB.search(question)
    if m is None:
        return frozenset()
    return frozenset(t for t in _content_terms(m.group("verb") or m.group("verb2"))
                     if t not in _LIGHT_VERBS)


def _content_terms(question: str) -> frozenset[str]:
    """The question's search terms without the words of its form, each action verb of a
    how-to question in its group's one spelling (see `_SAME_ACTION`)."""
    question = _ZH_FORM.sub("，", _HOW_ADJECTIVE.sub(r"\1", question))
    terms = frozenset(search_terms(question)) - _QUESTION_FORM_WORDS
    return frozenset(_SAME_WORD.get(t, t) for t in terms)


# Chinese question words set apart before the cut: jieba joins them to the next word
# ("多少天年假" → 天年/假, and "天年" is a word of "二十天年假" but not of "十五天带薪年假").
_ZH_FORM = re.compile(r"多少钱|多长时间|哪一?年|哪一?天|哪[所家个位种里儿]人?|"
                      r"(?:多少|几)[天个年次岁位种名家所项条周台张页月号点]?|"
                      r"多久|多长|多大|什么时候|哪里|哪儿")


def _terms(text: str) -> frozenset[str]:
    """A passage's or sentence's search terms, spelled as `_content_terms` spells them."""
    return frozenset(_SAME_WORD.get(t, t) for t in search_terms(text))


# Verbs that name one action in instructions: "How do I reset my password?" is answered by
# "To change your password, open…". Few and unambiguous on purpose (a wrong equivalence
# quotes a wrong sentence): each group is one action on the same object. Stems, as
# search_terms gives them.
_SAME_ACTION = {
    "reset": "chang", "modifi": "chang", "修改": "更改", "重置": "更改",
    "remov": "delet", "移除": "删除",
    "termin": "cancel", "退订": "取消",
}

# Irregular past forms, which the stemmer leaves as they are: "He taught at…" answers
# "Where did he teach?". Only forms that are no other word ("found", "left", "saw" are).
# Stems, as search_terms gives them.
_IRREGULAR = dict(pair.split(":") for pair in (
    "taught:teach wrote:write written:write won:win built:build led:lead sold:sell "
    "bought:buy began:begin begun:begin grew:grow grown:grow held:hold kept:keep met:meet "
    "paid:pay ran:run sent:send spent:spend stood:stand thought:think took:take taken:take "
    "went:go gone:go gave:give given:give came:come becam:becom knew:know known:know "
    "chose:choos chosen:choos drove:drive driven:drive flew:fli flown:fli spoke:speak "
    "spoken:speak told:tell brought:bring caught:catch fought:fight sought:seek lost:lose "
    "heard:hear ate:eat eaten:eat drew:draw drawn:draw broke:break broken:break "
    "forgot:forget forgotten:forget sang:sing sung:sing swam:swim swum:swim "
    "struck:strike taught:teach understood:understand wore:wear worn:wear".split()))
_SAME_WORD = {**_IRREGULAR, **_SAME_ACTION}

# A resolver's topic before the question ("Aurora K2: how long is the warranty?"): a few
# words without sentence punctuation, then the question as typed, lower-cased.
_TOPIC_PREFIX = re.compile(r"^[^:：?？。.!！\n]{1,60}?[:：]\s*(?=\S)")


def _own_words(question: str) -> str:
    """The question without a topic the resolver put before it."""
    m = _TOPIC_PREFIX.match(question)
    if m is None or len(m.group(0).split()) > 7:
        return question
    return question[m.end():]


def _subject_terms(passage: str, title: str | None) -> frozenset[str]:
    """What a passage is about: its title's words and the subject of its first sentence
    ("The Aurora K2 is…", "星尘S8是…"); every sentence of it is about them. Only the
    subject: the rest of that sentence may be what is asked ("The kiln fires clay at
    1,200 degrees" answers how hot the kiln fires clay)."""
    subject = _terms(title) if title else frozenset()
    opening = next((s for s in split_sentences(passage) if not is_heading(s, title)), "")
    return subject | _terms(_first_subject(opening))


# A Chinese sentence's subject before its verb of being: "星尘S8是一款…", "云溪镇位于…".
_ZH_SUBJECT = re.compile(r"^([^，。！？、；：\s]{1,10}?)(?:是|为|位于|坐落于)")


def _first_subject(sentence: str) -> str:
    """The subject of a passage's first sentence, when it is plain to see, else ""."""
    if has_cjk(sentence):
        m = _ZH_SUBJECT.match(sentence)
        return m.group(1) if m else ""
    m = _EN_SUBJECT.match(sentence) or _EN_SUBJECT_VERB.match(sentence)
    if not m or _EN_NOT_A_SUBJECT.match(m.group("np")):
        return ""
    return m.group("np")


_EN_PRONOUN_SUBJECT = re.compile(r"^(?:He|She|It|They)\b(?=\s+[a-z])")
_ZH_PRONOUN_SUBJECT = re.compile(r"^(?:它们|他们|她们|它|他|她|其)")
# Personal pronouns: named only by a person's name, never by a title.
_PERSONAL = {"He": "male", "She": "female", "他": "male", "她": "female"}


# A sentence's subject: the words before its first auxiliary ("Passwords must…", "The
# cafeteria is…"), when they are a short noun phrase.
_EN_SUBJECT = re.compile(
    r"^(?P<np>(?:[A-Za-z][\w'’-]*\s+){0,4}?[A-Za-z][\w'’-]*)\s+"
    r"(?:is|are|was|were|must|can|may|will|should|has|have|had|needs?|gets?|stays?)\b"
)
# Or a verb of its own after "The" and a name or one or two nouns: "The Lantern
# Lighthouse stands…", "The bus leaves…".
_EN_SUBJECT_VERB = re.compile(
    r"^(?P<np>The\s+(?:(?:[A-Z][\w'’-]*\s+){0,3}[A-Z][\w'’-]*|[a-z][\w-]*(?:\s+[a-z][\w-]*)?))"
    r"\s+[a-z]+[^s\W]s\b")
_EN_NOT_A_SUBJECT = re.compile(
    r"^(?:it|they|he|she|this|that|these|those|there|here|we|you|i|each|every|all|some|"
    r"any|no|one)\b", re.IGNORECASE)

# A person's name opening a sentence, then its verb: a title and a name ("Dr. Lee"), or
# two or three capitalised words ("Lena Fischer chairs…"), not a group's name.
_EN_PERSON = re.compile(
    r"^(?P<name>(?:(?P<title>Mr|Mrs|Ms|Miss|Dr|Prof|Professor|Sir|Dame)\.?\s+)?"
    r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){0,2})"
    r"(?=\s+[a-z])")
_EN_NOT_A_PERSON = re.compile(
    r"^(?:The|A|An|This|That|These|Those|Our|Your|Its|Their|Each|Every|All|Some|If|When|"
    r"In|On|At|For|From|After|Before)\b|\b(?:Team|Group|Board|Department|Office|"
    r"Company|Committee|Council|University|College|School|Institute|Centre|Center|"
    r"Service|Services|Desk|Club|Bank|Inc|Ltd|GmbH|Corp|Policy|Plan|Programme|Program)$")
_EN_GENDER = {"Mr": "male", "Sir": "male", "Mrs": "female", "Ms": "female",
              "Miss": "female", "Dame": "female"}

# Titles that name a document, not a thing a sentence can be about: "Cafeteria Menu and
# Opening Hours" is open from nothing; "产品介绍" has no battery.
_NOT_A_THING_TITLE = re.compile(
    r"^(?:visiting|getting|using|welcome|discover|explore|living|working)\b|"
    r"\b(?:and|or|guide|manual|handbook|faq|overview|introduction|policy|policies|"
    r"rules|regulations|information|info|notes|about|how)\b|&|[,:;/|]|"
    r"介绍|简介|手册|指南|说明|规定|制度|须知|概况|规则|和|与|及", re.IGNORECASE)


def _person_subject(sentence: str) -> tuple[str, str] | None:
    """(name, gender) of a person's name that is `sentence`'s subject, else None."""
    if has_cjk(sentence):
        for entity in extract_entities(sentence[:120], lang="zh"):
            if entity.kind == "person" and entity.role == "subject" \
                    and sentence.startswith(entity.text):
                return entity.text, entity.gender
        return None
    m = _EN_PERSON.match(sentence)
    if not m or _EN_NOT_A_PERSON.search(m.group("name")):
        return None
    name = m.group("name")
    if m.group("title") is None and len(name.split()) < 2:
        return None
    return name, _EN_GENDER.get(m.group("title") or "", "unknown")


def _named_person(sentences: Sequence[str], position: int, pronoun: str) -> str | None:
    """The person a he/she/他/她 opening the `position`-th sentence names: the subject of
    the nearest sentence before it whose subject is a person's name, if it agrees."""
    gender = _PERSONAL[pronoun]
    for earlier in reversed(sentences[:position]):
        person = _person_subject(earlier)
        if person is not None:
            name, theirs = person
            return name if theirs in ("unknown", gender) else None
    return None


def _pronoun(sentence: str) -> str | None:
    m = _EN_PRONOUN_SUBJECT.match(sentence) or _ZH_PRONOUN_SUBJECT.match(sentence)
    return m.group(0) if m else None


def _previous_subject(sentences: Sequence[str], position: int, pronoun: str) -> str | None:
    """The subject of the sentence before `position` when an English `It`/`They` opening
    that sentence agrees with it: "Passwords must be… They must be changed…"."""
    if position == 0 or pronoun not in ("It", "They"):
        return None
    m = _EN_SUBJECT.match(sentences[position - 1]) or _EN_SUBJECT_VERB.match(
        sentences[position - 1])
    if not m or _EN_NOT_A_SUBJECT.match(m.group("np")):
        return None
    subject = m.group("np")
    last = subject.split()[-1].lower()
    plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
    return subject if plural == (pronoun == "They") else None


def _thing_title(title: str | None) -> str | None:
    """The title, when it is a short name of a thing a sentence can be about."""
    if not title or not title.strip():
        return None
    title = title.strip().lstrip("#").strip()
    short = len(title) <= 12 if has_cjk(title) else len(title.split()) <= 4
    return title if short and not _NOT_A_THING_TITLE.search(title) else None


def _referent(passage: str, title: str | None, position: int) -> str | None:
    """What the pronoun opening the `position`-th sentence of `passage` names, if known.

    He/she/他/她: only a person's name, the agreeing subject of an earlier sentence.
    It/they/它: the agreeing subject of the sentence before; else the title when it names
    a thing (as the passage writes it: "the cafeteria"); else the first name the opening
    sentence gives. 他们/她们: nothing (quoted as written)."""
    sentences = split_sentences(passage)
    if not 0 <= position < len(sentences):
        return None
    pronoun = _pronoun(sentences[position])
    if pronoun is None:
        return None
    if pronoun in _PERSONAL:
        return _named_person(sentences, position, pronoun)
    if pronoun in ("他们", "她们"):
        return None
    if position > 0:
        subject = _previous_subject(sentences, position, pronoun)
        if subject:
            return subject
    thing = _thing_title(title)
    if thing:
        # The title as the text says it, with its article: "The cafeteria is…", not
        # "Cafeteria is…".
        written = (m.group(0) for m in re.finditer(rf"\bthe\s+{re.escape(thing)}\b", passage,
                                                  re.IGNORECASE))
        return next(written, thing)
    opening = [s for s in sentences[:position] if not is_heading(s, title)][:1]
    if not opening:
        return None
    proper = [e for e in extract_entities(opening[0][:300]) if e.proper and e.kind != "person"]
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


_CUT_START = re.compile(r"^[\s,;:，；：、]*(?:(?:and|or|but|so)\s+(?=[a-z]))?")
_CUT_END = re.compile(r"\s*[,;:，；：、]+$")


def _whole(sentence: str) -> str:
    """A sentence a chunk boundary cut, made to read as one: no leading clause punctuation
    or conjunction, a capital first, a full stop for a trailing comma or semicolon."""
    start = _CUT_START.match(sentence)
    if start and start.end():
        sentence = sentence[start.end():]
    # Only a plain lower-case word: "iPhone" and "eBay" are written so.
    if re.match(r"[a-z]+\b", sentence):
        sentence = sentence[:1].upper() + sentence[1:]
    if _CUT_END.search(sentence):
        sentence = _CUT_END.sub("。" if _is_cjk(sentence) else ".", sentence)
    return sentence


def _is_cjk(sentence: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", sentence[-3:] or sentence))


_CLOCK = r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?|o'clock)|\bnoon\b|\bmidnight\b|" \
         r"\d{1,2}\s*[点时]|[一二三四五六七八九十]+点"
_MONTH = (r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
          r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b")
_WEEKDAY = (r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|\bweekdays?\b|\bweekends?\b|"
            r"星期|周[一二三四五六日末]")
# A digit glued to a letter before it is a model's name ("S8", "M3"), no quantity.
_NUMBER = (r"(?<![A-Za-z])\d|百分之|\bpercent\b|"
           r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
           r"fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion|"
           r"dozen|half|once|twice)\b|"
           # A lone 一 before a measure word is mostly the article "a" (一条大河).
           r"(?:[零两三四五六七八九十百千万亿半]|[一二三四五六七八九十][零一二三四五六七八九十百千万亿]+)"
           r"\s*(?:个|天|日|年|月|周|星期|小时|分钟|公里|千米|米|"
           r"元|块|次|人|倍|岁|位|名|种|项|张|台|页|字|家|所|条|升|毫升|克|千克|公斤|"
           r"巴|瓦|伏|度|秒|层|座|米)")
# (what the question asks, the form of a sentence that answers it), first match wins.
# They are about the form, not the topic: a time for "what time", a number for "how
# many", a date or a deadline for "when", a place for "where", a person or a role for
# "who". A sentence of the form asked for is quoted before those that are not.
_CURRENCY = (r"[$€£¥￥]\s*\d|\d[\d,.]*\s*(?:元|块钱|块|美元|欧元|英镑|日元|港币|"
             r"(?:euros?|dollars?|cents?|pounds?|yuan|francs?|EUR|USD|GBP|CNY|RMB|CHF)\b)|"
             r"[零一二两三四五六七八九十百千万]+\s*(?:元|块钱|美元|欧元)")
# An instruction that names its purpose ("To descale the kettle, fill it…", "要…，请…"):
# it says how to do the thing itself, where a bare imperative may say when or how often
# ("Descale the kettle every four weeks").
_PURPOSE = re.compile(r"^To\s+[a-z]+\b[^.!?]*?,\s*(?:then\s+)?[a-z]+\s|"
                      r"^(?:要|如需|如果要|想要)[^，。]{1,20}，\s*(?:请|先|可以|需要|在)")
_EXPECTED: list[tuple[re.Pattern[str], tuple[re.Pattern[str], ...]]] = [
    # A price: a currency amount first, any number after ("How much does it cost?").
    (re.compile(r"多少钱|几块钱|价格|价钱|售价|费用|收费|学费|"
                r"\bhow much\b.*\b(?:cost|charge|pay|price)|"
                r"\bhow much (?:is|are|was|were|does|do|will)\b|"
                r"\b(?:cost|costs|price|prices|fee|fees)\b|"
                # "charge" the verb ("to charge the battery") asks for no price.
                r"\b(?:a|the|any|what|extra)\s+charges?\b", re.I),
     (re.compile(_CURRENCY, re.I), re.compile(_NUMBER, re.I))),
    # How to do something: an instruction ("Enter the address…", "请在…") or the means
    # ("uses X", "通过…"), not a conditional ("If the VPN disconnects…").
    (re.compile(r"^\s*how\s+(?:do|can|should|could|would)\s+(?:i|we|you|one)\b|"
                r"^\s*how\s+to\b|如何|怎么(?!样)|怎样(?!的)|怎么办", re.I),
     (_PURPOSE,
      re.compile(r"^(?!(?:If|When|Unless|In|On|At|For|The|A|An|This|That|It|They|We|You|"
                 r"Your|Our|Its|Their)\b)[A-Z][a-z]+\s+(?:the|a|an|it|them|your|this|"
                 r"that|to|on|in|into|with|from|up|out|through|via|all)\b|"
                 r"\b(?:use|uses|using|via|through)\b|^请|^先|通过|使用|利用|借助|登录|点击|打开|输入"),)),
    (re.compile(r"\bwhat time\b|\b(?:opening|office|business|working) hours\b|几点|"
                r"营业时间|开放时间|办公时间", re.I),
     (re.compile(_CLOCK, re.I),)),
    (re.compile(r"how often|多久一次|多长时间一次|每隔多久|多频繁", re.I),
     (re.compile(r"\bevery\b|\bper\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b|"
                r"\btimes a\b|\bonce\b|\btwice\b|每", re.I),)),
    (re.compile(r"^\s*when\b|什么时候|哪一?年|何时|哪天|几月|几号|\bwhat (?:year|date|day)\b|"
                r"\bby when\b|\bhow soon\b|截止", re.I),
     # Case matters: "May" is a month, "may" is not.
     (re.compile(r"\b1\d{3}\b|\b20\d{2}\b|\d+\s*(?:年|月|日|号|世纪)|\bcentury\b|"
                r"[〇零一二三四五六七八九十]+\s*(?:月|日|号|世纪)|[春夏秋冬]季|[宋唐元明清]朝|"
                r"[东西南北]?[宋唐元明清汉](?:时期|代|朝)|"
                rf"{_MONTH}|{_WEEKDAY}|{_CLOCK}|"
                r"\b(?:until|before|after|within|by|during|since)\s+(?:the\s+)?(?:\d|[a-z]+\s+\d|"
                r"(?:first|last|next|end|start|beginning)\b)|\bevery\b|"
                r"\bfrom\s+the\s+(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|"
                r"sixth|seventh|tenth)\s+(?:day|week|month|year)\b|"
                r"之前|以前|之后|以后|以内|期间"),)),
    (re.compile(r"how (?:long|many|much|far|big|tall|high|old|large|deep|wide|heavy)|"
                r"多长|多少|多大|多高|多远|多久|多深|多重|多宽|几", re.I),
     (re.compile(_NUMBER, re.I),)),
    (re.compile(r"^\s*where\b|哪里|在哪|位于哪|哪儿", re.I),
     (re.compile(rf"\b(?:in|at|near|located|inside|beside|behind|through|from)\s+"
                rf"(?:the\s+)?(?!{_MONTH}|{_WEEKDAY})[A-Z]|"
                r"(?i:\b(?:in|at|on|near|inside|beside|behind|next to|through|via)\s+"
                r"(?:the\s+|a\s+|your\s+|our\s+)?(?:[\w-]+\s+){0,2}(?:floor|building|room|street|road|"
                r"avenue|office|campus|city|wing|hall|level|site|desk|portal|website|"
                r"page|intranet|center|centre|end|corner|edge|entrance|pier|harbour|harbor|"
                r"square|station|airport|coast|quay|bank|shore)s?\b)|位于|坐落|在[\u4e00-\u9fff]{2,}|"
                r"(?:生|出生|来自|居住|住|产)于[\u4e00-\u9fff]{2}"),)),
    # "Who approves…?" and "Who was the first director?" ask for a person; "Who was Marie
    # Curie?" and "她是谁？" ask what someone is, which any sentence about them answers.
    (re.compile(r"^\s*who\s+(?:(?:is|was|are|were)\s+(?:the|a|an|your|our|my)\b|"
                r"(?!(?:is|was|are|were)\b))|\bby whom\b|(?<!是)谁|哪位", re.I),
     (re.compile(r"(?<=\s)[A-Z][a-z]+\s+[A-Z][a-z]+|\bby\s+(?:the\s+|your\s+|a\s+)?[\w-]+|"
                r"\b(?:manager|supervisor|director|head|lead|officer|administrator|team|"
                r"department|desk|committee|board|boss|owner|chair)s?\b|"
                r"由|负责|经理|主管|主任|总监|总裁|主席|校长|院长|教练|部门|办公室|委员会"),)),
]


# "How many days…", "几天": the number is one of what is counted ("十五天", "25 vacation
# days"), not any number of the sentence ("3月31日").
_EN_COUNTED = re.compile(r"\bhow many\s+(?:[a-z-]+\s+){0,2}?([a-z]{3,}?)s?\s+"
                         r"(?:do|does|did|are|is|were|was|can|will|must|should|have|has)\b",
                         re.IGNORECASE)
_ZH_COUNTED = re.compile(r"[几多少]+([天个年次岁位种名家所项条周台张页])")


def _answer_forms(question: str) -> tuple[re.Pattern[str], ...]:
    """Patterns for the forms of answer the question asks for, the preferred first (a
    currency amount, then a number, for a price; a count of the thing asked about, then
    any number, for "how many")."""
    for asks, forms in _EXPECTED:
        if asks.search(question):
            counted = _EN_COUNTED.search(question) or _ZH_COUNTED.search(question)
            if counted and forms and forms[0].pattern == _NUMBER:
                unit = re.escape(counted.group(1))
                count = (rf"(?:{_NUMBER})[\w.,]*\s*(?:[A-Za-z-]+\s+)?{unit}"
                         if counted.re is _EN_COUNTED
                         else rf"[\d零两三四五六七八九十百千万半]+\s*{unit}")
                return (re.compile(count, re.IGNORECASE), *forms)
            if _HOW_LONG.search(question) and forms and forms[0].pattern == _NUMBER:
                return (_MEASURE, *forms)
            return forms
    return ()


# "How long…?", "多久": a duration or a length answers, before any number ("A full charge
# takes about five hours" over "Charge it with the supplied 4 A charger").
_HOW_LONG = re.compile(r"\bhow long\b|多长|多久", re.IGNORECASE)
_MEASURE = re.compile(
    r"(?:(?<![A-Za-z])\d[\d.,]*|\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|several|few)\b)"
    r"\s*(?:[a-z-]+\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
    r"(?:milli|centi|kilo)?met(?:re|er)s?|km|miles?|feet|foot|characters?)\b|"
    r"[\d零两三四五六七八九十百千万半]+\s*(?:秒|分钟|小时|天|周|星期|个月|年|米|公里|千米|"
    r"个?字符|个字|位)",
    re.IGNORECASE)


def _expected_answer(question: str) -> re.Pattern[str] | None:
    """A pattern for the form of answer the question asks for (a date, a number, a place)."""
    forms = _answer_forms(question)
    return forms[0] if forms else None


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
