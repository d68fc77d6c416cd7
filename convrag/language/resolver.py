"""Rule-based coreference resolution: rewrite a follow-up into a standalone question.

This is the offline mode of the `resolve_coreference` node and the fallback of the
model mode. It works on the discourse entities of the conversation:

- pronouns (它/他/她/其, it/he/she/they, possessives) become their antecedent, chosen by
  agreement (person, gender, number) and salience (recency, subject role, proper noun);
- ellipsis ("那亚马逊河呢？", "What about the Mississippi?") carries the previous
  question's predicate over to the new entity;
- a question that names no subject ("有哪些专业？") gets the most salient entity;
- a question that is already standalone is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from convrag.language import gate, intent
from convrag.language.entities import (
    Entity,
    extract_entities,
    learn_features,
    merge_entities,
)
from convrag.language.tokens import Lang, detect_lang

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
    previous_question: str | None = None
    turn: int = 0
    topic: str | None = None

    def __post_init__(self) -> None:
        # The background topic ("Frank Zappa — Disbandment") is an entity from the start.
        if self.topic and not any(e.topic for e in self.entities):
            head = re.split(r"\s+[—–-]\s+|\s*[:：|]\s*", self.topic.strip())[0].strip()
            if head:
                topic = Entity(text=head, role="subject", proper=True, lang=detect_lang(head),
                               topic=True)
                self.entities = merge_entities([topic], self.entities)


def absorb_answer(dialogue: Dialogue, answer: str) -> None:
    """Learn from an assistant answer: pronoun features, and entities it introduced.

    A short answer often *is* the antecedent ("Zappa and the Mothers of Invention"),
    so its entities join the dialogue; from a long answer only the first sentence counts.
    """
    dialogue.entities = learn_features(dialogue.entities, answer)
    first = re.split(r"(?<=[。！？.!?])\s*", answer.strip(), maxsplit=1)[0]
    new = [
        Entity(**{**e.to_dict(), "role": "object"})
        for e in extract_entities(first[:300], turn=dialogue.turn)
    ]
    dialogue.entities = merge_entities(dialogue.entities, new)


def note_question(dialogue: Dialogue, standalone: str) -> None:
    """Record a resolved question: its entities become the most salient ones."""
    dialogue.turn += 1
    dialogue.entities = merge_entities(
        dialogue.entities, extract_entities(standalone, turn=dialogue.turn)
    )
    dialogue.previous_question = standalone


def replay(history: Sequence[tuple[str, str]], topic: str | None = None) -> Dialogue:
    """Build the dialogue state of a conversation given as (role, content) turns.

    Each past user question is resolved in order, exactly as the graph does turn by
    turn, so an evaluation row and a live thread see the same entities.
    """
    dialogue = Dialogue(topic=topic)
    for role, content in history:
        if role == "user":
            resolution = resolve(content, dialogue)
            note_question(dialogue, resolution.standalone)
        else:
            absorb_answer(dialogue, content)
    return dialogue


def resolve(question: str, dialogue: Dialogue) -> Resolution:
    """Rewrite `question` into a standalone question using `dialogue`."""
    text = question.strip()
    if intent.classify(text) != "knowledge":
        # Small talk and questions about the chat itself refer to nothing to resolve.
        return Resolution(text, "none", (), ())
    lang = detect_lang(text)
    own = extract_entities(text, lang=lang)
    pool = dialogue.entities
    in_dialogue = dialogue.previous_question is not None
    # Before the first question only pronouns can refer (to the topic): a question that
    # names nothing then is not elliptical.
    names_subject = bool(own) or _mentions_known(text, pool, dialogue.topic, lang) or (
        lang == "en" and _has_definite_description(text)
    )
    verdict = gate.check(
        text, has_history=bool(pool) or in_dialogue,
        names_subject=names_subject or not in_dialogue, lang=lang,
    )
    if not verdict.needs_resolution or not pool:
        return Resolution(text, "none", (), verdict.reasons)

    if "ellipsis" in verdict.reasons:
        target = gate.ellipsis_target(text, lang)
        if target and lang == "zh" and not extract_entities(target, lang="zh"):
            target = None  # "喜不喜欢呢" drops a predicate's object, not a new entity
        if target and dialogue.previous_question:
            rewritten = _carry_predicate(dialogue.previous_question, target, pool, lang)
            if rewritten:
                # The mention is the elliptical question; it stands for the previous one.
                return Resolution(
                    rewritten, "ellipsis", (Mention(text, dialogue.previous_question),),
                    verdict.reasons,
                )

    rewritten_text, mentions = _substitute_pronouns(text, pool, lang, dialogue.turn, own)
    if mentions:
        return Resolution(rewritten_text, "pronoun", tuple(mentions), verdict.reasons)

    if not names_subject and in_dialogue:
        best = _most_salient(pool, dialogue.turn)
        if best is not None:
            return Resolution(
                _attach_subject(text, best.text, lang), "no_subject",
                (Mention("", best.text),), verdict.reasons,
            )
    return Resolution(text, "none", (), verdict.reasons)


# --- pronouns -----------------------------------------------------------------------

_ZH_PRONOUNS: dict[str, tuple[str, str]] = {
    # pronoun: (agreement class, replacement template)
    "它们": ("plural", "{}"),
    "他们": ("plural", "{}"),
    "她们": ("plural", "{}"),
    "它": ("thing", "{}"),
    "她": ("female", "{}"),
    "他": ("male", "{}"),
    "其": ("any", "{}的"),
}
_ZH_PRONOUN_RE = re.compile(r"它们|他们|她们|它|她|他(?![人])|其(?![他它实中次余])")
_ZH_DEMONSTRATIVE_RE = re.compile(
    r"(?:这|那|该|此)(?:个|些|位|条|座|家|所|本|部|种|项|件|款|只)?"
    r"(?P<noun>[\u4e00-\u9fff]{1,4}?)(?=[有是的在为成于建叫位属和与，,？?。吗呢]|$)"
)

_EN_PRONOUNS: dict[str, tuple[str, str]] = {
    "it": ("thing", "{}"),
    "itself": ("thing", "{}"),
    "its": ("thing", "{}'s"),
    "they": ("plural", "{}"),
    "them": ("plural", "{}"),
    "their": ("plural", "{}'s"),
    "theirs": ("plural", "{}'s"),
    "he": ("male", "{}"),
    "him": ("male", "{}"),
    "his": ("male", "{}'s"),
    "she": ("female", "{}"),
    "her": ("female", "{}"),
    "hers": ("female", "{}'s"),
}
_EN_PRONOUN_RE = re.compile(r"\b(" + "|".join(_EN_PRONOUNS) + r")\b", re.IGNORECASE)
# "this"/"that" standing for a thing: at the end, before a verb, or after a preposition
# and not before a noun ("this time frame" is left alone).
_EN_DEMONSTRATIVE_RE = re.compile(
    r"(?P<p>\b(?:about|of|in|for|with|after|before|during|from)\s+)?\b(?P<d>that|this)\b"
    r"(?(p)(?!\s+[a-z])|(?=\s*[?.!]?\s*$|\s+(?:is|was|are|were|be|been|start|started|begin|"
    r"began|happen|happened|mean|means|meant|do|does|did|have|has|had|become|became|come|"
    r"came|lead|led|cause|caused|end|ended|take|took|get|got|work|worked|affect|affected)\b))",
    re.IGNORECASE,
)
_EN_NOUNISH_NEXT = re.compile(r"\s+(?!(?:to|in|on|at|for|with|by|from|and|or|as|about|\?|\.))[a-z]")


def _agreement_score(entity: Entity, wanted: str) -> float:
    """How well an entity fits a pronoun; negative rules it out."""
    person = entity.kind == "person"
    if wanted == "female":
        if entity.gender == "female":
            return 3.0
        if entity.gender == "male" or entity.kind in ("place", "org"):
            return -1.0
        return 1.0 if person else (0.2 if entity.proper and entity.lang == "en" else -0.5)
    if wanted == "male":
        if entity.gender == "male":
            return 3.0
        if entity.gender == "female" or entity.kind in ("place",):
            return -1.0
        return 1.0 if person else (0.5 if entity.proper else -0.5)
    if wanted == "thing":
        if person:
            return -1.0
        return 1.0
    if wanted == "plural":
        if entity.plural or entity.kind == "org":
            return 2.0
        if " and " in entity.text or "和" in entity.text or "与" in entity.text:
            return 2.5
        return 0.3
    return 1.0


def _salience(entity: Entity, turn: int) -> float:
    if entity.topic:
        # As salient as anything the previous answer named, however long ago it was set.
        return 1.0
    recency = -1.5 * max(0, turn - entity.turn)
    return recency + (1.0 if entity.role == "subject" else 0.0) + (1.0 if entity.proper else 0.0)


def _fullest_name(entity: Entity, pool: Sequence[Entity]) -> Entity:
    """The longest known mention of the same referent: "Hunter" → "Duncan Hunter".

    A coreference chain is best named by its most complete mention; answers often
    shorten a name the topic or an earlier turn gave in full.
    """
    if entity.lang == "zh":
        longer = [e for e in pool if entity.text in e.text and len(e.text) > len(entity.text)
                  and e.kind == entity.kind]
    else:
        words = set(entity.text.lower().split())
        longer = [e for e in pool if words < set(e.text.lower().split())
                  and " and " not in e.text]
    return max(longer, key=lambda e: len(e.text)) if longer else entity


def _best_antecedent(pool: Sequence[Entity], wanted: str, turn: int) -> Entity | None:
    if wanted in ("female", "male"):
        # An entity known to have the pronoun's gender beats a closer one of unknown gender.
        known = [e for e in pool if e.gender == wanted]
        pool = known or pool
    best: tuple[float, Entity] | None = None
    for entity in pool:
        agreement = _agreement_score(entity, wanted)
        if agreement < 0:
            continue
        score = _salience(entity, turn) + agreement
        if best is None or score > best[0]:
            best = (score, entity)
    return _fullest_name(best[1], pool) if best else None


def _most_salient(pool: Sequence[Entity], turn: int) -> Entity | None:
    if not pool:
        return None
    return max(pool, key=lambda e: _salience(e, turn))


def _already_named(entity: Entity, mentions: Sequence[Mention]) -> bool:
    """Name a referent once; later pronouns for it read naturally ("…do after his film")."""
    return any(m.antecedent == entity.text for m in mentions)


def _named_before(text: str, position: int, own: Sequence[Entity], wanted: str) -> bool:
    """Whether the question itself names a fitting antecedent before `position`.

    "What did Ballmer do next in his life?": "his" is Ballmer, already in the question.
    """
    lowered = text.lower()
    return any(
        0 <= lowered.find(e.text.lower()) < position and _agreement_score(e, wanted) >= 0
        for e in own if e.proper
    )


def _substitute_pronouns(
    text: str, pool: Sequence[Entity], lang: Lang, turn: int, own: Sequence[Entity] = ()
) -> tuple[str, list[Mention]]:
    mentions: list[Mention] = []

    if lang == "zh":
        def zh_pronoun(m: re.Match[str]) -> str:
            wanted, template = _ZH_PRONOUNS[m.group(0)]
            if _named_before(text, m.start(), own, wanted):
                return m.group(0)
            entity = _best_antecedent(pool, wanted, turn)
            if entity is None or _already_named(entity, mentions):
                return m.group(0)
            if template == "{}的" and text[m.end():m.end() + 1] == "的":
                template = "{}"
            mentions.append(Mention(m.group(0), entity.text))
            return template.format(entity.text)

        out = _ZH_PRONOUN_RE.sub(zh_pronoun, text)
        if not mentions:
            out = _ZH_DEMONSTRATIVE_RE.sub(
                lambda m: _zh_demonstrative(m, pool, turn, mentions), out
            )
        return out, mentions

    def en_pronoun(m: re.Match[str]) -> str:
        word = m.group(0).lower()
        wanted, template = _EN_PRONOUNS[word]
        if word == "her" and not _EN_NOUNISH_NEXT.match(text[m.end():]):
            template = "{}"
        elif word == "her":
            template = "{}'s"
        if _named_before(text, m.start(), own, wanted):
            return m.group(0)
        entity = _best_antecedent(pool, wanted, turn)
        if entity is None or _already_named(entity, mentions):
            return m.group(0)
        mentions.append(Mention(m.group(0), entity.text))
        name = entity.text if entity.proper or m.start() > 0 else entity.text[:1].upper() + \
            entity.text[1:]
        return template.format(name)

    out = _EN_PRONOUN_RE.sub(en_pronoun, text)
    if not mentions:
        def en_demonstrative(m: re.Match[str]) -> str:
            entity = _best_antecedent(pool, "thing", turn) or _most_salient(pool, turn)
            if entity is None:
                return m.group(0)
            mentions.append(Mention(m.group("d"), entity.text))
            return (m.group("p") or "") + entity.text

        out = _EN_DEMONSTRATIVE_RE.sub(en_demonstrative, out)
    return out, mentions


def _zh_demonstrative(
    m: re.Match[str], pool: Sequence[Entity], turn: int, mentions: list[Mention]
) -> str:
    noun = m.group("noun")
    # "这个学院" refers to an entity whose name ends with 学院 (文学院).
    matching = [e for e in pool if e.text.endswith(noun) and e.text != noun]
    entity = _most_salient(matching, turn) if matching else None
    if entity is not None:
        mentions.append(Mention(m.group(0), entity.text))
        return entity.text
    entity = _best_antecedent(pool, "any", turn)
    if entity is None:
        return m.group(0)
    mentions.append(Mention(m.group(0), entity.text))
    return f"{entity.text}的{noun}"


# --- ellipsis and missing subjects --------------------------------------------------


def _carry_predicate(
    previous: str, target: str, pool: Sequence[Entity], lang: Lang
) -> str | None:
    """"长江有多长？" + "亚马逊河" → "亚马逊河有多长？"."""
    mentioned = [e for e in extract_entities(previous, lang=lang)]
    mentioned += [e for e in pool if e.text.lower() in previous.lower() and e not in mentioned]
    if not mentioned:
        return None
    # Replace the subject of the previous question: its first-named entity.
    positions = [(previous.lower().find(e.text.lower()), e) for e in mentioned]
    positions = [(p, e) for p, e in positions if p >= 0]
    if not positions:
        return None
    pos, old = min(positions, key=lambda pe: pe[0])
    new = target
    if lang == "en":
        before = previous[:pos].lower()
        if before.endswith("the ") and new.lower().startswith("the "):
            new = new[4:]
    return previous[:pos] + new + previous[pos + len(old.text):]


_EN_DEFINITE = re.compile(
    r"\bthe\s+(?!same\b|other\b|first\b|last\b|next\b|most\b|best\b|rest\b|end\b|"
    r"time\b|year\b|show\b|name\b)[a-z]{3,}", re.IGNORECASE
)


def _has_definite_description(text: str) -> bool:
    """Whether an English question names its subject with a definite description.

    "Why are the amplifiers important?" refers to something the reader can identify;
    "Were there any controversies?" leaves the subject to the conversation.
    """
    return bool(_EN_DEFINITE.search(text))


def _mentions_known(text: str, pool: Sequence[Entity], topic: str | None, lang: Lang) -> bool:
    """Whether the question names a known entity, even partly or in lower case ("wambach")."""
    lowered = text.lower()
    names = [e.text for e in pool] + ([topic] if topic else [])
    if lang == "zh":
        return any(e.text in text for e in pool if len(e.text) >= 2)
    words = {w for name in names for w in re.findall(r"[a-z0-9]{4,}", name.lower())}
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def _attach_subject(text: str, subject: str, lang: Lang) -> str:
    if lang == "zh":
        body = re.sub(r"^(?:那么|那)\s*", "", text)
        return f"{subject}{body}"
    body = text.rstrip(" ?.!")
    return f"{body} about {subject}?"
