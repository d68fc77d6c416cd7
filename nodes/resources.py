"""Process-wide resources the nodes share: the knowledge base.

The embedded Qdrant store admits one client per folder, so a process opens it once and
every graph in the process shares it. A host application may install its own.
"""

from __future__ import annotations

import threading

from convrag.knowledge.store import KnowledgeBase
from convrag.settings import Settings

_lock = threading.Lock()
_knowledge: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    """The process's knowledge base, opened from the environment on first use."""
    global _knowledge
    with _lock:
        if _knowledge is None:
            _knowledge = KnowledgeBase.open(Settings.from_env())
        return _knowledge


def use_knowledge_base(kb: KnowledgeBase | None) -> None:
    """Install `kb` as the process's knowledge base (None: reopen from the environment)."""
    global _knowledge
    with _lock:
        _knowledge = kb
