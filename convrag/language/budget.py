"""Fit a prompt into a token budget: recent turns, summary and passages, cut in that order.

Whatever is cut, the instructions and the question stay. The conversation part (the
summary and the turns) has a share of its own, so a prompt is the same size on the
200th turn as on the 20th, whether older turns are still verbatim or already summarized.
The oldest turns go first (the summary is the conversation compressed, the densest
part), then the summary's oldest lines, and passages last, the least relevant (the last
in retrieval order) first, so the prompt keeps what the answer is grounded in for as
long as it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from convrag.language.tokens import count_tokens

# Chat formats spend a few tokens per message on roles and separators.
PER_MESSAGE_TOKENS = 4


@dataclass(frozen=True)
class PromptPlan:
    """What fits: the summary (maybe clipped), the newest `turns` kept, the passages kept."""

    summary: str
    turns: int
    passages: tuple[str, ...]
    tokens: int


def clip_summary(summary: str, budget: int) -> str:
    """The newest lines of `summary` that fit `budget` tokens; a lone long line is cut."""
    lines = [line for line in summary.splitlines() if line.strip()]
    while len(lines) > 1 and count_tokens("\n".join(lines)) > budget:
        lines.pop(0)
    text = "\n".join(lines)
    return text if count_tokens(text) <= budget else clip_text(text, budget)


def clip_text(text: str, budget: int) -> str:
    """The longest prefix of `text` within `budget` tokens, marked with '…' when cut."""
    if count_tokens(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle] + "…") <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…" if low else ""


def fit_prompt(
    budget: int,
    *,
    fixed: Sequence[str],
    summary: str,
    turns: Sequence[str],
    passages: Sequence[str],
    conversation_budget: int | None = None,
) -> PromptPlan:
    """Choose the parts of a prompt so that it stays within `budget` tokens.

    Args:
        budget: the most tokens the prompt may take.
        fixed: the messages never cut (the instructions, the question), as texts.
        summary: the running summary of older turns.
        turns: recent turns, oldest first, each as the text of one message.
        passages: retrieved passages, most relevant first.
        conversation_budget: the most tokens the summary and turns may take together
            (None: only `budget` applies).

    Only `fixed` can push the prompt past `budget`: a question longer than the whole
    budget is still sent, with nothing else beside it. Parts are counted one by one,
    which never counts less than the assembled prompt.
    """
    fixed_cost = sum(count_tokens(text) + PER_MESSAGE_TOKENS for text in fixed)
    turn_costs = [count_tokens(t) + PER_MESSAGE_TOKENS for t in turns]
    passage_costs = [count_tokens(p) for p in passages]
    kept_turns = len(turns)
    kept_passages = list(passages)
    lines = [line for line in summary.splitlines() if line.strip()]

    share = budget if conversation_budget is None else conversation_budget

    def conversation() -> int:
        text = "\n".join(lines)
        return (count_tokens(text) if text else 0) + sum(turn_costs[len(turns) - kept_turns:])

    def total() -> int:
        return fixed_cost + conversation() + sum(passage_costs[:len(kept_passages)])

    def over() -> bool:
        return conversation() > share or total() > budget

    while kept_turns and over():
        kept_turns -= 1
    while lines and over():
        lines.pop(0)
    while len(kept_passages) > 1 and total() > budget:
        kept_passages.pop()
    if kept_passages and total() > budget:
        room = budget - (total() - passage_costs[0])
        kept_passages[0] = clip_text(kept_passages[0], room) if room > 0 else ""
        if not kept_passages[0]:
            kept_passages = []
        passage_costs[0] = count_tokens(kept_passages[0]) if kept_passages else 0
    return PromptPlan("\n".join(lines), kept_turns, tuple(kept_passages), total())
