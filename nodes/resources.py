"""Process-wide resources the nodes share: the knowledge base and jieba's dictionary.

The embedded Qdrant Edge store admits one handle per collection, even within a process,
so a process opens it once and every graph in the process shares it. A host application
passes its own to the graph builders (`knowledge=`).

Both are loaded on first use from disk. Inside a server's event loop that first load
must not block the loop (`langgraph dev` rejects blocking calls outright), so async
nodes go through `open_knowledge_base` and `load_language`, which load in a thread.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import threading

from convrag.knowledge.store import KnowledgeBase
from convrag.language.tokens import has_cjk, load_chinese
from convrag.settings import Settings

_lock = threading.Lock()
_knowledge: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    """The process's knowledge base, opened from the environment on first use."""
    global _knowledge
    with _lock:
        if _knowledge is None:
            _knowledge = KnowledgeBase.open(Settings.from_env())
            # Closed before the interpreter tears modules down, so the store's last writes
            # are flushed and its locks released while the engine is still loaded.
            atexit.register(_knowledge.close)
        return _knowledge


async def open_knowledge_base() -> KnowledgeBase:
    """`knowledge_base()` for async nodes: the first call opens the store in a thread."""
    if _knowledge is not None:
        return _knowledge
    return await asyncio.to_thread(knowledge_base)


async def load_language(text: str) -> None:
    """Load jieba's dictionary in a thread before the first Chinese text needs it.

    The load reads jieba's cached dictionary and its tagger's tables (about 1 s);
    English-only conversations never pay it.
    """
    jieba = sys.modules.get("jieba")  # imported by the first Chinese text, not before
    loaded = jieba is not None and jieba.dt.initialized and "jieba.posseg" in sys.modules
    if has_cjk(text) and not loaded:
        await asyncio.to_thread(load_chinese)
