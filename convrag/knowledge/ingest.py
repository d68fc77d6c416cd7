"""Turning files into documents and documents into chunks.

Loaders are looked up by file suffix in `LOADERS`; supporting another format (.html,
.pdf) means adding one function there, and the messages listing supported files follow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convrag.errors import UserError
from convrag.language.tokens import count_tokens


@dataclass(frozen=True)
class SourceDocument:
    """One document to index; `id` is what answers cite and what re-ingestion matches on."""

    id: str
    text: str
    title: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion changed in a collection."""

    collection: str
    documents: int
    chunks_added: int
    chunks_unchanged: int
    chunks_removed: int
    total_chunks: int

    def as_dict(self) -> dict[str, Any]:
        """The `convrag ingest --json` object: exactly these six keys."""
        return {
            "collection": self.collection,
            "documents": self.documents,
            "chunks_added": self.chunks_added,
            "chunks_unchanged": self.chunks_unchanged,
            "chunks_removed": self.chunks_removed,
            "total_chunks": self.total_chunks,
        }


# --- loaders -------------------------------------------------------------------------------

Loader = Callable[[Path, str], list[SourceDocument]]
"""A loader reads one file; the second argument is the document id a plain file gets."""

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig drops the byte-order mark some Windows editors write.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text: convert it to UTF-8 and try again.") from exc


def load_text_file(path: Path, doc_id: str) -> list[SourceDocument]:
    """A .txt or .md file as one document, titled by its first markdown heading or its stem."""
    text = _read_text(path)
    heading = _HEADING.search(text)
    title = heading.group(1) if heading else path.stem
    return [SourceDocument(id=doc_id, text=text, title=title, source=str(path))]


def load_jsonl_file(path: Path, doc_id: str) -> list[SourceDocument]:
    """One document per line of `{"id", "text", "title"?, "metadata"?}`; `doc_id` is unused."""
    documents = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            documents.append(_jsonl_record(line, f"{path}:{number}", str(path)))
    return documents


def _jsonl_record(line: str, where: str, source: str) -> SourceDocument:
    fix = 'fix that line so it is one JSON object {"id", "text", "title"?, "metadata"?}.'
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where} is not valid JSON ({exc.msg}): {fix}") from exc
    if not isinstance(record, dict):
        raise UserError(f"{where} is not a JSON object: {fix}")
    doc_id, text = record.get("id"), record.get("text")
    # Integer ids are common in public data sets; they cite the same as their string form.
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id:
        raise UserError(f'{where} has no string "id": {fix}')
    if not isinstance(text, str):
        raise UserError(f'{where} has no string "text": {fix}')
    title, metadata = record.get("title"), record.get("metadata") or {}
    if title is not None and not isinstance(title, str):
        raise UserError(f'{where} has a "title" that is not a string: {fix}')
    if not isinstance(metadata, dict):
        raise UserError(f'{where} has a "metadata" that is not an object: {fix}')
    return SourceDocument(id=doc_id, text=text, title=title, source=source, metadata=metadata)


LOADERS: dict[str, Loader] = {
    ".txt": load_text_file,
    ".md": load_text_file,
    ".jsonl": load_jsonl_file,
}


def _supported() -> str:
    names = list(LOADERS)
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return f"give a {listed} file or a folder containing them"


def _files(path: Path) -> Iterator[tuple[Path, str]]:
    """Supported files under `path` with the document id each would get, in sorted order."""
    if path.is_file():
        if path.suffix.lower() not in LOADERS:
            raise UserError(f"{path} is not a supported file: {_supported()}.")
        yield path, path.name
        return
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        # Hidden folders (.git, .venv) hold tooling files, never the user's documents.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.is_file() and file.suffix.lower() in LOADERS:
            yield file, relative.as_posix()


def load_paths(paths: Sequence[str | Path]) -> list[SourceDocument]:
    """Load documents from files and folders (recursively, sorted).

    A plain file's id is its path relative to the folder argument it was found under (or
    its file name when given directly); a .jsonl record keeps its own id. Unsupported files
    inside folders are skipped. Raises UserError for a missing path, nothing supported
    found, every document empty, a malformed .jsonl line, or one id used twice.
    """
    documents: list[SourceDocument] = []
    seen: dict[str, str | None] = {}
    found_file = False
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UserError(f"{path} does not exist: {_supported()}.")
        for file, doc_id in _files(path):
            found_file = True
            for document in LOADERS[file.suffix.lower()](file, doc_id):
                # A repeated id would silently replace the first document's chunks.
                if document.id in seen:
                    raise UserError(
                        f"The document id {document.id!r} is used by both {seen[document.id]} "
                        f"and {document.source}: give each document a unique id."
                    )
                seen[document.id] = document.source
                documents.append(document)
    joined = ", ".join(str(p) for p in paths)
    if not found_file:
        raise UserError(f"No supported files found in {joined}: {_supported()}.")
    if not any(d.text.strip() for d in documents):
        raise UserError(f"Every document found in {joined} is empty: {_supported()}.")
    return documents


# --- chunking ------------------------------------------------------------------------------

# A sentence ends at Chinese end punctuation (no space follows it in Chinese text) or at
# English end punctuation followed by whitespace; closing quotes stay with their sentence.
_SENTENCE = re.compile(
    r"\S.*?(?:[。！？；]+[”’\"'」』）)]*|[!?.]+[”’\"'」』）)]*(?=\s)|$)", re.DOTALL
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Atoms for hard-splitting an over-long sentence: a word with its trailing space, or one
# character (a CJK ideograph is roughly a word).
_ATOM = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?\s*|\S\s*|\s+")


def _is_wide(char: str) -> bool:
    # CJK ideographs and full-width punctuation live above U+2E80; they join without spaces.
    return ord(char) >= 0x2E80


def _pieces(text: str) -> list[tuple[str, str]]:
    """(separator before it, sentence) pairs; paragraphs are separated by a newline."""
    pieces: list[tuple[str, str]] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for number, match in enumerate(_SENTENCE.finditer(paragraph)):
            sentence = match.group().strip()
            if sentence:
                pieces.append(("\n" if number == 0 else " ", sentence))
    return pieces


def _hard_split(sentence: str, max_tokens: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for atom in _ATOM.findall(sentence):
        if current and count_tokens(current + atom) > max_tokens:
            parts.append(current.strip())
            current = ""
        current += atom
    if current.strip():
        parts.append(current.strip())
    return parts


def _join(parts: list[tuple[str, str]]) -> str:
    text = parts[0][1]
    for separator, sentence in parts[1:]:
        if separator == " " and _is_wide(text[-1]) and _is_wide(sentence[0]):
            separator = ""
        text += separator + sentence
    return text


def chunk_text(text: str, max_tokens: int = 200, overlap_tokens: int = 40) -> list[str]:
    """Split `text` into chunks of at most `max_tokens` (convrag's token estimate).

    Sentences end at 。！？； or at !?. before whitespace, and at blank lines. Whole
    sentences are packed into chunks; each chunk after the first repeats the last sentences
    of the previous one, up to `overlap_tokens`, so a fact split across a boundary is still
    found. A sentence longer than `max_tokens` is cut into pieces on word/character bounds.
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("chunk_text needs max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    units: list[tuple[str, str, int]] = []
    for separator, sentence in _pieces(text):
        tokens = count_tokens(sentence)
        if tokens <= max_tokens:
            units.append((separator, sentence, tokens))
            continue
        for number, part in enumerate(_hard_split(sentence, max_tokens)):
            units.append((separator if number == 0 else " ", part, count_tokens(part)))

    chunks: list[str] = []
    current: list[tuple[str, str, int]] = []
    size = 0
    for unit in units:
        if current and size + unit[2] > max_tokens:
            chunks.append(_join([(s, t) for s, t, _ in current]))
            # Carry trailing sentences over while they fit the overlap and leave room for
            # the sentence that did not fit.
            carried: list[tuple[str, str, int]] = []
            carried_size = 0
            for previous in reversed(current):
                grown = carried_size + previous[2]
                if grown > overlap_tokens or grown + unit[2] > max_tokens:
                    break
                carried.insert(0, previous)
                carried_size = grown
            current, size = carried, carried_size
        current.append(unit)
        size += unit[2]
    if current:
        chunks.append(_join([(s, t) for s, t, _ in current]))
    return chunks
