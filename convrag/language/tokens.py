"""Tokenization without a model: language detection, search terms, token counting.

Chinese is segmented with jieba (its dictionary ships in the package, so this works
offline); English is lower-cased and stemmed with the Snowball stemmer. Both drop
stopwords so that sparse vectors carry content words only.
"""

from __future__ import annotations

import importlib
import io
import logging
import math
import os
import pickle
import re
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Literal

import snowballstemmer

Lang = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SEGMENTS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9][A-Za-z0-9'_\-.]*")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")

EN_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves tell know please""".split()
)

ZH_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 也 都 就 还 又 而 呢 吗 吧 啊 呀 哦 嘛 么 着 过 被 把 给 对 从 向 于
    以 之 其 这 那 这个 那个 这些 那些 它 他 她 它们 他们 她们 我 你 您 我们 你们 什么 怎么 怎样
    如何 哪 哪个 哪些 哪里 为什么 多少 几 吗 请问 请 一下 一个 有 没有 是不是 能 可以 会 要 想 请
    告诉 知道 呢 么 得 地 个 些 中 上 下""".split()
)

_STEMMER = snowballstemmer.stemmer("english")


def has_cjk(text: str) -> bool:
    """True when the text contains any CJK ideograph."""
    return bool(_CJK.search(text))


def detect_lang(text: str) -> Lang:
    """Guess the language of a short text: 'zh' when CJK ideographs dominate the letters."""
    cjk = len(_CJK.findall(text))
    latin = sum(len(w) for w in _WORD.findall(text))
    # A CJK ideograph carries roughly a word; compare against Latin words, not letters.
    return "zh" if cjk and cjk >= latin / 5 else "en"


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def en_words(text: str) -> list[str]:
    """Lower-cased English words, apostrophes kept inside words."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


_JIEBA_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _jieba() -> ModuleType:
    """jieba, imported on the first Chinese text (English-only runs never import it).

    Its tables come from convrag's cache when there is one (see `_load_tables`).
    """
    with _JIEBA_LOCK:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _load_tables(jieba)
        return jieba


def _tables_cache(jieba: ModuleType) -> tuple[Path, tuple[object, ...]] | None:
    """Where the cache of jieba's default tables lives and the key that validates it."""
    if jieba.dt.dictionary != jieba.DEFAULT_DICT or jieba.dt.initialized:
        return None  # a custom dictionary, or loaded already: jieba's own way
    dict_file = Path(str(jieba.__file__)).with_name(jieba.DEFAULT_DICT_NAME)
    try:
        stat = dict_file.stat()
    except OSError:
        return None
    home = Path(os.environ.get("CONVRAG_HOME") or ".convrag").expanduser()
    key = (jieba.__version__, str(dict_file), stat.st_size, stat.st_mtime_ns)
    return home / "cache" / f"jieba-{jieba.__version__}.pickle", key


def _load_tables(jieba: ModuleType) -> None:
    """jieba's prefix dictionary and its tagger's word tags, read in one file.

    jieba loads its prefix dictionary from a marshal cache and `jieba.posseg` re-reads the
    whole dictionary text for its word tags on import; together about 2.5 s of a Chinese
    `convrag ask` on a busy machine. The same tables as a pickle under CONVRAG_HOME load
    in about a third of that. The file is written on the first Chinese text (after
    jieba's own load) and used when its key (jieba's version, its dictionary's path, size
    and mtime) matches; anything unexpected falls back to jieba's own loading. It lives in
    CONVRAG_HOME, the user's own directory, never in a shared temporary one, since a
    pickle is code.
    """
    found = _tables_cache(jieba)
    if found is None:
        return
    path, key = found
    try:
        with path.open("rb") as file:
            stored_key, freq, total, tags = pickle.load(file)
    except Exception:  # missing or unreadable
        stored_key = None
    if stored_key != key:  # jieba's own load, then write ours
        _write_tables(jieba, path, key)
        return
    with jieba.dt.lock:
        jieba.dt.FREQ, jieba.dt.total = freq, total
        jieba.dt.initialized = True
    if "jieba.posseg" in sys.modules:  # imported by someone else: its tags are loaded
        return
    # jieba.posseg reads the dictionary text for its tags on import: give it none, then
    # set the table read above.
    jieba.dt.get_dict_file = lambda: io.BytesIO()
    try:
        posseg = importlib.import_module("jieba.posseg")
    finally:
        del jieba.dt.get_dict_file
    posseg.dt.word_tag_tab = tags


def _write_tables(jieba: ModuleType, path: Path, key: tuple[object, ...]) -> None:
    posseg = importlib.import_module("jieba.posseg")
    jieba.dt.initialize()
    tables = (key, jieba.dt.FREQ, jieba.dt.total, posseg.dt.word_tag_tab)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".jieba-")
        try:
            with os.fdopen(fd, "wb") as file:
                pickle.dump(tables, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only home: jieba's own caches still apply


def load_chinese() -> None:
    """Load jieba's dictionary and its part-of-speech tables (about 1 s, file I/O).

    Both load on first use anyway; a server calls this in a worker thread before the
    first Chinese text, so the event loop never waits on the files.
    """
    _jieba()
    import jieba.posseg  # noqa: F401 (the import loads the tagger's tables)

    jieba.initialize()


@lru_cache(maxsize=1024)
def zh_cut(text: str) -> tuple[str, ...]:
    """jieba's dictionary words of `text`, punctuation and spaces kept (offsets add up).

    Without the HMM that guesses new words from unknown runs: referring words are all in
    the dictionary, and the HMM's cost on long unknown runs is not worth paying. Cached,
    because the gate, the resolver and entity extraction all cut the same question.
    """
    return tuple(_jieba().lcut(text, HMM=False))


# jieba's HMM guesses new words in runs of single-character words (a name it does not
# know) at about 20 us a character; on a 2,000-character run of random ideographs that is
# 40 ms per call. A span with a run of single-character words longer than this is cut by
# the dictionary alone (8x cheaper, linear): ordinary prose has no such run (names are 2-4
# characters, function characters break up), so its terms stay those of the HMM.
LONG_RUN_CHARS = 24


def longest_single_char_run(words: tuple[str, ...]) -> int:
    """The longest run of consecutive one-character non-ASCII words in a dictionary cut."""
    longest = run = 0
    for word in words:
        run = run + 1 if len(word) == 1 and not word.isascii() else 0
        longest = max(longest, run)
    return longest


def _search_words(segment: str) -> list[str]:
    """jieba's search-mode words of a CJK span; the HMM off on long runs of unknown text."""
    words = zh_cut(segment)
    if longest_single_char_run(words) <= LONG_RUN_CHARS:
        return _jieba().lcut_for_search(segment)
    # jieba's search mode over the dictionary cut (what lcut_for_search(HMM=False) yields,
    # without cutting the span a second time).
    freq = _jieba().dt.FREQ
    out: list[str] = []
    for word in words:
        if len(word) > 2:
            out.extend(g for i in range(len(word) - 1) if freq.get(g := word[i:i + 2]))
        if len(word) > 3:
            out.extend(g for i in range(len(word) - 2) if freq.get(g := word[i:i + 3]))
        out.append(word)
    return out


def search_terms(text: str) -> list[str]:
    """Terms for sparse retrieval (BM25): content words, stemmed, in order, repeats kept.

    Chinese spans use jieba's search mode, which adds the sub-words of long compounds
    ("中国人民大学" also yields "人民", "大学"), so partial names still match. Cached by
    text: a turn tokenizes its question for two or three query legs, the history terms
    and the extractive answer.
    """
    return list(_search_terms(text))


@lru_cache(maxsize=1024)
def _search_terms(text: str) -> tuple[str, ...]:
    terms: list[str] = []
    for segment in _SEGMENTS.findall(text):
        if has_cjk(segment):
            # A CJK segment has ideographs only, so no word of it is punctuation.
            terms.extend(w for w in _search_words(segment) if w not in ZH_STOPWORDS)
        else:
            for word in en_words(segment):
                if word not in EN_STOPWORDS:
                    terms.append(_stem(word))
    return tuple(terms)


def count_tokens(text: str) -> int:
    """Approximate LLM tokens: ~0.9 per CJK ideograph, ~1.3 per English word, plus symbols.

    Calibrated on current multilingual BPE vocabularies (Qwen, DeepSeek, GPT-4o's
    o200k), which spend 0.55-1.0 tokens per ideograph; the common 4-characters-per-token
    rule undercounts Chinese three to four times. Older
    vocabularies (GPT-4's cl100k) spend 1.2-1.5 tokens per ideograph, so for them this
    counts low by about a third. The count is deterministic and needs no vocabulary, so
    chunk boundaries and prompt budgets do not depend on what is installed. Texts up to
    `_CACHED_CHARS` are cached: the prompt budget counts the same passages and history
    turns on every turn.
    """
    return _count_cached(text) if len(text) <= _CACHED_CHARS else _count(text)


_CACHED_CHARS = 8_000


@lru_cache(maxsize=1024)
def _count_cached(text: str) -> int:
    return _count(text)


def _count(text: str) -> int:
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    other = sum(1 for ch in _CJK.sub("", _WORD.sub("", text)) if not ch.isspace())
    return math.ceil(cjk * 0.9 + words * 1.3 + other * 0.8)
