"""Loading files into documents and chunking text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from convrag.errors import UserError
from convrag.knowledge.ingest import IngestReport, SourceDocument, chunk_text, load_paths
from convrag.language.tokens import count_tokens

ZH = (
    "尼罗河是非洲东北部的一条大河，自南向北注入地中海。尼罗河全长约6650公里，是世界上最长的河流之一。"
    "白尼罗河发源于维多利亚湖一带；青尼罗河发源于埃塞俄比亚的塔纳湖。两条支流在喀土穆汇合！"
    "古埃及文明就诞生在尼罗河两岸。阿斯旺大坝于1970年建成。"
)
EN = (
    "Marie Curie was a physicist and chemist. She discovered polonium and radium with Pierre "
    "Curie. She won the Nobel Prize twice! Was she the first woman to win one? Yes, in 1903."
)


# --- chunk_text ----------------------------------------------------------------------------


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n \t") == []


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("尼罗河很长。它在非洲。") == ["尼罗河很长。它在非洲。"]


def test_chinese_splits_on_sentence_ends() -> None:
    # Room for about one sentence per chunk and no overlap: every chunk is whole sentences.
    chunks = chunk_text(ZH, max_tokens=40, overlap_tokens=0)
    assert len(chunks) > 3
    assert all(chunk[-1] in "。！；" for chunk in chunks)
    assert "".join(chunks) == ZH


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"), [(20, 0), (40, 10), (60, 30), (200, 40), (25, 24)]
)
@pytest.mark.parametrize("text", [ZH, EN, ZH + "\n\n" + EN])
def test_chunks_respect_max_tokens(text: str, max_tokens: int, overlap_tokens: int) -> None:
    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    assert chunks
    assert all(count_tokens(chunk) <= max_tokens for chunk in chunks)


def test_overlap_repeats_the_last_sentence() -> None:
    text = "".join(f"第{i}句话很短。" for i in range(20))  # about 10 tokens a sentence
    chunks = chunk_text(text, max_tokens=40, overlap_tokens=12)
    assert len(chunks) > 5
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_sentence = re.findall(r"[^。]+。", previous)[-1]
        assert current.startswith(last_sentence)
        assert current != last_sentence


def test_english_splits_only_before_whitespace() -> None:
    chunks = chunk_text("Pi is 3.14 roughly. It never ends.", max_tokens=10, overlap_tokens=0)
    assert chunks == ["Pi is 3.14 roughly.", "It never ends."]


def test_blank_lines_end_sentences() -> None:
    chunks = chunk_text("A heading without a stop\n\nThen a paragraph", 10, 0)
    assert chunks == ["A heading without a stop", "Then a paragraph"]


@pytest.mark.parametrize("text", ["长" * 500, "word " * 400])
def test_over_long_sentence_is_hard_split(text: str) -> None:
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=10)
    assert len(chunks) > 5
    assert all(0 < count_tokens(chunk) <= 50 for chunk in chunks)


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_text(ZH, max_tokens=10, overlap_tokens=10)


# --- load_paths ----------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*records: dict) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def test_folder_with_md_txt_and_jsonl(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "rivers" / "nile.md", "Intro line\n\n# 尼罗河\n\n" + ZH)
    write(corpus / "curie.txt", EN)
    write(
        corpus / "more.jsonl",
        jsonl(
            {"id": "amazon", "text": "亚马逊河位于南美洲。", "title": "亚马逊河"},
            {"id": 42, "text": "Yangtze.", "metadata": {"lang": "en"}},
        )
        + "\n",
    )
    write(corpus / "skip.csv", "a,b\n")
    write(corpus / ".cache" / "hidden.md", "# hidden\n")

    documents = load_paths([corpus])

    by_id = {d.id: d for d in documents}
    assert [d.id for d in documents] == ["curie.txt", "amazon", "42", "rivers/nile.md"]
    assert by_id["rivers/nile.md"].title == "尼罗河"
    assert by_id["curie.txt"].title == "curie"
    assert by_id["curie.txt"].text == EN
    assert by_id["amazon"].title == "亚马逊河"
    assert by_id["42"].metadata == {"lang": "en"}
    assert by_id["42"].title is None
    assert by_id["amazon"].source == str(corpus / "more.jsonl")


def test_file_given_directly_is_named_by_its_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "deep" / "notes.md", "no heading here")
    (document,) = load_paths([str(path)])
    assert document == SourceDocument(
        id="notes.md", text="no heading here", title="notes", source=str(path)
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"id": "a", "text": "ok"}\n{"id": "b", "text": ', "not valid JSON"),
        ('{"id": "a", "text": "ok"}\n["a list"]', "not a JSON object"),
        ('{"id": "a", "text": "ok"}\n{"text": "no id"}', 'no string "id"'),
        ('{"id": "a", "text": "ok"}\n{"id": "b"}', 'no string "text"'),
        ('{"id": "a", "text": "ok"}\n{"id": "b", "text": "x", "metadata": [1]}', '"metadata"'),
        ('{"id": "a", "text": "ok"}\n{"id": "b", "text": "x", "title": 3}', '"title"'),
    ],
)
def test_bad_jsonl_line_names_file_and_line(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "bad.jsonl", content)
    with pytest.raises(UserError) as error:
        load_paths([path])
    assert f"{path}:2" in str(error.value)
    assert reason in str(error.value)


@pytest.mark.parametrize(
    ("files", "given", "message"),
    [
        ({}, "missing", "does not exist: give a .txt, .md or .jsonl file or a folder"),
        ({"a.csv": "x"}, ".", "No supported files found"),
        ({"a.csv": "x"}, "a.csv", "is not a supported file"),
        ({"a.md": "  \n", "b.jsonl": '{"id": "b", "text": ""}'}, ".", "is empty"),
        ({"a.md": "x", "b.jsonl": '{"id": "a.md", "text": "y"}'}, ".", "unique id"),
    ],
)
def test_unusable_input_is_a_user_error(
    tmp_path: Path, files: dict[str, str], given: str, message: str
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(UserError, match=message):
        load_paths([tmp_path / given])


def test_non_utf8_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_paths([path])


def test_report_as_dict_has_the_cli_keys() -> None:
    report = IngestReport("kb", 2, 3, 4, 5, 7)
    assert report.as_dict() == {
        "collection": "kb",
        "documents": 2,
        "chunks_added": 3,
        "chunks_unchanged": 4,
        "chunks_removed": 5,
        "total_chunks": 7,
    }
