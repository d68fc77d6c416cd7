"""Parse CONVRAG_AUTH_TOKENS, with no side effect on import.

`convrag.auth` parses the environment's value when it is imported (so a malformed value
stops a server that loads it); the launchers check a value first without importing it.
"""

from __future__ import annotations


def parse_tokens(spec: str) -> dict[str, str]:
    """`token1:user1,token2:user2` as {token: user}; ValueError names a malformed entry."""
    tokens: dict[str, str] = {}
    entry_of: dict[str, int] = {}
    for number, entry in enumerate(spec.split(","), start=1):
        if not entry.strip():
            continue
        token, sep, user = entry.strip().partition(":")
        if not sep or not token.strip() or not user.strip():
            # Names the entry by position: its text may be a secret.
            raise ValueError(
                f"CONVRAG_AUTH_TOKENS entry {number} is not 'token:user': write "
                "'token1:user1,token2:user2', or unset it to run without auth."
            )
        if token.strip() in entry_of:
            # The later entry would win silently, and the earlier user, sending their own
            # token, would be served as someone else, with that user's threads and tenant.
            raise ValueError(
                f"CONVRAG_AUTH_TOKENS entry {number} repeats the token of entry "
                f"{entry_of[token.strip()]}: give each user a token of their own, as in "
                "'token1:user1,token2:user2'."
            )
        entry_of[token.strip()] = number
        tokens[token.strip()] = user.strip()
    return tokens
