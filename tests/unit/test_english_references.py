"""English references the rule-based resolver must get right, one table per failure class.

Every example is written for this file (none comes from an evaluation set). Each table
states what a class needs; negative rows pin down where the resolver must change nothing.
"""

from __future__ import annotations

import pytest

from convrag.language.entities import en_noun_phrases, extract_entities
from convrag.language.resolver import replay, resolve


def _ask(history: list[tuple[str, str]], question: str, topic: str | None = None) -> str:
    return resolve(question, replay(history, topic)).standalone


def _user(*questions: str) -> list[tuple[str, str]]:
    """A conversation of user questions only, as in a search session without answers."""
    return [("user", q) for q in questions]


# --- lower-case noun phrases are antecedents ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        # after a possessive, ended by the auxiliary
        ("Why is my dishwasher leaving spots on the glasses?", ["dishwasher", "glasses"]),
        # "facts" is a vague head: what the question asks about is the object of "about"
        ("What are some fun facts about owls?", ["owls"]),
        # do-support: the subject, then a bare verb (at once after a plural)
        ("How does crop rotation work on small farms?", ["crop rotation", "small farms"]),
        ("Do big cats sleep all day?", ["big cats"]),
        # how many + noun + auxiliary
        ("How many sick days do I get per year?", ["sick days"]),
        # the object of a question whose subject is the wh-word
        ("What causes migraine headaches?", ["migraine headaches"]),
        # attributes and lone gerunds are no things
        ("What is a normal day like?", []),
        ("Tell me about renting.", []),
    ],
)
def test_noun_phrases_are_found_without_a_tagger(text, phrases):
    assert [e.text for e in en_noun_phrases(text)] == phrases


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # "it" takes the lower-case phrase the conversation is about, with the user's
        # own determiner: a possessive or an article stays, a bare phrase stays bare
        (_user("Why is my dishwasher leaving spots on the glasses?"),
         "Why does it smell bad?", "Why does my dishwasher smell bad?"),
        (_user("What is a heat pump?"), "How does it work?", "How does a heat pump work?"),
        (_user("What is tinnitus?"), "Is it curable?", "Is tinnitus curable?"),
        # "they" takes a plural phrase
        (_user("What are some fun facts about owls?"), "What do they eat?", "What do owls eat?"),
        # "it" may stand for a plural where no verb marks it singular...
        ([("user", "How many sick days do I get per year?"),
          ("assistant", "Twelve days a year.")],
         "Can it be carried over?", "Can sick days be carried over?"),
        # ...but not beside "is", "does", "has"
        (_user("What are some fun facts about owls?"), "Why is it nocturnal?",
         "Why is it nocturnal?"),
        # one-anaphora names the kind of thing
        (_user("How do I repair a cracked phone screen?"), "Should I buy a new one?",
         "Should I buy a new cracked phone screen?"),
        # a possessive of a plural reads "owls'"
        (_user("What are some fun facts about owls?"), "Where are their nests?",
         "Where are owls' nests?"),
    ],
)
def test_lower_case_antecedents(history, question, expected):
    assert _ask(history, question) == expected


def test_a_detail_phrase_never_beats_a_name():
    # "improvisations" is a detail of the question about the quartet, not its subject.
    history = [("user", "How did the Kronos Quartet work with improvisations?"),
               ("assistant", "They rehearsed them for months.")]
    assert _ask(history, "Which cities did they tour?") == (
        "Which cities did Kronos Quartet tour?")


# --- sentence openers and wh-words are no names ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Interesting. What about a cheaper model?",
        "OK. Tell me about the warranty.",
        "What's important for me to know about the warranty?",
        "Great. Describe the installation.",
    ],
)
def test_sentence_openers_are_not_names(text):
    assert not [e for e in extract_entities(text) if e.proper]


def test_an_opener_never_becomes_an_antecedent():
    history = _user("What's the best way to clean a cast iron pan?",
                    "Interesting. What about a stainless steel pan?")
    assert "What" not in _ask(history, "How could they be damaged?")
    assert "Interesting" not in _ask(history, "What oil should I use?")


# --- the subject a question lacks: a topic in front, never "about X" appended -------------


@pytest.mark.parametrize(
    ("history", "question", "topic", "expected"),
    [
        # the conversation's topic goes in front of a question that names no subject
        ([("user", "When did the band form?"), ("assistant", "In 1965.")],
         "Any other members?", "The Zombies — Formation", "The Zombies: any other members?"),
        # a definite description in a conversation about a topic is the topic's
        ([("user", "When did the band form?"), ("assistant", "In 1965.")],
         "How did the album sell?", "The Zombies — Formation",
         "The Zombies: how did the album sell?"),
        # a title's disambiguation is not part of the name
        ([("user", "When was it released?"), ("assistant", "In 1999.")],
         "Who sang the chorus?", "Tides (song) — Video", "Tides: who sang the chorus?"),
        # a question about what the talk means is a clarification: left alone
        ([("user", "When did the band form?"), ("assistant", "In 1965.")],
         "Which period are we talking about?", "The Zombies — Formation",
         "Which period are we talking about?"),
        # a question naming its own subject comes back unchanged
        ([("user", "When did the band form?"), ("assistant", "In 1965.")],
         "Who founded the Kinks?", "The Zombies — Formation", "Who founded the Kinks?"),
    ],
)
def test_a_missing_subject_is_the_topic_in_front(history, question, topic, expected):
    assert _ask(history, question, topic) == expected


def test_an_object_of_its_own_still_takes_a_subject_the_user_referred_back_to():
    # "it" made the cargo bike the conversation's subject; "the battery" is its part.
    history = _user("How much does a cargo bike weigh?", "How fast can it go?")
    assert _ask(history, "How long does the battery last?") in (
        "How long does the battery last?",  # a definite description names its subject
        "cargo bike: how long does the battery last?")
    assert _ask(history, "Are there any safety rules?").startswith("cargo bike: ")


def test_without_a_topic_the_subject_is_the_most_salient_referent():
    history = _user("How much does a used tractor cost?",
                    "Interesting. What about a small sawmill?")
    assert _ask(history, "What are the risks?") == "small sawmill: what are the risks?"
    # A noun phrase of its own ("licenses") makes it a question about that, unless the
    # conversation kept to one subject (see the cargo bike above).
    assert _ask(history, "What licenses are needed?") == "What licenses are needed?"


@pytest.mark.parametrize(
    ("first", "topic", "question", "expected"),
    [
        # "puppy training" is a label; the user's first question names the puppy
        ("What should I feed my puppy?", "puppy training", "How often?", "puppy: how often?"),
        # so is a topic ending in a lower-case word, capitalised or not
        ("What is Tromsø known for?", "Tromsø tourism", "Is there a ski season?",
         "Tromsø: is there a ski season?"),
        # a name stays the topic
        ("Where did she train?", "Ada Yonath — Career", "Any awards?", "Ada Yonath: any awards?"),
    ],
)
def test_a_topic_label_gives_way_to_the_users_words(first, topic, question, expected):
    assert _ask([("user", first), ("assistant", "…")], question, topic) == expected


def test_an_ellipsis_does_not_carry_a_question_whose_subject_was_attached():
    history = [("user", "What is the Silk Road?"), ("assistant", "A network of trade routes."),
               ("user", "Which goods were traded?"),
               ("assistant", "Silk, spices and paper.")]
    # "Which goods were traded?" names its own subject, so nothing was attached to it, and
    # "What about X?" has no subject phrase to replace: it is left as asked (the search's
    # history-aware leg still carries the Silk Road).
    assert _ask(history, "What about horses?") == "What about horses?"


# --- he/she only for people ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # a name after "the" (or ending in a common noun) is an institution or an event
        ([("user", "What was the Crystal Palace fire?"),
          ("assistant", "A fire that destroyed the hall in 1936.")],
         "Why was he convicted?", "Why was he convicted?"),
        ([("user", "When did the Hanseatic League begin?"),
          ("assistant", "In the 12th century.")],
         "Who led her?", "Who led her?"),
        # a lone capitalised word only an answer used is not somebody, nor is a date
        ([("user", "Where did Ray Charles grow up?"), ("assistant", "In Greenville, Florida.")],
         "When did he go blind?", "When did Ray Charles go blind?"),
        ([("user", "When did Ray Charles sign with Atlantic?"),
          ("assistant", "In November 1952, after years of touring.")],
         "Who produced him?", "Who produced Ray Charles?"),
        # someone the user called "he" is not an "it" later
        (_user("Why did Ben Jonson quit?", "When did he start?"),
         "Why was it banned?", "Why was it banned?"),
    ],
)
def test_he_and_she_bind_people_only(history, question, expected):
    assert _ask(history, question) == expected


def test_a_date_is_never_an_antecedent():
    history = [("user", "When did the quartet record?"),
               ("assistant", "In March 1968, in London.")]
    assert "1968" not in _ask(history, "Did it sell well?")


# --- negative rows: nothing to resolve ----------------------------------------------------


@pytest.mark.parametrize(
    ("history", "question"),
    [
        # pleonastic "it"
        (_user("How do I bake sourdough bread?"), "How long does it take to proof the dough?"),
        (_user("How do I bake sourdough bread?"), "Is it hard to keep a starter alive?"),
        # a question that names its own subject
        (_user("How do I bake sourdough bread?"), "What flour do bagels need?"),
        (_user("What are some fun facts about owls?"), "How long do parrots live?"),
        # a question about its own object, after a question about something else
        (_user("Who manages the warehouse?"), "How many parking spaces do I get?"),
        (_user("What does the Gold membership cost?"), "Can I pause my subscription?"),
        (_user("Which app do we use for timesheets?"), "How long does it take to get a badge?"),
        # a pleonastic "it" whose clause is the subject, after a question about someone
        (_user("Who runs the finance team?"), "How long does it take to get reimbursed?"),
        (_user("Who runs the finance team?"), "Is it possible to pay by card?"),
        # its own subject, lower-case
        (_user("Which app do we use for timesheets?"), "When do new interns arrive?"),
    ],
)
def test_nothing_to_resolve_comes_back_unchanged(history, question):
    result = resolve(question, replay(history))
    assert result.standalone == question
    assert not result.mentions


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # binding: "Ireland … of it" would be "of itself" if it meant Ireland
        ("What did Ireland think of it?", "What did Ireland think of the treaty?"),
        # a subject pronoun may take a name of an earlier clause
        ("What is Lake Bled, and why is it famous?", "What is Lake Bled, and why is it famous?"),
    ],
)
def test_binding_of_pronouns_inside_a_question(question, expected):
    history = [("user", "When was the treaty signed?"), ("assistant", "In 1951.")]
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # small talk between leaves the thread's questions to carry
        ([("user", "Who was Marie Curie?"), ("assistant", "A physicist and chemist."),
          ("user", "Thanks!"), ("assistant", "You're welcome! Anything else?")],
         "What about Einstein?", "Who was Einstein?"),
        # a name replaces a name, never the object of a question
        ([("user", "Who developed the theory of evolution?"), ("assistant", "Charles Darwin.")],
         "What about Wallace?", "What about Wallace?"),
        # the whole subject phrase is replaced, trailing adverbials dropped
        (_user("What do carnivorous plants eat?"), "What about pitcher plants in particular?",
         "What do pitcher plants eat?"),
        # a name takes no article
        (_user("Do we pay the Prime Minister?"), "And Jane?", "Do we pay Jane?"),
        # a clause is no target
        (_user("When did the protest start?"), "And how about what happened next?",
         "And how about what happened next?"),
        # a reaction before the ellipsis is left as it is
        (_user("How tall is the Eiffel Tower?"), "Wow. What about the Shard?",
         "How tall is the Shard?"),
        # a circumstance with a new thing of its own brings its own subject
        (_user("How much does a used tractor cost?"), "What about for a small farm?",
         "What about for a small farm?"),
    ],
)
def test_ellipsis(history, question, expected):
    assert _ask(history, question) == expected


# --- a definite noun that is the head of a name ---------------------------------------------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        (_user("What is the weather like in Cape Town?"),
         "What can tourists do in the town?", "What can tourists do in Cape Town?"),
        (_user("When did the Hanseatic League form?"),
         "Why did the league decline?", "Why did the Hanseatic League decline?"),
        # a longer noun phrase is another thing; a person's surname is no head noun
        (_user("What is the weather like in Cape Town?"),
         "Who chairs the town council?", "Who chairs the town council?"),
        (_user("When did the Hanseatic League form?"),
         "Which museum covers its history?", "Which museum covers Hanseatic League's history?"),
    ],
)
def test_a_definite_head_noun_names_the_name(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What about interns?", "How many sick days can interns take?"),
        ("And for part-time employees?", "How many sick days can part-time employees take?"),
        ("What about the new trainees?", "How many sick days can the new trainees take?"),
        # things are no group of people; a name is no group either
        ("What about printers?", "What about printers?"),
        ("What about Lisbon?", "What about Lisbon?"),
    ],
)
def test_a_group_of_people_takes_the_speakers_place(question, expected):
    history = [("user", "How many sick days can I take?"), ("assistant", "Ten a year.")]
    assert _ask(history, question) == expected


# --- a name that modifies a noun, kinds in the plural, given names -----------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # after a determiner, the noun ending its phrase belongs to the name
        ("What is in the Gold tier?", ["Gold tier"]),
        ("Where can I buy a Lumo charger?", ["Lumo charger"]),
        # after a preposition only a plural noun does ("in Oslo today" is no compound)
        ("Tell me about Kestrel drones in winter.", ["Kestrel drones"]),
        ("What is there to do in Oslo today?", ["Oslo"]),
        # do-support with a plural noun, then the verb
        ("What do Kestrel drones weigh?", ["Kestrel drones"]),
        # after do-support, a noun and then its bare verb
        ("Does the Gold tier include backups?", ["Gold tier"]),
        ("How much does the Gold tier cost?", ["Gold tier"]),
        # the word after the name is a verb or a predicate: no compound
        ("Did the Danube freeze?", ["Danube"]),
        ("Did the Danube flood farms?", ["Danube"]),
        ("Why did the Kinsmen break up?", ["Kinsmen"]),
        ("Is the Danube wide?", ["Danube"]),
        ("Why is the Danube famous?", ["Danube"]),
        # a possessive
        ("What was the Gold tier's price?", ["Gold tier"]),
    ],
)
def test_a_name_keeps_the_noun_it_modifies(text, names):
    assert [e.text for e in extract_entities(text, lang="en", common_nouns=True)
            if e.proper] == names


def test_a_name_compound_is_only_read_in_questions():
    # An answer's names stay names: its noun phrases are mostly detail.
    assert [e.text for e in extract_entities("It is sold in the Lumo shop.", lang="en")] == [
        "Lumo"]


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # "it" takes the compound, never its modifier
        (_user("How much is the Gold tier?"), "Does it include backups?",
         "Does the Gold tier include backups?"),
        # "they" takes a counted kind in the plural, its possessive too
        (_user("How do I pick a standing desk?"), "Are they expensive?",
         "Are standing desks expensive?"),
        (_user("How do I pick a standing desk?"), "What is their average height?",
         "What is standing desks' average height?"),
        # a name the user counted is a product and keeps its article
        (_user("How much does a used Lumo cost?"), "How does it compare to a Vexa?",
         "How does a Lumo compare to a Vexa?"),
        # a singular "it" takes a plural compound as its kind, in the singular
        (_user("What about Kestrel drones?"), "Where is it made?",
         "Where is the Kestrel drone made?"),
    ],
)
def test_kinds_and_compounds(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # a given name's usual gender rules the other pronoun out...
        (_user("When did Martin Okafor join the team?"), "Where did she work before?",
         "Where did she work before?"),
        (_user("Who is Helen Varga?"), "What did he write?", "What did he write?"),
        # ...and the same pronoun still binds
        (_user("When did Martin Okafor join the team?"), "Where did he work before?",
         "Where did Martin Okafor work before?"),
        # a name no list marks fits either
        (_user("Who is Quill Marsh?"), "What did she write?", "What did Quill Marsh write?"),
    ],
)
def test_a_given_name_rules_out_the_other_gender(history, question, expected):
    assert _ask(history, question) == expected


def test_the_background_topic_still_takes_a_pronoun_of_the_other_gender():
    # A user unsure of a person's gender still means the page the conversation is on.
    assert _ask([], "Where was he born?", topic="Helen Varga") == "Where was Helen Varga born?"


@pytest.mark.parametrize(
    ("history", "question", "topic", "expected"),
    [
        # "the X" after its auxiliary is bridged to what the conversation is about
        (_user("When was it founded?"), "What was the cuisine like?", "Kingdom of Aragon",
         "Kingdom of Aragon: what was the cuisine like?"),
        # a definite with a complement names its own subject
        (_user("When was it founded?"), "What was the cuisine of Sicily like?",
         "Kingdom of Aragon",
         "What was the cuisine of Sicily like?"),
    ],
)
def test_a_bare_definite_subject_is_bridged_to_the_topic(history, question, topic, expected):
    assert _ask(history, question, topic) == expected


# --- what a stranger's conversation turned up -------------------------------------------


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # grammar and units are no names: "Let's", "180°C", a weekday
        ([("user", "Let's change the subject. What is the Nimbus hub?"),
          ("assistant", "The Nimbus hub is a smart-home controller.")],
         "Does it work offline?", "Does the Nimbus hub work offline?"),
        ([("user", "How hot should the oven be for the bread?"),
          ("assistant", "Bake the bread at 180°C.")],
         "Is it worth proofing the dough twice?", "Is it worth proofing the dough twice?"),
        ([("user", "Is the Folkwang library open on Sundays?"),
          ("assistant", "Yes, the Folkwang library opens every day at ten.")],
         "How do I get to it from the station?",
         "How do I get to the Folkwang library from the station?"),
        # a firm is no he or she
        ([("user", "Who started Marsh & Quill?"),
          ("assistant", "Marsh & Quill was started by Ingrid Marsh and Peter Quill.")],
         "Where did she study?", "Where did Ingrid Marsh study?"),
        # "do this" is an action, not a thing
        (_user("How do I defrost the Polar freezer?"), "How often should I do this?",
         "Polar freezer: how often should I do this?"),
        # the whole name with its nouns; a verb before a determiner is no noun
        (_user("What's covered by the Premium travel insurance add-on?"),
         "Is it valid abroad?", "Is the Premium travel insurance add-on valid abroad?"),
        (_user("My Zephyr kettle shows an error light."), "How do I reset it?",
         "How do I reset Zephyr kettle?"),
        # "they" after a thing just counted, in a conversation without names
        ([("user", "Can the office lend me a laptop stand?"),
          ("assistant", "Yes, you can borrow a laptop stand from the front desk.")],
         "How long can I keep them?", "How long can I keep laptop stands?"),
        (_user("I'm thinking of buying a rowing machine."), "Are they loud?",
         "Are rowing machines loud?"),
        # bridging takes what the user asked about, not an answer's detail
        ([("user", "How do I apply for parental leave?"),
          ("assistant", "File the leave form in Peoplehub with your due date.")],
         "What is the deadline?", "parental leave: what is the deadline?"),
        (_user("How do I pair the Aurora X2 speaker with my phone?"),
         "How long does the battery last?",
         "Aurora X2 speaker: how long does the battery last?"),
        # an earlier clause of the question names the object's antecedent
        (_user("How do I clean the Zephyr kettle filter?"),
         "If the Zephyr kettle lid breaks, can I replace it myself?",
         "If the Zephyr kettle lid breaks, can I replace it myself?"),
    ],
)
def test_a_strangers_follow_ups(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # a target of the same kind (its head noun) replaces that phrase whole
        (_user("How many sick days do salaried employees get?"), "And for hourly employees?",
         "How many sick days do hourly employees get?"),
        (_user("How do I get from Brno station to the old town?"),
         "How about from Olomouc station?", "How do I get from Olomouc station to the old town?"),
        # a lower-case target replaces a thing, never a name
        (_user("Does my Gold dental plan pay for braces?"), "What about implants?",
         "Does my Gold dental plan pay for implants?"),
        # nor what the question asked for, nor with a clause or gerund
        (_user("Which fabrics shrink in the wash?"), "What about towels?",
         "What about towels?"),
        (_user("How long does a filling last?"), "What about getting a crown?",
         "What about getting a crown?"),
    ],
)
def test_what_about_a_thing_of_the_same_kind(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # two fitting referents named side by side: a guess would be wrong half the time
        (_user("Tell me about Robin Hale and Avery Stone."), "Where did he study?",
         "Where did he study?"),
        (_user("Compare the Lite plan and the Max plan."), "Does it include support?",
         "Does it include support?"),
        (_user("I own a Zephyr kettle and a Kestrel toaster."), "How do I descale it?",
         "How do I descale it?"),
        # one of them ruled out by gender: the other is meant
        (_user("Tell me about Peter Hale and Maria Stone."), "Where did she study?",
         "Where did Maria Stone study?"),
        # "do it" is an action; do-support's "it" is a thing
        (_user("How do I defrost the Polar freezer?"), "How often should I do it?",
         "Polar freezer: how often should I do it?"),
        (_user("What is the Polar freezer?"), "How does it work?",
         "How does the Polar freezer work?"),
        # "Why is that?" asks about what was said
        (_user("What are the rules for visitors at the lab?"), "That seems strict. Why is that?",
         "That seems strict. Why is that?"),
        # "one" on its own after a verb: one of the kind asked about
        (_user("Does the company pay for standing desks?"), "Where can I order one?",
         "Where can I order a standing desk?"),
        # a missing subject is what a user asked about, never an answer's detail (DC-7)
        ([("user", "How do I file a dental claim?"),
          ("assistant", "Fill in form DC-7 and attach the receipt.")],
         "How long until I get paid?", "dental claim: how long until I get paid?"),
        # the noun after the replaced name is not written twice
        (_user("Does the Lite plan include backups?"), "What about the Max plan?",
         "Does the Max plan include backups?"),
    ],
)
def test_what_a_second_stranger_asked(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # a wh-phrase alone asks the previous how/when/where question again
        (_user("How do I clean the Zephyr kettle?"), "How often?",
         "How often do I clean the Zephyr kettle?"),
        (_user("How long do I steam the dumplings?"), "At what heat?",
         "At what heat do I steam the dumplings?"),
        # not after a what-question, whose wh-word is no circumstance: the subject only
        (_user("What is the Zephyr kettle?"), "How often?", "Zephyr kettle: how often?"),
        # a subject or an object of the question's own: no unestablished subject in front
        (_user("How do I join the Wi-Fi?"), "How much does colour scanning cost?",
         "How much does colour scanning cost?"),
        (_user("When is the sauna open?"), "Where can I get bath towels?",
         "Where can I get bath towels?"),
        # what the question says itself is never put in front of it
        (_user("When is the sauna open?", "Is it busy at night?"), "Where can I buy sauna oil?",
         "Where can I buy sauna oil?"),
        # "it" after a name that only completed a noun: the noun phrase as written
        (_user("How long is the guarantee on the Zephyr kettle?"), "Does it cover rust?",
         "Does the guarantee on the Zephyr kettle cover rust?"),
        # but not an attribute ("the price of…") nor a plural ("the opening hours of…")
        (_user("What is the price of the Zephyr kettle?"), "Does it come in red?",
         "Does the Zephyr kettle come in red?"),
        (_user("What are the opening hours of the Folkwang library?"), "Is it free?",
         "Is the Folkwang library free?"),
        # a title's period ends no sentence of an answer
        ([("user", "Who runs the eye clinic?"),
          ("assistant", "Dr. Amara Osei has run the clinic since 2015.")],
         "Where did she train?", "Where did Dr. Amara Osei train?"),
        # the preposition changes with its phrase
        (_user("How long is the notice period during probation?"), "And after probation?",
         "How long is the notice period after probation?"),
    ],
)
def test_fragments_and_own_subjects(history, question, expected):
    assert _ask(history, question) == expected


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # "they": the plural just named, not the place it was named at
        (_user("Where are the quiet reading rooms at the Harlow Library?"),
         "Can they be booked?", "Can the quiet reading rooms be booked?"),
        # "they" after a counted name with its noun, among other names
        (_user("Where can I rent a Vela scooter in Bergen?"), "Are they electric?",
         "Are Vela scooters electric?"),
        # "it" after "the X at <name>": the X the question asked about
        (_user("What is the parking fee at the Harlow Library?"), "Is it capped?",
         "Is the parking fee capped?"),
        (_user("How do I renew the parking permit at the Harlow Library?"), "Is it free?",
         "Is the parking permit at the Harlow Library free?"),
        # a role noun before a name: the name, a person
        ([("user", "Who was Anders Brekke?"), ("assistant", "A Norwegian chemist."),
          ("user", "Now tell me about the sculptor Ines Varela.")],
         "What was her best-known work?", "What was Ines Varela's best-known work?"),
        # "Why?" after a yes/no question asks it again
        (_user("Can I bring my dog to the Harlow Library?"), "Why?",
         "Why can I bring my dog to the Harlow Library?"),
        # weather and daylight "it"
        (_user("When does the Ravenscar trail car park close?"),
         "It gets dark early in winter, so when should I set off?",
         "It gets dark early in winter, so when should I set off?"),
    ],
)
def test_what_a_third_stranger_asked(history, question, expected):
    assert _ask(history, question) == expected
