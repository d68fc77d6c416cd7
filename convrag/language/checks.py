"""Input checks shared by the graph and the command line."""

from __future__ import annotations

import re

DEFAULT_MAX_QUESTION_CHARS = 2000
MAX_THREAD_ID_CHARS = 200
"""Longest thread id: a UUID is 36 characters, a user's own name for a thread a few
dozen; anything far longer is a mistake (a pasted text) that would be stored as a key."""

# ANSI/VT escape sequences: CSI ("\x1b[31m"), OSC ("\x1b]0;title\x07") and two-character
# escapes.
ESCAPES = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
_ESCAPE = re.compile(ESCAPES)
# Zero-width space, non-joiner and joiner, word joiner, byte order mark: invisible, and
# they split words ("谢\u200b谢") so that nothing recognises them.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
# Control characters that stand for white space (tab, vertical tab, form feed, carriage
# return, the file/group/record/unit separators, next line) read as a space.
_SPACE_CONTROLS = re.compile("[\t\x0b\x0c\r\x1c-\x1f\x85]")
# Every other C0 and C1 control character but the newline.
_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def clean_question(text: str) -> str:
    """`text` without terminal escape sequences, zero-width characters and control
    characters (white-space controls become spaces, newlines stay).

    The first thing done to a question: what a terminal or a paste put around it is no
    part of it, and would keep "thanks" from being small talk or an empty question from
    being refused.
    """
    text = _ESCAPE.sub("", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACE_CONTROLS.sub(" ", text.replace("\r\n", "\n"))
    return _CONTROLS.sub("", text)


def question_problem(question: str, limit: int = DEFAULT_MAX_QUESTION_CHARS) -> str | None:
    """Why a question cannot be processed (one sentence that says what to do), or None."""
    if not question.strip():
        return "The question is empty: type a question."
    if len(question) > limit:
        return (
            f"The question is {len(question)} characters long, over the limit of {limit}: "
            "shorten it or ask it in parts."
        )
    return None


def thread_problem(thread_id: object) -> str | None:
    """Why a thread id cannot be used (one sentence that says what to do), or None."""
    text = str(thread_id)
    if not text.strip():
        return "The thread id is empty: give a name such as 'support-42'."
    if len(text) > MAX_THREAD_ID_CHARS:
        return (f"The thread id is {len(text)} characters long, over the limit of "
                f"{MAX_THREAD_ID_CHARS}: use a shorter one.")
    if _ANY_CONTROL.search(text):
        return ("The thread id contains a control character (a newline, a tab, an escape "
                "sequence): use letters, digits and punctuation.")
    return None
