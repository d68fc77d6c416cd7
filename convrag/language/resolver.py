"""Rule-based coreference resolution: rewrite a follow-up into a standalone question.

This is the offline mode of the `resolve_coreference` node and the fallback of the
model mode. It works on the discourse entities of the conversation:

- pronouns (它/他/她/其, it/he/she/they, possessives) become their antecedent, chosen by
  agreement (person, gender, number) and salience (recency, subject role, proper noun);
- ellipsis ("那亚马逊河呢？", "What about the Mississippi?") carries the previous
  question's predicate over to the new entity, in Chinese only to a thing of the same
  kind (a name for a name, a noun with the same head), else asks about it in the old
  subject or changes nothing;
- a question that names no subject ("有哪些专业？") gets the most salient entity; in
  Chinese that includes a clause whose only nouns follow its predicate ("不是花瓶"), one
  that opens with its copula ("我觉得是真的"), and a reply that is only a noun phrase;
- a question that is already standalone is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from convrag.language import gate, intent
from convrag.language.checks import question_problem
from convrag.language.entities import (
    NP_LIGHT_HEADS,
    NP_QUANTIFIERS,
    ZH_GENERIC,
    ZH_NOUN_TAGS,
    ZH_PROPER_TAGS,
    Entity,
    Kind,
    bare_word,
    extract_entities,
    learn_features,
    looks_plural,
    merge_entities,
    zh_kind,
    zh_tags,
)
from convrag.language.names import given_name_gender
from convrag.language.references import (
    EN_PRONOUNS,
    ZH_DEMONSTRATIVE_PRONOUNS,
    ZH_PRONOUNS,
    ZH_THING_CLASSIFIERS,
    Reference,
    en_pronouns,
    zh_references,
)
from convrag.language.tokens import EN_STOPWORDS, Lang, detect_lang, has_cjk, zh_cut

Scenario = Literal[
    "none", "pronoun", "ellipsis", "comparison", "topic_return", "clarification",
    "relative_date", "no_subject",
]


@dataclass(frozen=True)
class Mention:
    """A resolved reference: what was written, and what it stands for."""

    mention: str
    antecedent: str


@dataclass(frozen=True)
class Resolution:
    """The result of resolving one question."""

    standalone: str
    scenario: Scenario
    mentions: tuple[Mention, ...] = ()
    gate_reasons: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the standalone question differs from the raw one."""
        return bool(self.mentions)


@dataclass
class Dialogue:
    """What the resolver knows about a conversation before the current question."""

    entities: list[Entity] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    """The standalone forms of the earlier knowledge questions, oldest first."""
    turn: int = 0
    topic: str | None = None

    def __post_init__(self) -> None:
        # The background topic ("Ada Lovelace — Later life") is an entity from the start.
        if self.topic and not any(e.topic for e in self.entities):
            head = re.split(r"\s+[—–-]\s+|\s*[:：|]\s*", self.topic.strip())[0].strip()
            # "Vogue (song)": a title's disambiguation is not part of the name.
            head = re.sub(r"\s*\([^()]*\)$", "", head) or head
            if head:
                # A topic ending in a lower-case word ("cat grooming", "Lisbon travel") is
                # a label for a subject, not a name.
                topic = Entity(text=head, role="subject",
                               proper=not head.split()[-1][:1].islower(),
                               lang=detect_lang(head), topic=True)
                self.entities = merge_entities([topic], self.entities)

    @property
    def previous_question(self) -> str | None:
        """The last knowledge question, what an ellipsis carries its predicate from."""
        return self.questions[-1] if self.questions else None


# Earlier knowledge questions a thread remembers: enough for the history-aware query,
# whose weights have decayed to nothing after a handful of turns.
REMEMBERED_QUESTIONS = 8


def is_knowledge_turn(question: str) -> bool:
    """Whether a user message asks about the knowledge, so that it and its answer count.

    Small talk, questions about the chat, rejected input and gibberish ("㐀㐁㐂𠀀𠀁𪚥") never
    become antecedents, entities or "the previous question", and neither do the replies
    they get.
    """
    return (question_problem(question) is None and intent.classify(question) == "knowledge"
            and not intent.gibberish(question))


def absorb_answer(dialogue: Dialogue, answer: str) -> None:
    """Learn from an assistant answer: pronoun features, and entities it introduced.

    A short answer often *is* the antecedent ("Sonny and Cher"),
    so its entities join the dialogue; from a long answer only the first sentence counts.
    A reply that answers nothing (a not-found sentence, a canned reply) teaches nothing:
    "知识库" in "知识库中没有找到…" is no antecedent of the next "它".
    """
    answer = _NOTE.sub("", answer)
    if intent.answers_nothing(answer):
        return
    dialogue.entities = learn_features(dialogue.entities, answer)
    first = _first_sentence(answer.strip())
    new = [
        Entity(**{**e.to_dict(), "role": "object"})
        for e in extract_entities(first[:300], turn=dialogue.turn)
    ]
    dialogue.entities = merge_entities(dialogue.entities, new)


def _first_sentence(text: str) -> str:
    """The first sentence of `text`; a title's period ("Dr. Priya Raman…") ends none."""
    for m in _SENTENCE_END.finditer(text):
        if not _ABBREVIATION.search(text, 0, m.start() + 1):
            return text[:m.end()].rstrip()
    return text


_SENTENCE_END = re.compile(r"[。！？]|[.!?](?=\s|$)")
_ABBREVIATION = re.compile(
    r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|St|Jr|Sr|No|vs|etc|approx|e\.g|i\.e)\.$")


# A note on an answer's first line, in brackets ("(The model is unavailable: …; quoting
# the passages.)"): about how it was made, not part of what it says.
_NOTE = re.compile(r"^\s*[(（][^()（）\n]*[)）]\s*\n")


def note_question(
    dialogue: Dialogue, standalone: str, mentions: Sequence[Mention] = ()
) -> None:
    """Record a resolved knowledge question: its entities become the most salient ones.

    A lower-case background topic takes the first question's words for it (see
    `_first_topic`). A "he" or "she" the question used makes its antecedent a person
    (`mentions`, from the resolution): someone a user calls "he" is not an "it" later.
    """
    dialogue.turn += 1
    dialogue.entities = _learn_from_mentions(dialogue.entities, mentions)
    asked = [replace(e, asked=True)
             for e in extract_entities(standalone, turn=dialogue.turn, common_nouns=True)]
    if not dialogue.questions:
        asked = _first_topic(dialogue, asked)
    dialogue.entities = merge_entities(dialogue.entities, asked)
    dialogue.questions = [*dialogue.questions, standalone][-REMEMBERED_QUESTIONS:]


def _learn_from_mentions(entities: list[Entity], mentions: Sequence[Mention]) -> list[Entity]:
    """Entities a user's "he"/"she" resolved to, marked as persons; "it", as neuter.

    Only the kind is learnt, not the gender: the resolution itself may have been a
    guess, and a known gender outweighs recency (`KNOWN_GENDER_FIT`), which let an
    older person beat one the user had just asked about.
    """
    persons = {m.antecedent for m in mentions
               if EN_PRONOUNS.get(m.mention.lower(), ("",))[0] in ("male", "female")}
    things = {m.antecedent for m in mentions
              if EN_PRONOUNS.get(m.mention.lower(), ("",))[0] == "thing"}
    learnt = []
    for e in entities:
        if e.lang == "en" and e.kind == "thing" and e.text in persons:
            e = replace(e, kind="person")
        elif e.lang == "en" and e.kind != "person" and e.gender == "unknown" and e.text in things:
            e = replace(e, gender="neuter")
        learnt.append(e)
    return learnt


def _first_topic(dialogue: Dialogue, asked: list[Entity]) -> list[Entity]:
    """The first English question's entities; one may take over a background topic.

    A background topic that is a name stays. One in lower case ("cat grooming") is a
    label, and gives way to the first question's entity that shares a content word with
    it: the user's own words for the same subject ("What grooming brush…" → grooming brush). A
    conversation without a background topic gets none from its first question: on the
    tuning halves that topic outstayed the subject changes of later questions.
    """
    old = next((e for e in dialogue.entities if e.topic), None)
    if old is None or old.proper:
        return asked
    words = set(_content_words(old.text))
    main = next((e for e in asked if e.lang == "en" and words & set(_content_words(e.text))
                 and not words <= set(_content_words(e.text))), None)
    if main is None:
        return asked  # none, or only a longer phrase for it ("lavender" → "lavender oil")
    dialogue.entities = [e for e in dialogue.entities if e is not old]
    return [replace(e, topic=True) if e is main else e for e in asked]


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 4
            and w not in EN_STOPWORDS]


def replay(history: Sequence[tuple[str, str]], topic: str | None = None) -> Dialogue:
    """Build the dialogue state of a conversation given as (role, content) turns.

    Each past user question is resolved in order, exactly as the graph does turn by
    turn, so an evaluation row and a live thread see the same entities.
    """
    dialogue = Dialogue(topic=topic)
    knowledge = False
    for role, content in history:
        if role == "user":
            knowledge = is_knowledge_turn(content)
            if knowledge:
                resolution = resolve(content, dialogue)
                note_question(dialogue, resolution.standalone, resolution.mentions)
        elif knowledge:
            absorb_answer(dialogue, content)
    return dialogue


def resolve(question: str, dialogue: Dialogue) -> Resolution:
    """Rewrite `question` into a standalone question using `dialogue`."""
    text = question.strip()
    if intent.classify(text) != "knowledge" or intent.gibberish(text):
        # Small talk, questions about the chat itself and gibberish refer to nothing.
        return Resolution(text, "none", (), ())
    lang = detect_lang(text)
    if lang == "zh" and _zh_answers_yes(text):
        return Resolution(text, "none", (), ())  # "是的", "是啊，…": a reply, not a question
    own = extract_entities(text, lang=lang)
    pool = dialogue.entities
    in_dialogue = dialogue.previous_question is not None
    if lang == "en" and in_dialogue:
        bridged = _en_definite_anaphora(text, pool, dialogue.turn, dialogue.questions)
        if bridged is not None:
            return Resolution(bridged[0], "pronoun", (bridged[1],), ("pronoun",))
        asked = _en_wh_fragment(text, dialogue.previous_question or "")
        if asked is not None and dialogue.previous_question:
            return Resolution(asked, "ellipsis", (Mention(text, dialogue.previous_question),),
                              ("ellipsis",))
    # Before the first question only pronouns can refer (to the topic): a question that
    # names nothing then is not elliptical. In a conversation about a topic (the page it
    # happens on), an English definite description ("the album", "the tour") is the
    # topic's: it names no subject of its own.
    gap = _zh_copula_gap(text) if lang == "zh" else None
    fragment = _zh_fragment(text) if lang == "zh" and gap is None else None
    if fragment is not None:
        gap = fragment
    names_subject = gap is None and (
        _names_own_subject(text, own, lang) or _mentions_known(text, pool, dialogue.topic, lang)
        or (lang == "en" and _has_definite_description(text)
            and not any(e.topic for e in pool)))
    verdict = gate.check(
        text, has_history=bool(pool) or in_dialogue,
        names_subject=names_subject or not in_dialogue, lang=lang,
    )
    if not verdict.needs_resolution or not pool:
        return Resolution(text, "none", (), verdict.reasons)

    if "ellipsis" in verdict.reasons and lang == "zh":
        target = gate.ellipsis_target(text, lang)
        rewritten = (_zh_ellipsis(text, dialogue.previous_question, target)
                     if target and dialogue.previous_question else None)
        if rewritten and dialogue.previous_question:
            return Resolution(
                rewritten, "ellipsis", (Mention(text, dialogue.previous_question),),
                verdict.reasons,
            )
        if target and _zh_new_subject(target) and not _has_reference(text, lang):
            # "年假呢？" after a question about 病假 names a subject of its own that no rule
            # could put in the old question: the old subject in front would glue two.
            return Resolution(text, "none", (), verdict.reasons)
    elif "ellipsis" in verdict.reasons:
        target = gate.ellipsis_target(text, lang)
        previous = dialogue.previous_question
        swapped = (_en_group_for_speaker(previous, target) or _en_same_head(previous, target)
                   if target and previous else None)
        if swapped and previous:
            return Resolution(swapped, "ellipsis", (Mention(text, previous),), verdict.reasons)
        if target and "pronoun" in gate.check(target, has_history=True, names_subject=True,
                                               lang=lang).reasons:
            target = None  # "What about its source?" asks about a part of the same thing
        if target and lang == "en" and _EN_CLAUSE_TARGET.match(target):
            # "And what about what happened next?" asks its own question.
            return Resolution(text, "none", (), verdict.reasons)
        if target and lang == "en" and not _names_a_thing(target):
            if re.search(r"\b(?:a|an)\s+\w", target, re.IGNORECASE):
                # "What about for a bigger family?" brings its own new subject: the old
                # one neither carries over nor goes in front.
                return Resolution(text, "none", (), verdict.reasons)
            target = None  # "How about on the grill?" changes a detail, not the subject
        if target and dialogue.previous_question and not (
                lang == "en" and _has_attached_subject(dialogue.previous_question, pool)):
            # A previous question that needed its subject attached ("Tesla: what models
            # are there?") has no subject of its own for the new one to replace.
            rewritten = _carry_predicate(dialogue.previous_question, target, pool, lang)
            if rewritten:
                # The mention is the elliptical question; it stands for the previous one.
                return Resolution(
                    rewritten, "ellipsis", (Mention(text, dialogue.previous_question),),
                    verdict.reasons,
                )

    rewritten_text, mentions = _substitute_pronouns(text, pool, lang, dialogue.turn, own,
                                                    dialogue.questions)
    if mentions:
        return Resolution(rewritten_text, "pronoun", tuple(mentions), verdict.reasons)

    if not names_subject and in_dialogue and not _has_reference(text, lang) and not (
            lang == "en" and _EN_ABOUT_THE_TALK.search(text)) and not (
            lang == "zh" and _zh_partitive(text)):
        # A question whose pronoun found no antecedent has a subject, just not one we
        # know: guessing another would change what it asks.
        if lang == "en":
            best = _en_missing_subject(text, pool, dialogue.turn)
        else:
            # What the question names already is not what it leaves out; what the latest
            # question was about is what a question without a subject goes on about.
            unnamed = [e for e in pool if e.text.lower() not in text.lower()]
            focus = _zh_focus(unnamed, dialogue.previous_question)
            best = _most_salient(focus, dialogue.turn) or _most_salient(unnamed, dialogue.turn)
        if best is not None:
            subject = best.text + ("是" if fragment is not None and _zh_indefinite(text) else "")
            return Resolution(
                text[:gap] + subject + text[gap:] if gap is not None
                else _attach_subject(text, best.text, lang), "no_subject",
                (Mention("", best.text),), verdict.reasons,
            )
    return Resolution(text, "none", (), verdict.reasons)


# A question that is only its wh-phrase ("How often?", "At what temperature?"), and a
# previous question that starts with a wh-phrase it may take the place of.
_EN_WH_FRAGMENT = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?P<wh>how\s+(?:often|long|much|many|far|soon|early|late)"
    r"|why|at\s+what\s+[a-z]+|for\s+how\s+long|until\s+when|since\s+when|"
    r"(?:in|on|at|from)\s+which\s+[a-z]+)\s*\?+\s*$", re.IGNORECASE)
_EN_YES_NO = re.compile(r"^\s*(?:do|does|did|can|could|is|are|was|were|will|should|may)\s+"
                        r"(?!it\b|that\b|this\b|they\b)", re.IGNORECASE)
_EN_WH_LEAD = re.compile(
    r"^\s*(?:how(?:\s+(?:often|long|much|many|far|soon|early|late))?|when|where|what\s+time)"
    r"(?=\s+(?:do|does|did|can|could|should|would|will|is|are|was|were|must)\b)",
    re.IGNORECASE)


def _en_wh_fragment(text: str, previous: str) -> str | None:
    """"How often?" after "How do I descale the kettle?" → "How often do I descale…".

    A question of a wh-phrase alone asks the previous question again for another
    circumstance: the phrase takes the place of the previous one's. Only after a
    how/when/where question, whose wh-phrase is a circumstance too ("What is X?" +
    "How often?" changes nothing).
    """
    fragment = _EN_WH_FRAGMENT.match(text)
    if fragment is None:
        return None
    wh = fragment.group("wh")
    wh = wh[:1].upper() + wh[1:]
    lead = _EN_WH_LEAD.match(previous)
    if lead is not None:
        return wh + previous[lead.end():]
    if _EN_YES_NO.match(previous):
        # "On which nights?" after "Does the theatre offer student discounts?"
        return f"{wh} {previous.strip()[:1].lower()}{previous.strip()[1:]}"
    return None


def _en_missing_subject(text: str, pool: Sequence[Entity], turn: int) -> Entity | None:
    """What an English question without a name of its own leaves out, or None.

    With a background topic, the topic (the page the conversation happens on). Without
    one, a question whose own noun phrase is its subject ("What day do new hires
    start?") names what it is about; one with an object of its own ("How many sick days
    do I get?") is a new question about that object unless the conversation has an
    established subject: something a user or an answer referred back to with a pronoun
    (a learnt gender, "neuter" for "it"). On strangers' documents the most recent thing
    named was usually a different policy or person, and putting it in front changed what
    the question asked. A question with no noun phrase at all ("Why are so many dying?")
    takes the most salient referent, unless a pleonastic "it" has a clause for subject.
    """
    topic = next((e for e in pool if e.topic), None)
    if topic is not None:
        return topic
    if _EN_EXTRAPOSED_IT.search(text):
        return None
    # What a user asked about, never a detail of an answer ("fill in form HC-2"), nor
    # what the question says itself ("pool: where can I get pool towels?").
    lowered = text.lower()
    pool = [e for e in pool if e.asked and e.text.lower() not in lowered]
    commons = extract_entities(text, lang="en", common_nouns=True)
    if any(e.role == "subject" for e in commons):
        if not _bridging_definite(text, commons):
            return None
        # "What was the culture like?": a definite "the culture" after its auxiliary
        # is a part or an attribute of what the conversation is about (bridging), and
        # only a thing or a place has one; a person would change what is asked.
        things = [e for e in pool if e.kind != "person" and not _could_be_person(e)
                  and not _EN_DATE.fullmatch(e.text)]
        if not _bridging_definite(text, commons, after_do=False):
            # "How long does the battery last?": a part of a named product, never of
            # any noun the user said ("What services does the clinic provide?")
            things = [e for e in things if e.proper]
        return _most_salient([e for e in things if _names_referent(e)] or things, turn)
    if commons or _EN_OWN_SUBJECT.search(text) or _EN_OWN_OBJECT.search(text):
        # "How much does colour printing cost?", "Where can I get pool towels?": a
        # subject or an object of its own, which only an established subject frames.
        pool = [e for e in pool if e.gender != "unknown"]
    return _most_salient([e for e in pool if _names_referent(e)] or list(pool), turn)


# A subject between the auxiliary and the verb that no noun-phrase rule found (a word
# the phrase reader took for a verb: "does colour printing cost", "is plum cake best
# made", "must remote days be agreed"); a pronoun, "so many" or "there" is none.
_EN_OWN_SUBJECT = re.compile(
    r"\b(?:do|does|did|can|could|will|would|should|must|is|are|was|were)\s+"
    r"(?!(?:it|they|he|she|this|that|these|those|there|i|you|we|so|not|any|anything|"
    r"the|a|an|my|your|our|their|its|his|her|"
    r"anyone|one|ones|some|other|others|another|most|many|few|several|all|both|each|"
    r"more|less|better|worse|best|worst|different|similar|important|possible|true)\b)"
    r"(?:(?:the|a|an|my|your|our)\s+)?(?![a-z]+(?:al|ic|ive|ous|ful|able|ible|ent|ant|ary|"
    r"less|ly)\b)[a-z]{3,}\s+[a-z]{2,}", re.IGNORECASE)
# The speaker's own object after their verb: "Where can I get pool towels?".
_EN_OWN_OBJECT = re.compile(
    r"\b(?:i|we|you)\s+(?!(?:be|been|am)\b|(?:get|got|getting)\s+(?:[a-z]+ed|paid|made|"
    r"done|sent|taken|given|hurt|told|seen|known)\b|(?:mean|meant|"
    r"think|thought|like|want|wanted|wonder|guess|see|know)\b)[a-z]{2,}\s+"
    r"(?:(?:a|an|the|my|our|your|some|any|more)\s+)?(?!(?:it|them|this|that|there|here|to|"
    r"for|about|if|when|how|what|up|out|back|off)\b)[a-z]{3,}", re.IGNORECASE)


# A pleonastic "it" whose clause is the real subject: "How long does it take to get
# reimbursed?", "Is it possible to work abroad?". The clause says what the question is
# about; putting the last-named thing in front of it ("Tom Becker: how long does it take
# to get reimbursed?") sent a stranger's search to the wrong document.
_EN_EXTRAPOSED_IT = re.compile(
    r"\bit\s+(?:take|takes|took|cost|costs)\b|\b(?:is|was|would|will|isn't)\s+it\s+"
    r"(?:be\s+)?[a-z]+\s+(?:to|for)\b", re.IGNORECASE)

# "the" and one lower-case noun, ending its noun phrase: "in the city", "the tower is".
# What may follow a noun phrase that ends there: punctuation, the end, or a closed-class
# word (an auxiliary, a preposition, a conjunction, a relative word).
_EN_PHRASE_END = (
    r"(?=\s*[?.!,]|\s*$|\s+(?:is|was|are|were|do|does|did|has|have|had|be|been|in|on|at|to|"
    r"for|with|from|by|about|during|after|before|and|or|that|which|who|when|like)\b)"
)
_EN_DEFINITE_HEAD = re.compile(r"\bthe\s+(?P<head>[a-z]{3,})" + _EN_PHRASE_END)

# The same as the subject of do-support, before its verb: "why did the league decline?"
_EN_DEFINITE_SUBJECT = re.compile(
    r"\b(?:do|does|did|can|could|will|would|should)\s+the\s+(?P<head>[a-z]{3,})(?=\s+[a-z]+\b)")


def _bridging_definite(text: str, commons: Sequence[Entity], after_do: bool = True) -> bool:
    """Whether every subject noun phrase of `text` is "the" and one noun after its
    auxiliary ("What was the culture like?", "How long does the battery last?")."""
    subjects = [e for e in commons if e.role == "subject"]
    do_heads = {m.group("head").lower() for m in _EN_DEFINITE_SUBJECT.finditer(text)
                if after_do and not m.group("head").lower().endswith("s")}
    return all(
        " " not in e.text and (e.text.lower() in do_heads or any(
            _EN_BARE_DEFINITE.match(text, m.start()) and _EN_AFTER_AUXILIARY.search(
                text, 0, m.start())
            for m in re.finditer(rf"\bthe\s+{re.escape(e.text)}\b", text, re.IGNORECASE)))
        for e in subjects)


def _en_definite_anaphora(text: str, pool: Sequence[Entity], turn: int,
                          questions: Sequence[str]) -> tuple[str, Mention] | None:
    """"the town" after "Cape Town": a definite noun that is the head of a name.

    English refers back to a name by its head noun with "the" (the tower, the empire,
    the museum): when the last word of a name the conversation used is that noun, the
    definite description is that name. Only names of two words or more that are not
    people count, and only a noun that ends its phrase ("the city council" is another
    thing). The name keeps "the" when a question wrote it so ("the Eiffel Tower").
    """
    for m in [*_EN_DEFINITE_HEAD.finditer(text), *_EN_DEFINITE_SUBJECT.finditer(text)]:
        head = m.group("head").lower()
        if not m.group("head").islower():
            continue
        names = [e for e in pool if e.lang == "en" and e.proper and e.kind != "person"
                 and len(e.text.split()) >= 2 and e.text.split()[-1].lower() == head
                 and e.text.lower() not in text.lower()]
        best = _most_salient(names, turn)
        if best is None:
            continue
        asked = " ".join(questions).lower()
        name = f"the {best.text}" if f"the {best.text.lower()}" in asked else best.text
        start = m.start("head") - len("the ")
        standalone = text[:start] + name + text[m.end("head"):]
        return standalone, Mention(text[start:m.end("head")], best.text)
    return None


# --- pronouns -----------------------------------------------------------------------

def _does_this(text: str, start: int, end: int) -> bool:
    """Whether "it"/"this" at start..end is the object of the verb "do" (an action):
    "How often should I do it?", not do-support's subject ("How does it work?")."""
    return bool(_EN_DO_THIS.search(text, 0, start)) and bool(_EN_AFTER_DO_THIS.match(text, end))


# What follows "do it" as a verb and its object: the end, or an adverbial.
_EN_AFTER_DO_THIS = re.compile(
    r"\s*(?:[?.!,;]|$)|\s+(?:again|myself|yourself|ourselves|themselves|often|regularly|"
    r"every|each|at|on|in|before|after|now|today|first|more|less|online|manually|"
    r"without|with|by|for)\b", re.IGNORECASE)
_EN_WHY_THAT = re.compile(r"\b(?:why|how\s+come)\s+(?:is|was|would|does)\s+$", re.IGNORECASE)
_EN_DO_THIS = re.compile(r"\b(?:do|does|did|doing|done|repeat|try)\s+$", re.IGNORECASE)
# "this"/"that" standing for a thing: at the end, before a verb, or after a preposition
# and not before a noun ("this time frame" is left alone).
_EN_DEMONSTRATIVE_RE = re.compile(
    r"(?P<p>\b(?:about|of|in|for|with|after|before|during|from)\s+)?\b(?P<d>that|this)\b"
    r"(?(p)(?!\s+[a-z])|(?=\s*[?.!]?\s*$|\s+(?:is|was|are|were|be|been|start|started|begin|"
    r"began|happen|happened|mean|means|meant|do|does|did|have|has|had|become|became|come|"
    r"came|lead|led|cause|caused|end|ended|take|took|get|got|work|worked|affect|affected)\b))",
    re.IGNORECASE,
)
# An object pronoun never corefers with a name earlier in its own clause (binding: that
# would be "itself", "himself"): "What was the US reaction to it?" is not about the US.
# A subject pronoun may ("What is Rock City, and why is it famous?").
_EN_OBJECT_PRONOUNS = frozenset("it him them".split())
_EN_BEFORE_SUBJECT = re.compile(
    r"(?:^|[,;:.!?]|\b(?:is|was|are|were|do|does|did|has|have|had|can|could|will|would|"
    r"should|may|might|must|and|or|but|why|how|when|where|what|who|which|if|that|because|"
    r"so|once|while|after|before|until))\s*$",
    re.IGNORECASE,
)


def _is_object(text: str, m: re.Match[str]) -> bool:
    """Whether the pronoun matched in `text` is an object: "it"/"him"/"them" not
    opening a clause (after a verb or a preposition, not an auxiliary or a wh-word)."""
    return m.group(0).lower() in _EN_OBJECT_PRONOUNS and not _EN_BEFORE_SUBJECT.search(
        text, 0, m.start())
# A verb form beside "it" that agrees with a singular subject only.
_EN_SINGULAR_VERB = re.compile(
    r"\b(?:is|was|does|doesn['’]t|has|isn['’]t|wasn['’]t|hasn['’]t)\s+it\b"
    r"|\bit(?:['’]s|\s+(?:is|was|does|doesn['’]t|has|isn['’]t|wasn['’]t|hasn['’]t|[a-z]+s))\b",
    re.IGNORECASE,
)
_EN_NOUNISH_NEXT = re.compile(r"\s+(?!(?:to|in|on|at|for|with|by|from|and|or|as|about|\?|\.))[a-z]")
_EN_NAME = re.compile(
    r"(?:[A-Z0-9][\w'’.\-]*|of|the|de|der|den|del|della|di|von|van|da|du|la|le|&)"
    r"(?:\s+(?:[A-Z0-9][\w'’.\-]*|of|the|de|der|den|del|della|di|von|van|da|du|la|le|&))*")
# Heads that make a capitalised name a thing or a place, never a he or a she.
_EN_NOT_PERSON = re.compile(
    r"\b(?:river|lake|mountain|mount|ocean|sea|island|islands|university|college|school|"
    r"company|corporation|corp|inc|ltd|group|bank|party|museum|park|church|war|act|treaty|"
    r"street|city|county|state|states|republic|kingdom|empire|bridge|tower|festival|award|"
    r"awards|cup|league|club|team|band|records|airlines|army|navy|council|association|"
    r"institute|foundation|hospital|agency|department|ministry|desert|valley|canal|"
    r"series|album|film|movie|show|game|games|book|novel|song|day|championship|"
    r"championships|tournament|prize|olympics|open|trophy)\b",
    re.IGNORECASE,
)


def _could_be_person(entity: Entity) -> bool:
    """Whether he/she may bind to an entity whose kind is unknown.

    A place or an organisation never is; an English capitalised name is a person unless
    a head word makes it a thing ("Amazon River").
    """
    if entity.kind == "person":
        return True
    if entity.kind != "thing" or not entity.proper:
        return False
    # jieba tags many new Chinese names as nz or leaves them English ("UZI"): a proper
    # thing may be a person; places and organisations were ruled out above.
    if entity.lang == "zh":
        return True
    if _EN_DATE_LIKE.search(entity.text):
        return False  # "September 1907", "the 1960s": a time, never a he or a she
    # A lone capitalised word only an answer used ("Cricket", "Darwin", "North") is
    # more often a thing or a place than somebody; a user's question or a full name is
    # what a later he/she takes up. A name that ends in a common noun ("the Crystal Palace
    # fire") is that thing.
    return not _EN_NOT_PERSON.search(entity.text) and not entity.text.split()[-1].islower() \
        and (" " in entity.text or entity.asked or entity.topic)


# A name with a digit, or a month or weekday alone ("May" in "James May" is a name).
_EN_DATE_LIKE = re.compile(
    r"\d|^(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?)$")


_EN_DATE = re.compile(
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+)?(?:\d{1,2}\s+)?\d{4}s?|(?:January|February|March|April|June|July|"
    r"August|September|October|November|December)(?:\s+\d{1,2})?"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?")


# Agreement, added to salience: how well an entity fits the pronoun (negative: never).
# A known gender that matches (learnt from an answer's "she") outweighs two turns of
# recency: a gendered pronoun is the strongest cue a question gives.
KNOWN_GENDER_FIT = 3.0
# A conjoined name ("Sonny and Cher") fits "they" best, a plural or an organisation
# next; a singular thing only weakly, since "they" often means an organisation's people.
CONJOINED_PLURAL_FIT, PLURAL_FIT, SINGULAR_PLURAL_FIT = 2.5, 2.0, 0.3


# How well the background topic fits a he/she its given name does not usually mark
# ("Where was he born?" on a page about a woman): a conversation's topic is still what
# its pronouns mostly mean, but any other fitting person wins. Set by hand, low.
MISMARKED_TOPIC_FIT = 0.1


# How well a plural common noun fits "it" when no verb beside the pronoun says singular.
# A singular thing named in the same turn wins (it fits 1.0); one named a turn earlier
# loses to the plural (0.8 is about half a turn of recency): "Can it be carried over?"
# right after "vacation days" means them. Set by hand; 0.2 and 0.5 scored alike on the
# tuning halves, so the lower (the more cautious) stays.
PLURAL_IT_FIT = 0.2


def _agreement_score(entity: Entity, wanted: str, singular_verb: bool = False) -> float:
    """How well an entity fits a pronoun; negative rules it out.

    `singular_verb` says that a verb agreeing with the pronoun marks it singular
    ("does it", "it is"), so a plural antecedent would not fit the sentence.
    """
    person = entity.kind == "person"
    if wanted == "things":
        # 它们: a Chinese noun may be plural unmarked (大熊猫, a chain of shops); a
        # place is seldom a "they". A name jieba tags a person may be a brand (as for 它).
        if person:
            return 0.1 if entity.gender == "unknown" else -1.0
        if entity.plural or entity.kind == "org":
            return PLURAL_FIT
        return SINGULAR_PLURAL_FIT if entity.kind == "place" else 1.0
    if wanted in ("female", "male"):
        if entity.plural:
            return -1.0  # "Robin Hale and Avery Stone" together are no he or she
        if entity.gender == wanted:
            return KNOWN_GENDER_FIT
        if entity.gender != "unknown" or not _could_be_person(entity):
            return -1.0
        marked = given_name_gender(entity.text) if entity.lang == "en" else "unknown"
        if marked not in ("unknown", wanted):
            # "Tom Becker" is no "she": a given name's usual gender rules it out, unless
            # it is the conversation's background topic, whom a user may misgender.
            return MISMARKED_TOPIC_FIT if entity.topic else -1.0
        # An unknown-gender name fits "he" a little better than "she": English text
        # about people without a stated gender skews male, and a wrong "she" reads worse.
        return 1.0 if person else (0.5 if wanted == "male" else 0.2)
    if entity.lang == "en" and _EN_DATE.fullmatch(entity.text):
        return -1.0  # "December 1971", "the 1960s": a time, which a pronoun never takes up
    if wanted == "thing":
        if person and entity.lang == "zh" and entity.gender == "unknown":
            # jieba tags many titles as names (a painting, a film): 它 may still mean one.
            return 0.1
        if person:
            return -1.0
        if entity.plural:
            # "it" for "vacation days" ("Can it be carried over?") happens, but rarely:
            # any singular thing fits better. `singular_verb` rules it out ("does it").
            return -1.0 if singular_verb else PLURAL_IT_FIT
        return 1.0
    if wanted == "place":
        return 1.0 if entity.kind == "place" else -1.0
    if wanted == "plural":
        if entity.plural or entity.kind == "org":
            return PLURAL_FIT
        if entity.proper and (" and " in entity.text or "和" in entity.text
                              or "与" in entity.text):
            # Only names are conjoined referents: "head and neck surgery" is one thing.
            return CONJOINED_PLURAL_FIT
        return SINGULAR_PLURAL_FIT
    return 1.0


# Salience: how likely an entity is the one a pronoun means, before agreement. The values
# were set by hand on the previous version's tuning (REWRITE zh, CANARD, whole sets) and
# kept, since this version's rules changed which entities exist, not how they compete.

# Lost per turn since the entity was last mentioned. At 1.5 one turn outweighs a subject
# role or a proper name, so the latest mention wins ties; lower values let the
# conversation's first entity hang on too long in topic-shifting threads.
RECENCY_PENALTY = 1.5
# Gained by an entity that was a question's or answer's subject (named before its verb):
# subjects are what the next turn talks about (centering theory's preferred center).
SUBJECT_BONUS = 1.0
# Gained by a proper name over a common noun: names are what people refer back to; a
# higher value made a name two turns old beat the noun just asked about.
PROPER_BONUS = 1.0
# The background topic's salience, constant however long ago it was set: as salient as a
# proper object named in the previous turn, so a subject named since beats it.
TOPIC_SALIENCE = 1.0


# Gained by a Chinese entity named again in a later utterance (the question's 家宴 named
# again in the answer). Chinese keeps a topic by repeating its name or dropping it where
# English would say "it", so a repeated name is the topic: at 1.5, as much as one turn of
# recency, it beats a name said once as a subject or a proper noun, but not a name the
# latest turn brought in two turns on. On REWRITE's tune half 0.5 gained 0.0045 F1 and
# 1.5-3.0 about 0.003 more; English keeps its pronoun-based salience.
ZH_REPEATED_BONUS = 1.5


def _salience(entity: Entity, turn: int) -> float:
    recency = -RECENCY_PENALTY * max(0, turn - entity.turn)
    salience = (recency + (SUBJECT_BONUS if entity.role == "subject" else 0.0)
                + (PROPER_BONUS if entity.proper else 0.0)
                + (ZH_REPEATED_BONUS if entity.repeated and entity.lang == "zh" else 0.0))
    # The topic never goes stale, and is as salient as anything when just named again.
    return max(TOPIC_SALIENCE, salience) if entity.topic else salience


def _fullest_name(entity: Entity, pool: Sequence[Entity], wanted: str = "any") -> Entity:
    """The longest known mention of the same referent: "Hunter" → "Duncan Hunter".

    A coreference chain is best named by its most complete mention; answers often
    shorten a name the topic or an earlier turn gave in full. Only a name that still
    agrees with the pronoun counts ("Hampton Day" is not a he), and in English only a
    name: capitalised words, not a phrase that happens to contain it.
    """
    if entity.lang == "zh":
        longer = [e for e in pool if entity.text in e.text and len(e.text) > len(entity.text)
                  and e.kind == entity.kind]
    else:
        words = set(entity.text.lower().split())
        longer = [e for e in pool if words < set(e.text.lower().split())
                  and " and " not in e.text and _EN_NAME.fullmatch(e.text)
                  and _agreement_score(e, wanted) >= 0]
    return max(longer, key=lambda e: len(e.text)) if longer else entity


def _best_antecedent(pool: Sequence[Entity], wanted: str, turn: int,
                     singular_verb: bool = False) -> Entity | None:
    """The most salient entity that agrees with the pronoun, in its fullest name.

    A name the user gave in the latest question beats the background topic when it
    clearly agrees (a known gender for he/she); otherwise the topic competes by
    salience, as the thing the whole conversation is about.
    """
    found = _best_agreeing(pool, wanted, turn, singular_verb)
    if found is not None and found.topic:
        asked = [e for e in pool if e.asked and not e.topic and _names_referent(e)
                 and e.turn >= found.turn and _agreement_score(e, wanted) >= 1.0]
        found = _best_agreeing(asked, wanted, turn, singular_verb) or found
    return _fullest_name(found, pool, wanted) if found else None


def _names_referent(entity: Entity) -> bool:
    """Whether an entity is one a conversation is about: a name, the topic, or a subject.

    An English common noun phrase met as a detail ("…work with improvisations") is not:
    it may be the antecedent when nothing else fits, never against one that does.
    """
    return entity.proper or entity.topic or entity.role == "subject" or entity.lang != "en"


def _best_agreeing(pool: Sequence[Entity], wanted: str, turn: int,
                   singular_verb: bool = False) -> Entity | None:
    if wanted == "plural":
        # "they" after "the group study rooms at the library" are the rooms: a plural, an
        # organisation or a conjoined name beats a place or a common singular thing,
        # referent or not; a name of no place stays in ("Kronos Quartet": a band).
        plural = [e for e in pool if _agreement_score(e, wanted) >= PLURAL_FIT
                  or (e.proper and e.text.split()[-1][:1].isupper()
                      and (e.kind != "place" or e.role == "subject"))]
        pool = plural or pool
    if wanted in ("female", "male"):
        # An entity known to have the pronoun's gender beats a closer one of unknown gender.
        known = [e for e in pool if e.gender == wanted]
        pool = known or pool
    referents = [e for e in pool if _names_referent(e)]
    if referents and len(referents) < len(pool):
        # Details ("…in native cultures") count only when no referent agrees: on the
        # tuning halves a detail beat by salience was wrong far more often than right.
        return (_best_agreeing(referents, wanted, turn, singular_verb)
                or _best_agreeing([e for e in pool if not _names_referent(e)], wanted, turn,
                                  singular_verb))
    best: tuple[float, Entity] | None = None
    for entity in pool:
        agreement = _agreement_score(entity, wanted, singular_verb)
        if agreement < 0:
            continue
        score = _salience(entity, turn) + agreement
        if best is None or score > best[0]:
            best = (score, entity)
    return best[1] if best else None


def _most_salient(pool: Sequence[Entity], turn: int) -> Entity | None:
    if not pool:
        return None
    return max(pool, key=lambda e: _salience(e, turn))


def _already_named(entity: Entity, mentions: Sequence[Mention]) -> bool:
    """Name a referent once; later pronouns for it read naturally ("…do after his film").

    In English a name that starts another named one is the same referent ("Pierre",
    "Pierre Boulez"): two pronouns of one clause do not both mean it.
    """
    if entity.lang == "en" and entity.proper:
        return any(_same_name(m.antecedent, entity.text) for m in mentions)
    return any(m.antecedent == entity.text for m in mentions)


def _same_name(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


# The last clause boundary before a pronoun: a comma or semicolon, or a conjunction.
_EN_CLAUSE_BREAK = re.compile(r"(?:[,;]|\s(?:and|but|so|then|when|if|because)\s)(?!.*[,;])",
                              re.IGNORECASE)


# What joins two coordinated phrases: "A and B", "A or the B", "A, and a B", "A vs B".
_EN_COORDINATION = re.compile(
    r"(?:['’]s)?\W*(?:,\s*)?(?:and|or|vs\.?|versus|&)\s+(?:the\s+|a\s+|an\s+|my\s+|our\s+)?"
    r"(?:[a-z]+\s+)?$",
    re.IGNORECASE)


def _head_of_name(entity: Entity, questions: Sequence[str]) -> str | None:
    """"the filter on the Dyson V11" when the latest question named the name only there.

    A name that completes a common noun ("How do I clean the filter on the Dyson V11?")
    is a detail of what the question asked about: a following "it" is that noun phrase
    as written. A light head ("the price of…", "the history of…") asks an attribute of
    the name, which stays the referent.
    """
    if not entity.proper or entity.kind == "person" or _could_be_person(entity):
        return None
    for question in questions:
        m = re.search(rf"\b(?P<det>the|my|your|our)\s+(?P<head>[a-z][a-z\-]*(?:\s+[a-z][a-z\-]*)"
                      rf"{{0,2}})\s+(?P<prep>on|of|in|for|from|at)\s+(?:the\s+|my\s+|your\s+|our\s+)?"
                      rf"{re.escape(entity.text)}\b", question)
        words = m.group("head").split() if m else []
        if m is None or looks_plural(words[-1]) or any(
                w in NP_LIGHT_HEADS or w in NP_QUANTIFIERS or w in EN_STOPWORDS for w in words):
            continue  # "the opening hours of…" is no "it"; "the main…" an attribute
        if question.lower().count(entity.text.lower()) > 1:
            continue
        det = "the" if m.group("det") == "your" else m.group("det")
        return det + m.group(0)[len(m.group("det")):]
    return None


def _coordinated_rival(entity: Entity, pool: Sequence[Entity], wanted: str,
                       questions: Sequence[str]) -> bool:
    """Whether the latest question named another fitting referent beside `entity`.

    "Tell me about Jordan Blake and Sam Okafor." then "Where did he grow up?": either
    may be meant, and a guess is a wrong rewrite half the time; the question stays as
    asked (the search still has both names from the history).
    """
    for question in questions:
        lowered = question.lower()
        here = lowered.find(entity.text.lower())
        if here < 0:
            continue
        for other in pool:
            there = lowered.find(other.text.lower())
            if (there < 0 or other.text.lower() in entity.text.lower()
                    or entity.text.lower() in other.text.lower()
                    or _agreement_score(other, wanted) < 0):
                continue
            first, second = sorted([(here, entity.text), (there, other.text)])
            between = question[first[0] + len(first[1]):second[0]]
            if _EN_COORDINATION.fullmatch(between):
                return True
    return False


def _named_before(text: str, position: int, own: Sequence[Entity], wanted: str) -> bool:
    """Whether the question itself names a fitting antecedent before `position`.

    "What did Ballmer do next in his life?": "his" is Ballmer, already in the question.
    """
    lowered = text.lower()
    return any(
        0 <= lowered.find(e.text.lower()) < position
        and _agreement_score(replace(e, asked=True), wanted) >= 0
        for e in own if e.proper
    )


def _substitute_pronouns(
    text: str, pool: Sequence[Entity], lang: Lang, turn: int, own: Sequence[Entity] = (),
    questions: Sequence[str] = (),
) -> tuple[str, list[Mention]]:
    mentions: list[Mention] = []
    if lang == "zh":
        focus = _zh_focus(pool, questions[-1] if questions else None)
        return _substitute_zh(text, pool, turn, own, mentions, focus), mentions

    def en_pronoun(m: re.Match[str]) -> str:
        word = m.group(0).lower()
        wanted, template = EN_PRONOUNS[word]
        doing = word == "it" and _does_this(text, m.start(), m.end())
        if word == "her" and not _EN_NOUNISH_NEXT.match(text[m.end():]):
            template = "{}"
        elif word == "her":
            template = "{}'s"
        if _is_object(text, m):
            # An object's antecedent is never its own clause's subject ("Did Ada like
            # it?"), but may be named in an earlier clause ("If the Zephyr battery dies,
            # can I replace it?").
            clause = _EN_CLAUSE_BREAK.search(text, 0, m.start())
            if clause and _named_before(text, clause.start(), own, wanted):
                return m.group(0)
        elif _named_before(text, m.start(), own, wanted):
            return m.group(0)
        singular = bool(_EN_SINGULAR_VERB.search(text[max(0, m.start() - 12):m.end() + 12]))
        # "they" takes a thing the user counted ("an ergonomic chair") as its kind and
        # names the kind in the plural: in a conversation without names (a band or a firm
        # is "they" far more often), or for a name with its noun ("a Tesla charger").
        nameless = not any(e.proper or e.topic for e in pool)
        kinds = ({e.text for e in pool if _is_kind(e) and e.turn == turn
                  and (nameless or e.proper) and _counted(e, questions[-1:])}
                 if wanted == "plural" else set())
        entity = _best_antecedent(
            [replace(e, plural=True, role="subject") if e.text in kinds else e for e in pool]
            if kinds else pool,
            wanted, turn, singular)
        generic = None
        if entity is None and wanted == "thing" and singular:
            generic = _generic_singular(pool, turn)
            entity = generic
        if entity is None or _already_named(entity, mentions) or (
                doing and not entity.text.endswith("ing")):
            # "How often should I do it?" does an action: only an activity ("estate
            # planning") is what "do it" names
            return m.group(0)
        if wanted != "plural" and generic is None and _coordinated_rival(
                entity, pool, wanted, questions[-1:]):
            return m.group(0)  # "Compare the Basic plan and the Pro plan." "Is it …?"
        mentions.append(Mention(m.group(0), entity.text))
        name = _with_determiner(entity, questions)
        head = (_head_of_name(entity, questions[-1:]) if word in ("it", "itself")
                else None)
        if head is not None:
            name = head  # "the warranty on the Aurora K2", not the kettle itself
        if generic is not None:
            name = "the " + _en_singular(entity.text)
        if entity.text in kinds or (wanted == "plural" and _is_kind(entity)
                                    and name.startswith(("a ", "an "))):
            name = _en_plural(entity.text)
            template = "{}'" if template == "{}'s" else template
        if m.start() == 0:
            name = name[:1].upper() + name[1:]
        if template == "{}'s" and name.endswith("s") and (entity.plural or entity.proper):
            template = "{}'"  # the bees' habitat, the Kinks' legacy
        return template.format(name)

    out = _replace_spans(text, [(m.start(), m.end(), en_pronoun(m)) for m in en_pronouns(text)])
    if not mentions:
        # "this"/"that" point at what was talked about, not at a detail phrase.
        named = [e for e in pool if _names_referent(e)]

        def en_demonstrative(m: re.Match[str]) -> str:
            if _does_this(out, m.start("d"), m.end("d")) or _EN_WHY_THAT.search(
                    out, 0, m.start("d")):
                # "How often should I do this?": an action; "Why is that?": what was said
                return m.group(0)
            entity = _best_antecedent(named, "thing", turn) or _most_salient(named, turn)
            if entity is None:
                return m.group(0)
            mentions.append(Mention(m.group("d"), entity.text))
            return (m.group("p") or "") + entity.text

        out = _EN_DEMONSTRATIVE_RE.sub(en_demonstrative, out)
    if not mentions:
        out = _substitute_one(out, pool, turn, mentions)
    return out, mentions


# "one" standing for a noun after a determiner and at most two modifiers: "a new one",
# "which one"; not "one of", "one day", nor a number ("one or two").
_EN_ONE = re.compile(
    r"\b(?:a|an|the|this|that|which|each|every|another|any)\s+(?:[a-z][\w-]*\s+){0,2}?"
    r"(?P<one>one)\b(?!\s+(?:of|or|and|day|time|way|thing|more|another)\b)",
    re.IGNORECASE,
)


def _substitute_one(text: str, pool: Sequence[Entity], turn: int, mentions: list[Mention]) -> str:
    """"How do I choose a new one?" → "…a new robot vacuum?".

    One-anaphora stands for a kind of thing, so its antecedent is a common noun phrase
    (a name is not a kind), singular, and one the conversation is about.
    """
    m = _EN_ONE.search(text)
    if m is None:
        bare = _EN_BARE_ONE.search(text)
        if bare is None:
            return text
        # "Where can I order one?" after "ergonomic chairs": one of the kind the user
        # asked about, in the singular with "a".
        asked = [e for e in pool if e.lang == "en" and e.asked and not e.proper]
        entity = _most_salient([e for e in asked if e.plural] or asked, turn)
        if entity is None:
            return text
        noun = _en_singular(entity.text) if entity.plural else entity.text
        mentions.append(Mention("one", entity.text))
        article = "an" if noun[:1].lower() in "aeiou" else "a"
        return text[:bare.start("one")] + f"{article} {noun}" + text[bare.end("one"):]
    kinds = [e for e in pool if e.lang == "en" and not e.proper and not e.plural]
    entity = _most_salient([e for e in kinds if _names_referent(e)] or kinds, turn)
    if entity is None:
        return text
    mentions.append(Mention("one", entity.text))
    return text[:m.start("one")] + entity.text + text[m.end("one"):]


# "one" as a verb's object on its own: "Where can I order one?", "Should I buy one?".
_EN_BARE_ONE = re.compile(
    r"\b(?:order|buy|get|need|want|borrow|rent|book|find|choose|pick|request|use|try)\s+"
    r"(?P<one>one)\b(?!\s+(?:of|more|another|day|time|way)\b)", re.IGNORECASE)


def _with_determiner(entity: Entity, questions: Sequence[str]) -> str:
    """A common noun phrase with the determiner the user gave it: "my dishwasher".

    A name stands alone, unless the user counted it ("a used Tesla": a product); a
    common noun phrase takes back its article or the user's own
    possessive ("a" stays: "What is a heat pump?" asks about any heat pump, and so does
    "How does it work?"); "your" and a demonstrative become "the"; one the user wrote
    bare ("throat cancer", "bees") stays bare.
    """
    if entity.lang != "en":
        return entity.text
    if entity.proper:
        # A name the user counted ("a used Tesla", "an Xbox") is a product: it keeps "a".
        # Not a name modifying a noun ("a Burger King franchise"), but "does a used
        # Tesla cost" (do-support: the verb follows).
        counted = re.compile(
            rf"(?:\b(?:do|does|did)\s+)?\b(?:a|an)\s+(?:[a-z][\w-]*\s+)?"
            rf"{re.escape(entity.text)}\b(?P<noun>\s+[a-z])?")
        if entity.kind == "thing" and any(
                m and (not m.group("noun") or m.group(0).lower().startswith("d")
                       or _name_with_noun(entity))
                for m in map(counted.search, questions)):
            return ("an " if entity.text[:1] in "AEIOU" else "a ") + entity.text
        if _name_with_noun(entity) and any(f"the {entity.text}" in q for q in questions):
            return f"the {entity.text}"  # a name with its noun: "the Pro plan"
        return entity.text
    pattern = re.compile(rf"\b(the|a|an|my|our|your|this|that)\s+{re.escape(entity.text)}\b",
                         re.IGNORECASE)
    for question in reversed(questions):
        m = pattern.search(question)
        if m:
            determiner = m.group(1).lower()
            kept = determiner in ("the", "a", "an", "my", "our")
            return f"{determiner if kept else 'the'} {entity.text}"
    return entity.text


def _name_with_noun(entity: Entity) -> bool:
    """A name that kept the common noun it modifies ("Pro plan", "Tesla chargers")."""
    return entity.proper and entity.text.split()[-1].islower()


def _is_kind(entity: Entity) -> bool:
    """A singular English noun phrase (a name with its noun too: "Tesla charger"),
    which "they" may take as its kind.

    "How do I choose a heat pump? Are they noisy?": "they" are heat pumps in general, so
    a phrase the user counted ("a heat pump") goes into the plural rather than keeping
    "a" ("Are a heat pump noisy?"); a bare one ("lavender", "throat cancer") is a mass
    noun and stays as it is.
    """
    return (entity.lang == "en" and not entity.plural and entity.kind == "thing"
            and re.fullmatch(r"[a-z][a-z\-]*[a-z]", entity.text.split()[-1]) is not None
            and (not entity.proper or len(entity.text.split()) > 1))


def _generic_singular(pool: Sequence[Entity], turn: int) -> Entity | None:
    """A plural kind that a singular "it" takes up when nothing singular fits.

    "What about Tesla cars? Where is it made?": a name compounded with a plural noun is a
    kind, which English also calls "it" in the generic singular ("the Tesla car"). Only
    such a compound named in the latest question counts; a plural common noun ("vacation
    days") is mostly a quantity, whose singular would change what is asked.
    """
    kinds = [e for e in pool if e.lang == "en" and e.plural and e.turn == turn
             and " and " not in e.text and _name_with_noun(e)]
    return _most_salient(kinds, turn)


def _en_singular(phrase: str) -> str:
    """The regular singular of a plural phrase's head: "Tesla cars" → "Tesla car"."""
    if re.search(r"[^aeiou]ies$", phrase):
        return phrase[:-3] + "y"
    if re.search(r"(?:ss|x|z|ch|sh)es$", phrase):
        return phrase[:-2]
    return phrase[:-1]


def _counted(entity: Entity, questions: Sequence[str]) -> bool:
    """Whether a question introduced `entity` with "a"/"an" as a verb's object ("find a
    Tesla charger"), not as a predicate ("Was it a hit?"), which names no thing."""
    pattern = re.compile(rf"\b(?P<verb>[A-Za-z']+)\s+(?:a|an)\s+{re.escape(entity.text)}\b")
    for question in questions:
        for m in pattern.finditer(question):
            if bare_word(m.group("verb")) not in _EN_PREDICATE_LEAD:
                return True
    return False


# Words before "a X" that make it a predicate: "was it a hit", "became a success".
_EN_PREDICATE_LEAD = frozenset(
    "is are was were be been being become became becomes it this that they such what".split())


def _en_plural(phrase: str) -> str:
    """The regular plural of a noun phrase's head: "door opener" → "door openers"."""
    if re.search(r"(?:s|x|z|ch|sh)$", phrase):
        return phrase + "es"
    if re.search(r"[^aeiou]y$", phrase):
        return phrase[:-1] + "ies"
    return phrase + "s"


def _replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """`text` with each (start, end) span replaced; spans are in order and do not overlap."""
    pieces: list[str] = []
    last = 0
    for start, end, replacement in spans:
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _zh_focus(pool: Sequence[Entity], previous: str | None) -> list[Entity]:
    """What the user's latest knowledge question was about: the known entities it named
    as its subject (before its verb), or all it named when none was a subject."""
    if previous is None:
        return []
    named = [e for e in extract_entities(previous, lang="zh") if e.lang == "zh"]
    subjects = [e.text for e in named if e.role == "subject"] or [e.text for e in named]
    # Only a subject named again (by the answer, or by an earlier turn) is the topic for
    # sure: a chat reply that goes on about something else has moved the talk there.
    known = {e.text: e for e in pool if e.repeated or any(
        o.turn == e.turn and e.text in o.text and o is not e for o in pool)}
    return [known[text] for text in subjects if text in known]


def _zh_focused(focus: Sequence[Entity], pool: Sequence[Entity], wanted: str, turn: int
                ) -> Entity | None:
    """The antecedent of a Chinese pronoun or a missing subject: the thing the user's latest
    question was about when it fits fully, else the best agreeing entity of the pool.

    An answer names many things (an address, a dishwasher, a price) and repeats some; the
    user's next question is mostly still about what they just asked about, so a fitting
    focus wins whatever the answer's salience says (a person for 它 fits only weakly and
    does not).
    """
    fitting = [e for e in focus if _agreement_score(e, wanted) >= 1.0]
    found = _best_agreeing(fitting, wanted, turn) if fitting else None
    if found is not None:
        return _fullest_name(found, pool, wanted)
    return _best_antecedent(pool, wanted, turn)


def _substitute_zh(
    text: str, pool: Sequence[Entity], turn: int, own: Sequence[Entity], mentions: list[Mention],
    focus: Sequence[Entity] = (),
) -> str:
    """Replace the referring words of a Chinese question, found on jieba's words.

    Pronouns go first; demonstratives only when no pronoun was resolved, since one
    question rarely refers back twice and a second guess mostly adds noise.
    """
    references = zh_references(zh_cut(text))
    spans: list[tuple[int, int, str]] = []
    for ref in references:
        if ref.kind != "pronoun":
            continue
        wanted, template = ZH_PRONOUNS[ref.word]
        if _named_before(text, ref.start, own, wanted):
            continue
        entity = _zh_focused(focus, pool, wanted, turn)
        if entity is None or _already_named(entity, mentions):
            continue
        if template == "{}的" and text[ref.end:ref.end + 1] == "的":
            template = "{}"
        mentions.append(Mention(ref.word, entity.text))
        spans.append((ref.start, ref.end, template.format(entity.text)))
    if not mentions:
        for ref in references:
            if ref.kind == "pronoun":
                continue
            found = _zh_demonstrative(ref, pool, turn, focus)
            if found is not None and not _already_named(found[1], mentions):
                end, entity = found
                mentions.append(Mention(text[ref.start:end], entity.text))
                spans.append((ref.start, end, entity.text))
    return _replace_spans(text, spans)


def _zh_demonstrative(
    ref: Reference, pool: Sequence[Entity], turn: int, focus: Sequence[Entity] = ()
) -> tuple[int, Entity] | None:
    """What a demonstrative stands for, and where the words it covers end; None if unsure.

    The whole phrase is replaced: 该校 and 这个学院 by the school's name, 那里 by the place.
    """
    if ref.kind == "place":
        entity = _zh_focused(focus, pool, "place", turn)
        return (ref.end, entity) if entity else None
    if ref.kind == "demonstrative":
        head, end = ref.word[1:], ref.end
    else:  # a determiner: 这个 + the noun after it, or 这个 alone
        head = ref.following
        # jieba keeps "公司总部" one word: the determiner's noun is 公司, 总部 its attribute.
        attribute = next((g for g in ZH_GENERIC if len(g) > 1 and head.endswith(g)
                          and len(head) > len(g)), "")
        head = head[:len(head) - len(attribute)]
        end = ref.end + len(head)
    # "这个学院" refers to an entity whose name ends with 学院 (文学院); 该校 and 这所学校
    # to a name whose head shares the 校 of 学校 (…大学, …学院 are schools too).
    heads = (_ZH_HEAD_FAMILIES.get(head) or _ZH_HEAD_FAMILIES.get(head[-1:], (head,))
             if head else ())
    matching = [e for e in pool if heads and e.text != head and e.text.endswith(heads)]
    entity = _most_salient(matching, turn) if matching else None
    kind = _ZH_HEAD_KINDS.get(head[-1:]) if head else None
    if entity is None and kind is not None:
        # "这所学校" after a school named without its head (a name jieba tags an
        # organisation): a thing of the head's kind, or nothing (never a city for it).
        entity = _most_salient([e for e in pool if e.kind == kind and e.proper], turn)
        return (end, _fullest_name(entity, pool)) if entity else None
    if entity is None and ref.kind == "determiner":
        # "这本书", "这部电影", "这个": the thing just talked about, named instead of the
        # phrase (a book's or film's title seldom ends with 书 or 电影).
        # 这个 alone can stand for a person too ("这个是人"); a classifier of things alone
        # (这首, 这款, 这部) stands for a thing, never the singer just named.
        wanted = "thing" if ref.following or ref.word[1:] in ZH_THING_CLASSIFIERS else "any"
        # The bare 这/那 of "这是…" stands for whatever was just talked about, named or not;
        # a phrase prefers a name, and takes a common noun only when nothing was named.
        names = [e for e in pool if e.proper]
        candidates = pool if ref.word in ZH_DEMONSTRATIVE_PRONOUNS or not names else names
        entity = _best_antecedent(candidates, wanted, turn)
    return (end, _fullest_name(entity, pool)) if entity else None


# A one-character head noun and the name endings that share its meaning.
_ZH_HEAD_FAMILIES: dict[str, tuple[str, ...]] = {
    "校": ("校", "大学", "学院", "中学", "小学"),
    "院": ("院", "学院", "医院"),
    "司": ("公司", "集团", "科技"),
    "国": ("国",),
    "市": ("市",),
    "省": ("省",),
    "河": ("河", "江"),
    "江": ("江", "河"),
    "山": ("山", "峰"),
    "书": ("书", "》"),
}


# The kind of thing a head noun's family names: 该公司 is an organisation, 这座城市 a place.
_ZH_HEAD_KINDS: dict[str, Kind] = {
    "校": "org", "院": "org", "司": "org", "市": "place", "省": "place", "国": "place",
    "河": "place", "江": "place", "山": "place",
}


# --- ellipsis and missing subjects --------------------------------------------------


# Plural nouns for groups of people: the ones a policy question is asked on behalf of.
# "-ees" words (employees, trainees) are people as a rule; the rest are listed, because
# "-ers"/"-ors" also make things (computers, monitors).
_EN_PEOPLE_HEADS = frozenset(
    "adults apprentices children colleagues consultants contractors customers families "
    "freelancers guests interns kids managers members parents partners people pupils "
    "residents seniors spouses staff students teachers teens temps users visitors "
    "volunteers workers".split()
)
_EN_GROUP_TARGET = re.compile(
    r"^(?:and\s+)?(?:for\s+)?(?P<x>(?:(?:the|all|our|new|[a-z]+-[a-z]+|[a-z]+)\s+){0,2}"
    r"(?P<head>[a-z]+))$", re.IGNORECASE)
# The speaker as the subject after do-support or a modal: "How many days do I get?"
_EN_SPEAKER_SUBJECT = re.compile(
    r"\b(?:do|did|can|could|should|must|may|will|would)\s+(?P<s>I|we)\b")


def _en_group_for_speaker(previous: str, target: str) -> str | None:
    """"How many vacation days do I get?" + "What about interns?" → "…do interns get?".

    A question the speaker asked for themselves ("do I", "can we") followed by "What
    about X?" or "And for X?" where X is a group of people asks the same for that group:
    the group takes the speaker's place. Only after do-support or a modal, where the verb
    does not change with its subject, and only when the speaker is named once.
    """
    m = _EN_GROUP_TARGET.match(target.strip(" ?.!"))
    if m is None:
        return None
    head = m.group("head").lower()
    if not (head in _EN_PEOPLE_HEADS or (head.endswith("ees") and len(head) > 5)):
        return None
    speakers = list(_EN_SPEAKER_SUBJECT.finditer(previous))
    if len(speakers) != 1:
        return None
    start, end = speakers[0].span("s")
    return previous[:start] + m.group("x") + previous[end:]


_EN_LEADING_PREPOSITION = re.compile(
    r"^(?:for|from|to|in|on|at|with|about|of|by|during|after|before|without|within)\s+(?=\S)",
    re.IGNORECASE)


def _en_same_head(previous: str, target: str) -> str | None:
    """"And for part-time employees?" after "How many … do full-time employees get?".

    A target whose head noun is the head of a phrase in the previous question is another
    one of the same kind (part-time employees, Porto airport): it replaces that phrase
    whole, and a preposition before it ("from Porto airport") is the one already there.
    """
    new = _EN_LEADING_PREPOSITION.sub("", target.strip())
    words = new.split()
    if not words or not re.fullmatch(r"[A-Za-z][\w'’\-]{2,}", words[-1]) or (
            len(words) > 4 or _EN_CLAUSE_TARGET.match(new)):
        return None
    head = words[-1].lower()
    phrases = sorted(extract_entities(previous, lang="en", common_nouns=True),
                     key=lambda e: -len(e.text))
    for phrase in phrases:
        if phrase.text.split()[-1].lower() != head or (
                phrase.text.lower() == new.lower() and new == target.strip()):
            continue
        start = previous.lower().find(phrase.text.lower())
        if start < 0:
            continue
        if previous[:start].lower().endswith("the ") and new.lower().startswith("the "):
            new = new[4:]
        swapped = re.search(r"\b(?:after|before|during|for|from|in|on|at|with|without|by)\s+"
                            r"(?:the\s+)?$", previous[:start], re.IGNORECASE)
        if swapped and new != target.strip() and not previous[:start].lower().endswith(
                target.strip().split()[0].lower() + " "):
            # "And during probation?" after "…after probation?": the preposition changes
            return previous[:swapped.start()] + target.strip() + previous[
                start + len(phrase.text):]
        return previous[:start] + new + previous[start + len(phrase.text):]
    return None


def _carry_predicate(
    previous: str, target: str, pool: Sequence[Entity], lang: Lang
) -> str | None:
    """"长江有多长？" + "亚马逊河" → "亚马逊河有多长？"."""
    mentioned = [e for e in extract_entities(previous, lang=lang, common_nouns=True)]
    mentioned += [e for e in pool if e.text.lower() in previous.lower() and e not in mentioned]
    # Only a name or a subject is what the previous question was about, and a name
    # replaces a name: "Who developed the theory of relativity?" + "What about Bohr?"
    # replaces no theory.
    if lang == "en" and target == target.lower():
        # A lower-case target is a kind of thing, which replaces one ("Does my Silver
        # plan cover physiotherapy?" + "What about acupuncture?"), never a name; nor what
        # the question asked for ("Which goods…", "How many sick days…"). Only a plain
        # noun phrase does: "using an implant", "benchmarks for music" carry nothing.
        words = re.sub(r"^(?:the|a|an)\s+", "", target).split()
        if not words or len(words) > 3 or words[0].endswith("ing") or any(
                w in EN_STOPWORDS for w in words):
            return None
        if re.match(r"\s*(?:which|what|how\s+many|how\s+much)\s+[a-z]+\s", previous,
                    re.IGNORECASE) and not re.match(r"\s*what\s+(?:is|are|was|were|do|does|"
                                                    r"did)\b", previous, re.IGNORECASE):
            return None  # "Which fabrics shrink…?" + "What about towels?": no slot to fill
        mentioned = [e for e in mentioned if not e.proper and not e.topic
                     and e.text.split()[-1].lower() not in _EN_PEOPLE_HEADS]
    else:
        mentioned = [e for e in mentioned if _names_referent(e)]
    if lang == "en" and _EN_NAME_ONLY.fullmatch(target.strip()):
        mentioned = [e for e in mentioned if e.proper]
    if not mentioned:
        return None
    # Replace the subject of the previous question: its first-named entity, named whole
    # ("predator plants", not "predator").
    positions = [(previous.lower().find(e.text.lower()), e) for e in mentioned]
    positions = [(p, e) for p, e in positions if p >= 0]
    if not positions:
        return None
    start, old = min(positions, key=lambda pe: (pe[0], -len(pe[1].text)))
    end = start + len(old.text)
    new = target
    if lang == "en" and target == target.lower() and re.search(
            r"\b(?:the|a|an|my|our|your)\s+$", previous[:start], re.IGNORECASE):
        new = re.sub(r"^(?:the|a|an)\s+", "", new, flags=re.IGNORECASE)  # no "a the …"
    if lang == "en":
        # "the Team plan" for "Basic" of "the Basic plan": the noun is there already.
        tail = re.match(r"\s+([a-z][\w-]*)\b", previous[end:])
        if tail and new.split()[-1].lower() == tail.group(1).lower():
            end += tail.end()
    if lang == "en" and previous[:start].lower().endswith("the "):
        if new.lower().startswith("the "):
            new = new[4:]  # "the Nile" → "the Amazon"
        elif new[:1].isupper():
            start -= 4  # "the First Lady" → "Jill": a name takes no article
    return previous[:start] + new + previous[end:]


# Tags of the words a "X呢" target may have for X to be a noun phrase ("交通补贴",
# "北京的冬天", "二号线"); a verb, a pronoun or an adverb makes it a clause that merely
# ends in 呢 ("我正在冲浪呢", "你的爱好呢"), which carries nothing over.
_ZH_NOUN_PHRASE_TAGS = ZH_NOUN_TAGS | {"ng", "j", "uj", "m", "q", "t", "f", "s", "b", "a", "an"}


def _zh_ellipsis(question: str, previous: str, target: str) -> str | None:
    """"长江有多长？" + "那黄河呢？" → "黄河有多长？"; None when no reading is safe.

    Chinese compounds put their head last, so a target sharing the last character of a
    noun of the previous question is a thing of the same kind (亚军 for 冠军, 住房补贴 for
    交通补贴): it takes that noun's place, with the modifiers the target brings its own
    of (金融学硕士 for 计算机科学硕士, 李梅教授 for 王建国教授), and the predicate carries
    over. A name takes the place of the previous question's first name of the same kind
    (黄河 for 长江), or becomes the topic of a question that named none ("北京呢" after
    "明天天气怎么样"). Otherwise the target is a part of the previous question's subject
    ("电池呢" after "X3保修多久" is X3's battery) when that subject is a name the predicate
    was said of, and the predicate carries over to the part; a common noun after a place
    is another thing in it, not a part (see `_zh_owner`); after the modifier of a compound
    whose head the predicate was about ("博士学制多长"), the target is asked about in the
    modifier, "博士的导师呢？"; or nothing is changed.
    """
    words = zh_tags(target)
    if not words or any(t not in _ZH_NOUN_PHRASE_TAGS for _, t in words):
        return None
    # A target the tagger did not end with a noun (年 + 假 of 年假) may still share the
    # head of a noun the previous question has: that reading alone is tried for it.
    nounish = words[-1][1] in ZH_NOUN_TAGS
    tagged = zh_tags(previous)
    proper = any(t in ZH_PROPER_TAGS for _, t in words)
    head = target[-1]
    offsets = _offsets(tagged)
    runs = _noun_runs(tagged, offsets, keep_generic=True)
    for start, run in runs:
        at = start
        for k, (word, _tag) in enumerate(run):
            if word != target and word[-1] == head and len(word) >= 2:
                first = _zh_replaced_modifiers(run[:k], proper, len(target) > len(word))
                begin = at - sum(len(w) for w, _ in run[first:k])
                return previous[:begin] + target + previous[at + len(word):]
            at += len(word)
    if not nounish:
        return None
    compounds = runs
    runs = [(start, [(w, t) for w, t in run if w not in ZH_GENERIC]) for start, run in runs]
    runs = [(start, run) for start, run in runs if run]
    if proper:
        kind = zh_kind(target, [t for _, t in words])
        for start, run in runs:
            if any(t in ZH_PROPER_TAGS for _, t in run):
                names = [(w, t) for w, t in run if t in ZH_PROPER_TAGS]
                name = "".join(w for w, _ in names)
                if zh_kind(name, [t for _, t in names]) not in (kind, "thing") and (
                        kind != "thing"):
                    return None  # a person's predicate does not fit a river
                at = start + sum(len(w) for w, _ in run[:run.index(names[0])])
                after = run[run.index(names[-1]) + 1:]
                title = "".join(w for w, _ in after)
                if title and target.endswith(title) and previous[at + len(name):].startswith(
                        title):
                    name += title  # 李梅教授 for 王建国教授: the title comes with the name
                return previous[:at] + target + previous[at + len(name):]
        named = any(t in ZH_PROPER_TAGS for _, run in runs for _, t in run)
        return None if named else target + previous
    if not compounds:
        return None
    return _zh_owner(question, previous, target, tagged, compounds[0])


def _zh_new_subject(target: str) -> bool:
    """Whether the X of "X呢" is a name (北京呢, 张三呢): a subject of its own, which the
    old subject put in front of would glue to ("张三北京呢"). A common noun may be a part
    or a feature of the old subject (景点呢 after a city) and does take it."""
    return any(t in ZH_PROPER_TAGS and t != "eng" for _, t in zh_tags(target))


def _zh_replaced_modifiers(modifiers: Sequence[tuple[str, str]], proper: bool, modified: bool
                           ) -> int:
    """How many of the words before a shared head a target replaces: where they start.

    A name replaces the name before the head (李梅教授 for 王建国教授: the same title, a
    new person); a target with modifiers of its own replaces the common ones (金融学硕士
    for 计算机科学硕士), never a name or an institution they belong to (东湖大学 stays); a
    bare head for a head (季军 for 冠军) replaces the head only.
    """
    first = len(modifiers)
    while modified and first > 0:
        word, tag = modifiers[first - 1]
        if (not proper) if tag in ZH_PROPER_TAGS else bool(_ZH_INSTITUTION.search(word)):
            break
        first -= 1
    return first


# Heads of the institution or place a common modifier belongs to ("东湖大学计算机科学硕士"):
# the new target replaces what follows them, not them.
_ZH_INSTITUTION = re.compile(r"(?:大学|学院|学校|公司|集团|医院|银行|中心|政府|省|市|县|区)$")


def _zh_owner(question: str, previous: str, target: str, tagged: Sequence[tuple[str, str]],
              run: tuple[int, list[tuple[str, str]]]) -> str | None:
    """A common-noun target asked about in the previous question's subject (its first
    noun run), see `_zh_ellipsis`; None when that reading is unsafe."""
    start, words = run
    while len(words) > 1 and words[0][0] in ZH_GENERIC:
        start, words = start + len(words[0][0]), words[1:]
    names = [(w, t) for w, t in words if w not in ZH_GENERIC]
    if any(t in ZH_PROPER_TAGS for _, t in names):
        words = names[:[t in ZH_PROPER_TAGS for _, t in names].index(True) + 1] if len(
            names) < len(words) else names
        owner = "".join(w for w, _ in words)
        if owner == target or target.startswith(owner):
            return None
        end = start + len(owner)
        rest = tagged[len(_offsets_until(tagged, end)):]
        if zh_kind(owner, [t for _, t in words]) == "place":
            # A thing asked after a place is not a part of it: another sight compared
            # with it ("西湖是哪年…", "…兵马俑呢" asks the same of 兵马俑), or, after "X有什么
            # 好玩的", a thing there, of which nothing is safe to say.
            if previous[start:end] != owner or not rest or not rest[0][1].startswith("v") or (
                    rest[0][0].startswith("有") or rest[0][1] == "vn"):
                return None  # also "X天气怎么样", "X的攻略": a predicate of X's attribute
            return previous[:start] + target + previous[end:]
        if previous[start:end] == owner and not any(
                t in ZH_NOUN_TAGS and w not in ZH_GENERIC for w, t in rest):
            # The predicate was said of the name itself ("X3保修多久"): a part of it is
            # asked the same ("电池呢" → "X3的电池保修多久").
            return f"{previous[:start]}{owner}的{target}{previous[end:]}"
    elif len(words) > 1 and len(modifier := _zh_modifier(words)) >= 2:
        owner = modifier  # 博士 of 博士学制: the head is the attribute
    else:
        return None
    if owner == target or target.startswith(owner):
        return None
    tail = question[question.rindex(target) + len(target):].strip()
    return f"{owner}的{target}{tail}"


def _zh_modifier(words: Sequence[tuple[str, str]]) -> str:
    """The modifier of a compound: the words before its head, which is its last word or
    the first attribute after the modifier (学制 of 博士学制多长)."""
    head = next((k for k in range(1, len(words)) if words[k][0] in ZH_GENERIC), len(words) - 1)
    return "".join(w for w, _ in words[:head])


def _offsets_until(tagged: Sequence[tuple[str, str]], end: int) -> list[tuple[str, str]]:
    """The tagged words that end at or before character `end`."""
    out, at = [], 0
    for word, tag in tagged:
        if at + len(word) > end:
            break
        out.append((word, tag))
        at += len(word)
    return out


def _offsets(tagged: Sequence[tuple[str, str]]) -> list[int]:
    offsets, at = [], 0
    for word, _ in tagged:
        offsets.append(at)
        at += len(word)
    return offsets


def _noun_runs(
    tagged: Sequence[tuple[str, str]], offsets: Sequence[int], keep_generic: bool = False
) -> list[tuple[int, list[tuple[str, str]]]]:
    """Runs of consecutive noun words (a compound name), with where each starts; generic
    nouns (长度, 学费) end a run unless `keep_generic`."""
    runs: list[tuple[int, list[tuple[str, str]]]] = []
    for (word, tag), start in zip(tagged, offsets, strict=True):
        if tag in ZH_NOUN_TAGS and (keep_generic or word not in ZH_GENERIC):
            if runs and runs[-1][0] + sum(len(w) for w, _ in runs[-1][1]) == start:
                runs[-1][1].append((word, tag))
            else:
                runs.append((start, [(word, tag)]))
    return runs


_EN_DEFINITE = re.compile(
    r"\bthe\s+(?!same\b|other\b|first\b|last\b|next\b|most\b|best\b|rest\b|end\b|"
    r"time\b|year\b|show\b|name\b)[a-z]{3,}", re.IGNORECASE
)


# A question about what the conversation itself means ("Which period are we talking
# about?", "Who do you mean?") asks for a clarification: its subject is the talk.
_EN_ABOUT_THE_TALK = re.compile(
    r"\b(?:we|you|they)(?:['’]re|\s+(?:are|were))?\s+(?:talking|speaking|referring|discussing)\b"
    r"|\b(?:do|did)\s+(?:you|they)\s+mean\b",
    re.IGNORECASE,
)


# An ellipsis target that is a clause ("…what happened next?"), not a thing.
_EN_CLAUSE_TARGET = re.compile(r"(?:what|who|how|why|where|which|whether|when)\b", re.I)
# A target that is a name only ("the Volga", "Jane"): it replaces a name, not a phrase.
_EN_NAME_ONLY = re.compile(
    r"(?:the\s+)?[A-Z][\w'’.\-]*(?:\s+(?:of|the|de|and|&)?\s*[A-Z][\w'’.\-]*)*")


def _names_a_thing(target: str) -> bool:
    """Whether an English ellipsis target is a name or a noun phrase, not a circumstance.

    "How about on the grill?" changes a detail; "What about what happened next?" is a
    clause; "What about some things to do in town?" is a phrase with a clause of its
    own: the previous question's predicate fits none of them.
    """
    return not re.match(r"(?:on|in|at|for|with|during|after|before|if|when|to|what|who|how|"
                        r"why|where|which|whether)\b", target, re.IGNORECASE) and not re.search(
        r"\b(?:to|that|which|who|where|when)\s+\w+", target, re.IGNORECASE)


def _has_reference(text: str, lang: Lang) -> bool:
    """Whether the question refers with a pronoun or a demonstrative (它, 那里, 这本书, she)."""
    if lang == "zh":
        return bool(zh_references(zh_cut(text)))
    # "let's do it" refers to an action, not to anything the question is about
    return any(not _does_this(text, m.start(), m.end()) for m in en_pronouns(text))


# A bare plural subject after an auxiliary states something general and needs no
# antecedent: "How long must passwords be?", "Do cats sleep a lot?".
_EN_GENERIC_SUBJECT = re.compile(
    r"\b(?:is|are|was|were|do|does|did|can|could|must|should|will|would|may|might)\s+"
    r"(?!(?:they|these|those|others|there|its|his|hers|ours|yours|theirs|this|is|was|has|"
    r"does|goes|as|us)\b)[a-z]{3,}s\b",
    re.IGNORECASE,
)


def _has_definite_description(text: str) -> bool:
    """Whether an English question names its subject with a definite description.

    "Why are the amplifiers important?" refers to something the reader can identify;
    "Were there any controversies?" leaves the subject to the conversation; "How long
    must passwords be?" is about passwords in general.
    """
    # "How long does the battery last?": a part of something named before (bridging).
    after_do = {m.start("head") - len("the ") for m in _EN_DEFINITE_SUBJECT.finditer(text)
                if not m.group("head").lower().endswith("s")}
    return bool(_EN_GENERIC_SUBJECT.search(text)) or any(
        m.start() not in after_do and (
            not _EN_BARE_DEFINITE.match(text, m.start())
            or not _EN_AFTER_AUXILIARY.search(text, 0, m.start()))
        for m in _EN_DEFINITE.finditer(text))


# "the" and one noun as the subject after an auxiliary, before a closed-class word or
# the end ("How did the album do?", "Was the tour a success?"): a definite that points
# back to the conversation's topic (definite anaphora), so it does not name the
# question's subject; "the band's drummer", "the Nile", "what happened with the law",
# "who named the movement" do.
_EN_AFTER_AUXILIARY = re.compile(
    r"\b(?:is|was|are|were|do|does|did|has|have|had|can|could|will|would|should)\s+$",
    re.IGNORECASE)
_EN_BARE_DEFINITE = re.compile(r"the\s+[a-z]+" + _EN_PHRASE_END, re.IGNORECASE)


def _mentions_known(text: str, pool: Sequence[Entity], topic: str | None, lang: Lang) -> bool:
    """Whether the question names a known entity, even partly or in lower case ("wambach")."""
    lowered = text.lower()
    # A common noun phrase met as a detail ("any other teams") does not make a later
    # question that repeats it name its subject.
    names = [e.text for e in pool if _names_referent(e)] + (
        [topic] if topic else [])
    if lang == "zh":
        return any(e.text in text for e in pool if len(e.text) >= 2)
    words = {w for name in names for w in re.findall(r"[a-z0-9]{4,}", name.lower())}
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def _names_own_subject(text: str, own: Sequence[Entity], lang: Lang) -> bool:
    """Whether the question names what it is about.

    An English question with any name of its own does. A Chinese one does when a noun
    stands before its predicate (its subject or topic) or it names a proper noun; a
    common noun after the verb is an object, and the clause still lacks its subject
    ("不是花瓶", "怎么申请奖学金"): Chinese drops a subject the conversation supplies.
    With an object of its own, a clause whose subject is 我 or 你 talks about that
    object ("我在看小说呢"); without one it still leaves out what it is about ("我也想去").
    "你的…", "我的…" name their own subject.
    """
    if lang == "zh":
        personal = _zh_personal_subject(text)
        return any(e.role == "subject" or e.proper for e in own) or personal == "possessor" or (
            bool(own) and personal == "subject")
    # "the culture" of "What was the culture like?" is bridged to the conversation's
    # subject (see `_bridging_definite`): no subject of the question's own.
    return any(e.proper or not _bridging_definite(text, [replace(e, role="subject")])
               for e in own)


# The speaker and the listener: a clause they are the subject of has its subject
# ("我正在看小说呢", "你觉得呢"), even though it names no entity.
_ZH_PERSONAL = frozenset("我 你 您 我们 你们 咱们 咱 俺 大家".split())


def _zh_personal_subject(text: str) -> Literal["subject", "possessor", ""]:
    """How a personal pronoun opens the clause (after its openers): as its subject, as the
    possessor of its subject ("你的爱好"), or not at all ("")."""
    words = zh_tags(text)
    for k, (word, tag) in enumerate(words):
        if _zh_opener(word, tag) or word in ("那", "那么"):
            continue
        if word not in _ZH_PERSONAL:
            return ""
        return "possessor" if k + 1 < len(words) and words[k + 1][0] == "的" else "subject"
    return ""


# A copula needs a subject: "是一种鸟吗", "就是这家店", "我觉得是真的" leave it out,
# whatever else they name. Compounds jieba keeps whole count too; 可是, 只是, 还是 and
# 但是 are conjunctions ("but", "or") and do not.
_ZH_COPULAS = frozenset("是 就是 也是 不是 都是 正是 才是 算是 应该是 可能是 肯定是 一定是".split())
# Verbs of thinking and saying whose complement is a clause ("我觉得[X]是…"): its
# missing subject goes after them.
_ZH_COGNITION = frozenset(
    "觉得 认为 估计 知道 猜 感觉 想 说 记得 听说 相信 确定 怀疑 以为 发现 看".split())


# Tags of a Chinese utterance that is only a noun phrase: nouns and what modifies them
# (numerals, classifiers, adjectives, 的), and particles and punctuation around them.
_ZH_FRAGMENT_TAGS = frozenset(
    {"n", "ng", "vn", "j", "m", "q", "mq", "a", "b", "uj", "f", "y", "x", "e", "zg"})


def _zh_fragment(text: str) -> int | None:
    """Where a noun-phrase utterance's missing subject goes, or None if it is no fragment.

    A reply that is a common noun phrase and nothing else ("一部动漫啊", "诗人") has no
    predicate to have a subject: it is said of what the conversation is about. With a
    numeral and a classifier in front it is a predicate nominal, "X是一部动漫"; the
    copula is then part of the completion, so the gap comes with it (see `resolve`).
    A name of its own (nr, ns, nt, nz) makes it a new topic, not a fragment.
    """
    words = [(w, t) for w, t in zh_tags(text) if w.strip()]
    content = [(w, t) for w, t in words if t not in ("y", "x", "e", "zg")]
    if not content or any(t not in _ZH_FRAGMENT_TAGS for _, t in content) or not any(
            t in ("n", "ng", "vn", "j") for _, t in content):
        return None
    return len(text) - len(text.lstrip())


# Words that pick one out of a set named before ("其中哪个最有名"): the set is what the
# question is about, and a subject put in front of them reads as a second one. Not
# 其他/其余 ("其他的呢" asks for the rest of what was talked about, and takes it).
_ZH_PARTITIVES = frozenset("其中 其一".split())


def _zh_partitive(text: str) -> bool:
    """Whether a Chinese question opens (after its openers) with a partitive word."""
    for word, tag in zh_tags(text):
        if not (_zh_opener(word, tag) or word in ("那", "那么")):
            return word in _ZH_PARTITIVES
    return False


def _zh_indefinite(text: str) -> bool:
    """Whether a noun phrase opens with "one" and a classifier ("一部…", "一个…"), which
    jieba tags as one numeral word."""
    words = zh_tags(text.strip())
    return bool(words) and words[0][1] in ("m", "mq") and words[0][0][:1] == "一"


def _zh_copula_gap(text: str) -> int | None:
    """Where the missing subject of a clause that opens with its copula goes, or None.

    After the openers and a "我觉得"-like frame come adverbs ("就", "应该") and then the
    copula: the subject goes before the adverbs ("X就是…").
    """
    words = zh_tags(text)
    k, at = 0, 0
    while k < len(words) and (_zh_opener(*words[k]) or (k == 0 and words[k][0] in (
            "那", "那么"))):
        at += len(words[k][0])
        k += 1
    if k < len(words) and words[k][0] in _ZH_PERSONAL and k + 1 < len(words) and (
            words[k + 1][0] in _ZH_COGNITION):
        at += len(words[k][0]) + len(words[k + 1][0])
        k += 2
    elif k < len(words) and words[k][0] in _ZH_COGNITION:
        at += len(words[k][0])
        k += 1
    gap = at
    while k < len(words) and words[k][1] in ("d", "ad") and words[k][0] not in _ZH_COPULAS:
        k += 1
    if k + 1 >= len(words) or words[k][0] not in _ZH_COPULAS:
        return None
    # "是的", "是啊，…" answer yes: a copula with no complement wants no subject.
    return None if words[k + 1][1] in _ZH_PARTICLE_TAGS else gap


# Tags of what may follow an answering 是 ("是的", "是吗？", "是啊"): particles, 的,
# punctuation.
_ZH_PARTICLE_TAGS = frozenset({"y", "x", "e", "zg", "uj"})


def _zh_answers_yes(text: str) -> bool:
    """Whether the whole utterance is a copula and particles ("是的", "是吗？"): an answer
    or a question back, with no complement for a subject to go with."""
    words = zh_tags(text)
    return bool(words) and words[0][0] in _ZH_COPULAS and all(
        t in _ZH_PARTICLE_TAGS for _, t in words[1:])


# Words that open a Chinese question before its clause (a conjunction, an interjection, a
# modal particle, punctuation): the missing subject goes after them ("因为X…", "嗯，X…").
_ZH_OPENING_TAGS = frozenset({"c", "e", "o", "y", "x"})


def _zh_opener(word: str, tag: str) -> bool:
    """Whether a tagged word opens a clause without being part of it ('x' is punctuation
    and spaces, but also an ideograph word the dictionary lacks, which is content)."""
    return tag in _ZH_OPENING_TAGS and not (tag == "x" and has_cjk(word))


def _attach_subject(text: str, subject: str, lang: Lang) -> str:
    if lang == "zh":
        words = zh_tags(text)
        if words and words[0][0] in ("那", "那么"):
            # Drop an opening 那/那么 ("那有哪些专业？"), but only as a word of its own.
            text, words = text[len(words[0][0]):], words[1:]
        start = 0
        for k, (word, tag) in enumerate(words):
            answer = k == 0 and word in _ZH_COPULAS and len(words) > 1 and (
                words[1][1] in _ZH_PARTICLE_TAGS)  # "是啊，…" answers before the clause
            if not (_zh_opener(word, tag) or answer):
                break
            start += len(word)
        if not text[start:].strip(" ，,。！!？?、"):
            start = 0  # nothing but openers ("嗯嗯？"): the subject goes first
        return f"{text[:start]}{subject}{text[start:]}"
    # The subject goes in front, as a topic ("Ada Lovelace: who else worked on the engine?"):
    # an appended "about X" read wrongly after most questions ("…about this article about
    # X", "…used for about X") and was a word the human rewrites almost never add (9 of
    # 134 appended on the tuning halves).
    first = text.split(maxsplit=1)[0] if text.split() else ""
    if first and bare_word(first) in _EN_CLOSED_OPENERS:
        text = text[:1].lower() + text[1:]
    return f"{subject}: {text}"


def _has_attached_subject(question: str, pool: Sequence[Entity]) -> bool:
    """Whether `question` is a standalone form that `_attach_subject` put a subject on."""
    return any(question.startswith(f"{e.text}: ") for e in pool)


# Words a question opens with that are grammar, not a name: lower-cased after a topic.
_EN_CLOSED_OPENERS = frozenset(
    "what who whom whose when where why how which is are was were do does did can could "
    "will would should shall may might must has have had any anything anyone anybody "
    "are there tell describe explain give list show the a an and but so other another "
    "besides apart aside in on at for with from of".split()
)

