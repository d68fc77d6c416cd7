"""Common English-script given names by the gender they usually mark.

A pronoun resolver without a model learns a person's gender only from how an answer
refers back to them ("…she won…"). Before that, a name's first word is the best evidence
there is: "Where did she work before?" should not bind "Tom Becker". The lists hold
frequent given names of English-speaking and other countries written in Latin script,
leaving out names that are as often places, months or words (Jordan, Paris, Georgia,
Florence, May, Grace, Rose) and names common for both (Alex, Sam, Taylor, Jamie).
They are evidence, not knowledge: a listed name only rules out the other pronoun.
"""

from __future__ import annotations

from typing import Literal

FEMALE_GIVEN_NAMES = frozenset(
    """
    abigail ada adriana agnes aisha alice alicia alison amanda amelia amy ana anastasia
    andrea angela anita anna anne annie antonia ashley audrey barbara beatrice bella
    beth betty bianca brenda bridget brittany camila carla carmen carol caroline
    catherine cecilia chiara chloe christina christine claire clara claudia
    cristina cynthia daisy daniela deborah denise diana diane donna dorothy eleanor
    elena elisa elizabeth ella ellen emily emma erica erin esther eva eve evelyn fatima
    fiona francesca gabriela gabrielle giulia gloria hannah heather helen helena ingrid
    irene isabel isabella jacqueline jane janet jasmine jennifer jessica joan joanna
    josephine joyce judith julia julie karen katherine kathleen kathryn kelly kimberly
    laura lauren leah linda lisa lucia lucy lydia maria marie marilyn martha mary megan
    melanie melissa mia michelle monica nadia nancy natalia natasha nicole nina olivia
    pamela patricia paula priya rachel rebecca rita ruth samantha sandra sara sarah
    sophia sophie stephanie susan svetlana tatiana teresa theresa tina valentina
    vanessa vera veronica wendy yasmin yvonne zoe
    """.split()
)
MALE_GIVEN_NAMES = frozenset(
    """
    aaron adam adrian ahmed alan albert alberto alejandro alexander alfred ali andrew
    andre anthony antonio arthur benjamin bernard bill bob brandon brian bruce carl
    carlos charles christopher daniel david dennis diego dmitri donald douglas edward
    eric ernest ethan eugene felix fernando francis francisco frank fred frederick
    gary george gerald giovanni giuseppe gregory hans harold harry henry howard hugo
    ian isaac ivan jack jacob james jason jeffrey jeremy jerry jim joe john johnny
    jonathan jorge jose joseph joshua juan justin karl keith kenneth kevin larry lars
    lawrence leo leonard louis lucas luis luke marco marcus mark martin matthew michael
    miguel mohammed muhammad nathan nicholas oliver oscar patrick paul pedro peter
    philip pierre rafael ralph raj ravi raymond richard robert roberto roger ronald
    ryan samuel scott sean sergei simon stephen steven thomas timothy tom tony victor
    vincent walter wayne william
    """.split()
)

Gender = Literal["female", "male", "unknown"]


def given_name_gender(name: str) -> Gender:
    """The gender a name's first word usually marks: "Tom Becker" → male."""
    first = name.split()[0].lower() if name.split() else ""
    if first in FEMALE_GIVEN_NAMES:
        return "female"
    if first in MALE_GIVEN_NAMES:
        return "male"
    return "unknown"
