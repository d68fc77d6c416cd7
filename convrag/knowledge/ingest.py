"""Turning files into documents and documents into chunks.

Loaders are looked up by file suffix in `LOADERS`; supporting another format means adding
one function there, and the messages listing supported files follow. HTML goes through
trafilatura (main content only), PDF through langchain-community's loader (pypdf).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convrag.errors import UserError
from convrag.language.tokens import count_tokens

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter


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
    #: Ids of the documents whose chunks were added or replaced.
    changed: tuple[str, ...] = ()
    #: Ids of the documents removed by a prune (or by `delete`).
    pruned: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The six counts of DESIGN's `convrag ingest --json` object."""
        return {
            "collection": self.collection,
            "documents": self.documents,
            "chunks_added": self.chunks_added,
            "chunks_unchanged": self.chunks_unchanged,
            "chunks_removed": self.chunks_removed,
            "total_chunks": self.total_chunks,
        }


# --- loaders -------------------------------------------------------------------------------

Loader = Callable[[Path, str], list[Any]]
"""A loader reads one file; the second argument is the document id a plain file gets.

It returns SourceDocuments, and for a file of records (.jsonl) also one sentence (a str)
per record it had to skip. A problem with the whole file is raised as UserError."""

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig drops the byte-order mark some Windows editors write.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text: convert it to UTF-8 and try again.") from exc


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(\n|\Z)", re.DOTALL)


def _front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """(metadata, body) of Markdown text that opens with a YAML front matter block."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    import yaml

    try:
        data = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        # str(exc) spans several lines with a caret drawing; the report must stay one
        # sentence, so keep YAML's problem and where it is in the file (the block starts
        # on the file's second line).
        problem = getattr(exc, "problem", None) or "it does not parse"
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise UserError(f"{path} has front matter that is not valid YAML ({problem}{where}): "
                        "fix the block between the '---' lines.") from exc
    if not isinstance(data, dict):
        return {}, text
    # Payloads are JSON: dates and other YAML types are kept as their text.
    metadata = json.loads(json.dumps({str(k): v for k, v in data.items()}, default=str))
    return metadata, text[match.end():]


# The longest first line of a plain file still taken for its title: a title is a line,
# not a paragraph; 80 characters holds "星辰手机S12产品介绍" or "Parental Leave and Return
# to Work" with room to spare, and few opening sentences without a full stop are shorter.
_TITLE_LINE_MAX_CHARS = 80
_SENTENCE_FINAL = tuple(".!?。！？…;；:：,，")


def _title_line(text: str) -> tuple[str, str] | None:
    """(title, body) when `text` opens with a title line: short, no sentence-final
    punctuation, and followed by a blank line or by body text (a longer line, or one that
    ends a sentence), not by another line like it (a list, a poem). A title line has
    letters (a rule "---" has none)."""
    lines = text.lstrip("\n").split("\n")
    first = lines[0].strip()
    rest = lines[1:]
    # A title has words: a rule ("---") or a row of symbols is none.
    if (not re.search(r"[^\W\d_]", first) or len(first) > _TITLE_LINE_MAX_CHARS
            or first.endswith(_SENTENCE_FINAL)):
        return None
    body = "\n".join(rest).strip()
    if not body:
        return None
    following = rest[0].strip()
    if following and not (len(following) > len(first) or following.endswith(_SENTENCE_FINAL)):
        return None
    return first, body


def load_text_file(path: Path, doc_id: str) -> list[SourceDocument]:
    """A .txt or .md file as one document, titled by its first markdown heading or
    front matter `title`; else by its first line when that is a title line (see
    `_title_line`; the line then leaves the body, so answers do not quote it); else by
    its stem.

    A Markdown file's YAML front matter becomes the document's metadata (its `title`, if
    any, the title) and is left out of the indexed text.
    """
    text = _read_text(path)
    metadata: dict[str, Any] = {}
    if path.suffix.lower() == ".md":
        metadata, text = _front_matter(text, path)
    heading = _HEADING.search(text)
    title = metadata.get("title") or (heading.group(1) if heading else None)
    if title is None and (line := _title_line(text)) is not None:
        title, text = line
    return [SourceDocument(id=doc_id, text=text, title=str(title or path.stem),
                           source=str(path.resolve()), metadata=metadata)]


def load_jsonl_file(path: Path, doc_id: str) -> list[SourceDocument | str]:
    """One document per line of `{"id", "text", "title"?, "metadata"?}`; `doc_id` is unused.

    A malformed line does not stop the others: it is returned as the sentence that names
    it (file and line), for the caller to report.
    """
    documents: list[SourceDocument | str] = []
    source = str(path.resolve())
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            documents.append(f"{where} is not valid JSON ({exc.msg}): {_FIX_LINE}")
            continue
        try:
            documents.append(document_from_record(record, where, source, fix=_FIX_LINE))
        except UserError as exc:
            documents.append(str(exc))
    return documents


_FIX_LINE = 'fix that line so it is one JSON object {"id", "text", "title"?, "metadata"?}.'


def document_from_record(
    record: Any, where: str, source: str | None = None, *, fix: str | None = None
) -> SourceDocument:
    """A document from one `{"id", "text", "title"?, "metadata"?}` object.

    `where` names the record in messages (a file and line, or a list position) and
    `fix` says how to repair it. Raises UserError for a malformed record.
    """
    fix = fix or 'give one object {"id", "text", "title"?, "metadata"?} per document.'
    if not isinstance(record, Mapping):
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


def _tidy(text: str) -> str:
    # Extracted HTML and PDF text is full of indentation and runs of blank lines; keep
    # one blank line between blocks so the splitter still sees paragraphs.
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _community_loader(name: str) -> Any:
    # langchain-community warns on import that it is being sunset; the loaders work, and
    # the warning would reach every `convrag ingest` user who cannot act on it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`langchain-community` is being sunset")
        from langchain_community import document_loaders

        return getattr(document_loaders, name)


def load_html_file(path: Path, doc_id: str) -> list[SourceDocument]:
    """An .html file as one document: its main content, titled by the page's title.

    trafilatura (offline) keeps the article and leaves out navigation, cookie banners,
    sidebars and footers, which would otherwise be indexed and cited. A page too small for
    it to find a main part falls back to all its visible text.
    """
    import trafilatura
    from bs4 import BeautifulSoup

    try:
        html = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text: convert it to UTF-8 and try again.") from exc
    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    soup = BeautifulSoup(html, "html.parser")
    if not text:
        for tag in soup(["script", "style", "noscript"]):
            tag.decompose()
        text = soup.get_text("\n")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title:
        heading = soup.find("h1")
        title = heading.get_text(" ", strip=True) if heading else path.stem
    return [SourceDocument(id=doc_id, text=_tidy(text), title=" ".join(title.split()),
                           source=str(path.resolve()))]


# Titles PDF producers write into the metadata instead of the document's own: a tool's
# name, or the name of the file it converted.
_TOOL_TITLE = re.compile(
    r"^(enscript output|untitled.*|microsoft (word|powerpoint|excel) - .*|"
    r"powerpoint presentation|slide \d+|document\d*|print|.*\.(docx?|pptx?|xlsx?|tex|dvi|"
    r"ps|pdf|txt|rtf|odt|html?))$",
    re.IGNORECASE,
)


def _pdf_title(metadata: Mapping[str, Any], text: str, path: Path) -> str:
    """The metadata title; if that is a tool's, the first short line of text; else the stem."""
    title = " ".join(str(metadata.get("title") or "").split())
    if not title:
        return path.stem
    producers = {str(metadata.get(key) or "").strip().lower() for key in ("creator", "producer")}
    if not _TOOL_TITLE.match(title) and title.lower() not in producers:
        return title
    for line in text.splitlines():
        line = line.strip()
        if line:
            # A heading is short; a first line running on is body text, not a title.
            return line if len(line) <= 120 else path.stem
    return path.stem


class _QuietLogger:
    """pypdf logs every oddity of a file it still reads fine; the user cannot act on them."""

    def __enter__(self) -> None:
        import logging

        self._logger = logging.getLogger("pypdf")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def load_pdf_file(path: Path, doc_id: str) -> list[SourceDocument]:
    """A .pdf file as one document (pages joined), titled by its metadata title, or by its
    first line when the metadata names a tool ("Enscript Output", "Microsoft Word - x.doc")."""
    from pypdf.errors import PdfReadError

    PyPDFLoader = _community_loader("PyPDFLoader")

    try:
        with _QuietLogger(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (loaded,) = PyPDFLoader(str(path), mode="single", pages_delimiter="\n\n").load()
    except (PdfReadError, ValueError) as exc:
        raise UserError(f"{path} could not be read as a PDF ({exc}): check the file.") from exc
    text = _tidy(loaded.page_content)
    return [SourceDocument(id=doc_id, text=text, title=_pdf_title(loaded.metadata, text, path),
                           source=str(path.resolve()))]


LOADERS: dict[str, Loader] = {
    ".txt": load_text_file,
    ".md": load_text_file,
    ".html": load_html_file,
    ".htm": load_html_file,
    ".pdf": load_pdf_file,
    ".jsonl": load_jsonl_file,
}


def _supported() -> str:
    names = list(LOADERS)
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return f"give a {listed} file or a folder containing them"


def _files(path: Path) -> Iterator[Path]:
    """Supported files under `path`, in sorted order."""
    if path.is_file():
        if path.suffix.lower() not in LOADERS:
            raise UserError(f"{path} is not a supported file: {_supported()}.")
        yield path
        return
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        # Hidden folders (.git, .venv) hold tooling files, never the user's documents.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.is_file() and file.suffix.lower() in LOADERS:
            yield file


def file_id(file: Path, root: Path) -> str:
    """The document id of a plain file: its path from `root`, else its absolute path.

    Both are resolved first, so the same file gets the same id whichever folder argument
    or working directory it was reached through, and two files never share one.
    """
    resolved = file.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


@dataclass(frozen=True)
class Loaded:
    """What `collect` found: the documents, and one sentence per file or line it skipped."""

    documents: list[SourceDocument]
    problems: list[str]
    #: Resolved paths given, so a prune can tell which stored documents lie under them.
    scope: list[Path]

    def in_scope(self, source: str | None) -> bool:
        """True when a stored document's `source` lies under one of the paths given."""
        if not source:
            return False
        # Earlier versions stored the path as given, often relative to where they ran.
        path = Path(source).resolve()
        return any(path == given or given in path.parents for given in self.scope)


def collect(paths: Sequence[str | Path], root: Path | None = None) -> Loaded:
    """Load documents from files and folders (recursively, sorted), skipping bad ones.

    A plain file's id is its path from `root` (default: the working directory; see
    `file_id`); a .jsonl record keeps its own id. A file that cannot be read, a malformed
    .jsonl line, and a document whose id was already taken are skipped, each with one
    sentence naming the file (and line) in `problems`. Unsupported files inside folders
    are passed over. Raises UserError for a missing path, an unsupported file given by
    name, or no supported file at all.
    """
    root = Path.cwd() if root is None else root
    documents: list[SourceDocument] = []
    problems: list[str] = []
    seen: dict[str, str | None] = {}
    scope: list[Path] = []
    found_file = False
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UserError(f"{path} does not exist: {_supported()}.")
        scope.append(path.resolve())
        for file in _files(path):
            found_file = True
            try:
                loaded = LOADERS[file.suffix.lower()](file, file_id(file, root))
            except UserError as exc:
                problems.append(str(exc))
                continue
            except Exception as exc:  # a library failing on one file must not stop the rest
                problems.append(f"{file} could not be read ({type(exc).__name__}: {exc}): "
                                "check the file.")
                continue
            for document in loaded:
                if isinstance(document, str):  # a bad .jsonl line, already one sentence
                    problems.append(document)
                    continue
                # A repeated id would silently replace the first document's chunks.
                if document.id in seen:
                    problems.append(
                        f"The document id {document.id!r} is used by both {seen[document.id]} "
                        f"and {document.source}: give each document a unique id."
                    )
                    continue
                seen[document.id] = document.source
                documents.append(document)
    if not found_file:
        joined = ", ".join(str(p) for p in paths)
        raise UserError(f"No supported files found in {joined}: {_supported()}.")
    return Loaded(documents, problems, scope)


def load_paths(paths: Sequence[str | Path], root: Path | None = None) -> list[SourceDocument]:
    """`collect`, strictly: raises UserError with the first problem, or when every document
    found is empty."""
    loaded = collect(paths, root)
    if loaded.problems:
        raise UserError(loaded.problems[0])
    if not any(d.text.strip() for d in loaded.documents):
        joined = ", ".join(str(p) for p in paths)
        raise UserError(f"Every document found in {joined} is empty: {_supported()}.")
    return loaded.documents


# --- chunking ------------------------------------------------------------------------------

# Paragraphs first, then lines, then sentence ends (Chinese ones need no space after them,
# English ones do, so "3.14" stays whole), then clauses, words, and characters last.
SEPARATORS = [
    "\n\n", "\n", "。", "！", "？", "；", ". ", "! ", "? ", "; ", "，", ", ", " ", "",
]


@lru_cache(maxsize=16)
def _splitter(max_tokens: int, overlap_tokens: int) -> RecursiveCharacterTextSplitter:
    # Imported here: `convrag list`, `delete` and `migrate` import this module but never
    # split text.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",  # a sentence keeps its full stop
        chunk_size=max_tokens,
        chunk_overlap=overlap_tokens,
        length_function=count_tokens,
        strip_whitespace=True,
    )


def chunk_text(text: str, max_tokens: int = 200, overlap_tokens: int = 40) -> list[str]:
    """Split `text` into chunks of at most `max_tokens` (convrag's CJK-aware token count).

    langchain-text-splitters' recursive splitter cuts at paragraphs, then lines, then
    sentence ends (。！？； or .!?; before a space), then clauses, words and characters,
    and packs the pieces into chunks; each chunk after the first starts with the last
    pieces of the previous one, up to `overlap_tokens`, so a fact split across a boundary
    is still found.
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("chunk_text needs max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    return [c for c in _splitter(max_tokens, overlap_tokens).split_text(text) if c.strip()]
