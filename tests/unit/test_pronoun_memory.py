"""What a user's own pronoun taught the resolver about an antecedent outlives the turn."""

from __future__ import annotations

import pytest

from convrag.language.resolver import replay, resolve


@pytest.mark.parametrize(
    ("history", "question", "not_expected"),
    [
        # The user called the building "it": a later "he" is somebody else.
        ([("user", "When was Big Ben built?"), ("assistant", "It was finished in 1859."),
          ("user", "How heavy is it?"), ("assistant", "It weighs 13.7 tonnes."),
          ("user", "Who cast the bell?"), ("assistant", "Whitechapel cast it.")],
         "Where was he born?", "Big Ben"),
        ([("user", "Where is Table Mountain?"), ("assistant", "Above Cape Town."),
          ("user", "How old is it?"), ("assistant", "Its rocks are very old.")],
         "When did she climb it?", "Table Mountain climb"),
    ],
)
def test_something_called_it_is_never_he_or_she(history, question, not_expected):
    resolution = resolve(question, replay(history))
    assert not_expected not in resolution.standalone


def test_an_it_still_finds_what_the_user_called_it():
    history = [("user", "Where is Table Mountain?"), ("assistant", "Above Cape Town."),
               ("user", "How old is it?"), ("assistant", "Its rocks are very old.")]
    assert "Table Mountain" in resolve("How high is it?", replay(history)).standalone
