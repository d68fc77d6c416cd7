"""Loading files into documents and chunking text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from convrag.errors import UserError
from convrag.knowledge.ingest import (
    IngestReport,
    SourceDocument,
    chunk_text,
    collect,
    load_paths,
)
from convrag.knowledge.store import KnowledgeBase
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
    text = "".join(f"第{i}句话很短。" for i in range(20))  # about 7 tokens a sentence
    chunks = chunk_text(text, max_tokens=28, overlap_tokens=12)
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

    documents = load_paths([corpus], root=tmp_path)

    by_id = {d.id: d for d in documents}
    assert [d.id for d in documents] == [
        "corpus/curie.txt", "amazon", "42", "corpus/rivers/nile.md"
    ]
    assert by_id["corpus/rivers/nile.md"].title == "尼罗河"
    assert by_id["corpus/curie.txt"].title == "curie"
    assert by_id["corpus/curie.txt"].text == EN
    assert by_id["amazon"].title == "亚马逊河"
    assert by_id["42"].metadata == {"lang": "en"}
    assert by_id["42"].title is None
    assert by_id["amazon"].source == str((corpus / "more.jsonl").resolve())


def test_a_file_has_one_id_however_it_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "deep" / "notes.md", "no heading here")
    expected = SourceDocument(
        id="deep/notes.md", text="no heading here", title="notes", source=str(path.resolve())
    )
    assert load_paths([str(path)], root=tmp_path) == [expected]
    assert load_paths([tmp_path / "deep"], root=tmp_path) == [expected]
    monkeypatch.chdir(tmp_path / "deep")
    assert load_paths(["."], root=tmp_path) == [expected]
    # Outside the root a file is named by its absolute path: still unique.
    (outside,) = load_paths([path], root=tmp_path / "elsewhere")
    assert outside.id == path.resolve().as_posix()


def test_same_named_files_in_two_folders_get_two_ids(tmp_path: Path) -> None:
    write(tmp_path / "kb" / "handbook" / "README.md", "# Handbook\n\nLeave policy.")
    write(tmp_path / "kb" / "engineering" / "README.md", "# Engineering\n\nOn-call rota.")
    first = load_paths([tmp_path / "kb" / "handbook"], root=tmp_path)
    second = load_paths([tmp_path / "kb" / "engineering"], root=tmp_path)
    assert [d.id for d in first + second] == [
        "kb/handbook/README.md", "kb/engineering/README.md"
    ]


def test_bad_files_and_lines_are_all_named_and_the_rest_loaded(tmp_path: Path) -> None:
    write(tmp_path / "good.md", "# Good\n\nFine text.")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    write(tmp_path / "broken.pdf", "not a pdf")
    write(tmp_path / "rows.jsonl", jsonl({"id": "r1", "text": "one"}) + "{oops\n"
          + jsonl({"id": "r3"}, {"id": "r4", "text": "four"}))
    loaded = collect([tmp_path], root=tmp_path)
    assert [d.id for d in loaded.documents] == ["good.md", "r1", "r4"]
    assert len(loaded.problems) == 4
    assert f"{tmp_path / 'latin1.txt'} is not UTF-8" in loaded.problems[1]
    assert loaded.problems[0].startswith(f"{tmp_path / 'broken.pdf'} could not be read")
    assert loaded.problems[2].startswith(f"{tmp_path / 'rows.jsonl'}:2 is not valid JSON")
    assert loaded.problems[3].startswith(f'{tmp_path / "rows.jsonl"}:3 has no string "text"')
    # load_paths is the strict form: the first problem is fatal.
    with pytest.raises(UserError, match="broken.pdf could not be read"):
        load_paths([tmp_path], root=tmp_path)


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
        ({}, "missing", "does not exist: give a .txt, .md, .html, .htm, .pdf or .jsonl file"),
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
        load_paths([tmp_path / given], root=tmp_path)


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


# --- chunking tuned for Chinese and English ------------------------------------------------


@pytest.mark.parametrize("end", ["。", "！", "？", "；"])
def test_chinese_sentence_ends_keep_their_punctuation(end: str) -> None:
    text = f"尼罗河在非洲很长很长{end}" * 6
    chunks = chunk_text(text, max_tokens=20, overlap_tokens=0)
    assert len(chunks) > 1
    assert all(chunk.endswith(end) for chunk in chunks)


@pytest.mark.parametrize("end", [".", "!", "?"])
def test_english_sentence_ends_keep_their_punctuation(end: str) -> None:
    text = " ".join([f"The Nile river is very long{end}"] * 6)
    chunks = chunk_text(text, max_tokens=12, overlap_tokens=0)
    assert len(chunks) > 1
    assert all(chunk.endswith(end) for chunk in chunks)


def test_mixed_text_prefers_sentence_ends_to_commas() -> None:
    text = "长江，又名扬子江，是中国最长的河流。" + "The Yangtze, or Chang Jiang, is long. " * 2
    chunks = chunk_text(text, max_tokens=30, overlap_tokens=0)
    assert chunks[0] == "长江，又名扬子江，是中国最长的河流。"
    assert all(chunk.endswith(("。", ".")) for chunk in chunks)


# --- HTML and PDF --------------------------------------------------------------------------


def minimal_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (ASCII only), with a correct xref."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(
        f"({line}) Tj T*" for line in lines
    ) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title:
        objects.append(f"<< /Title ({title}) >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


HTML = """<!doctype html>
<html><head><title>尼罗河 Nile</title><style>p { color: red; }</style></head>
<body>
  <h1>尼罗河</h1>
  <p>尼罗河是非洲东北部的一条大河。</p>
  <p>The Nile is about <b>6,650 km</b> long.</p>
</body></html>
"""


def test_html_file_is_its_visible_text_titled_by_title(tmp_path: Path) -> None:
    path = write(tmp_path / "site" / "nile.html", HTML)
    (document,) = load_paths([tmp_path / "site"], root=tmp_path / "site")
    assert (document.id, document.title, document.source) == (
        "nile.html", "尼罗河 Nile", str(path.resolve())
    )
    assert "尼罗河是非洲东北部的一条大河。" in document.text
    assert "6,650 km" in document.text
    assert "<p>" not in document.text and "\n\n\n" not in document.text


BOILERPLATE_PAGE = """<html><head><title>Nile - River Wiki</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>
<div id="cookie-banner">We use cookies to improve your experience. Read our cookie policy
and accept all cookies.</div>
<main><h1>The Nile</h1>
<p>The Nile is a major north-flowing river in northeastern Africa. It flows into the
Mediterranean Sea.</p>
<p>The Nile is about 6,650 km long and is among the longest rivers in the world.</p></main>
<footer>Copyright 2024 River Wiki. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


def test_html_boilerplate_is_not_indexed(tmp_path: Path) -> None:
    write(tmp_path / "nile.html", BOILERPLATE_PAGE)
    (document,) = load_paths([tmp_path], root=tmp_path)
    assert "6,650 km long" in document.text and "Mediterranean" in document.text
    for boilerplate in ("cookie", "About us", "Copyright", "Privacy policy"):
        assert boilerplate not in document.text
    kb = KnowledgeBase.in_memory()
    kb.ingest("kb", [document, SourceDocument(id="other", text="Cookies are baked biscuits.")])
    assert [h.doc_id for h in kb.search("kb", ["What is the cookie policy?"])] == ["other"]
    kb.close()


def test_markdown_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    write(tmp_path / "note.md", "---\ntitle: Leave policy\nowner: HR\nupdated: 2024-05-01\n"
          "tags: [people, time-off]\n---\n# Holidays\n\nEveryone gets 30 days.\n")
    write(tmp_path / "rule.md", "---\n\nA horizontal rule above, not front matter.\n")
    by_id = {d.id: d for d in load_paths([tmp_path], root=tmp_path)}
    note = by_id["note.md"]
    assert note.title == "Leave policy"
    assert note.metadata == {"title": "Leave policy", "owner": "HR", "updated": "2024-05-01",
                             "tags": ["people", "time-off"]}
    assert note.text.startswith("# Holidays") and "owner" not in note.text
    assert by_id["rule.md"].metadata == {} and by_id["rule.md"].text.startswith("---")


def test_bad_front_matter_is_named(tmp_path: Path) -> None:
    write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nBody.\n")
    loaded = collect([tmp_path], root=tmp_path)
    assert loaded.documents == []
    assert loaded.problems[0].startswith(f"{tmp_path / 'bad.md'} has front matter that is not")


def test_bad_front_matter_is_reported_on_one_line(tmp_path: Path) -> None:
    # YAML's own message draws a caret over several lines; the report is one sentence.
    write(tmp_path / "menu.md", "---\ntitle: Canteen\ndishes: [soup\n  : : stew\n---\nBody.\n")
    (problem,) = collect([tmp_path], root=tmp_path).problems
    assert "\n" not in problem
    assert "at line 4" in problem and problem.endswith("fix the block between the '---' lines.")


@pytest.mark.parametrize(
    "tool_title", ["Enscript Output", "Microsoft Word - report.docx", "untitled", "notes.tex"]
)
def test_pdf_titled_by_a_tool_is_titled_by_its_first_line(
    tmp_path: Path, tool_title: str
) -> None:
    (tmp_path / "r.pdf").write_bytes(minimal_pdf(["Quarterly Report", "Sales grew."], tool_title))
    (document,) = load_paths([tmp_path], root=tmp_path)
    assert document.title == "Quarterly Report"


def test_pdf_library_warnings_stay_out_of_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pdf = minimal_pdf(["Marie Curie discovered polonium."], title="Marie Curie")
    # A wrong startxref offset: pypdf recovers, and logs a warning about it.
    broken = pdf.replace(b"startxref\n", b"startxref\n1")
    (tmp_path / "curie.pdf").write_bytes(broken)
    (document,) = load_paths([tmp_path], root=tmp_path)
    assert "polonium" in document.text
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_html_without_title_is_titled_by_its_first_heading(tmp_path: Path) -> None:
    write(tmp_path / "a.htm", "<html><body><h1>Yangtze  River</h1><p>Long.</p></body></html>")
    write(tmp_path / "b.html", "<p>No heading at all.</p>")
    titles = {d.id: d.title for d in load_paths([tmp_path], root=tmp_path)}
    assert titles == {"a.htm": "Yangtze River", "b.html": "b"}


def test_pdf_file_is_its_text_titled_by_its_metadata(tmp_path: Path) -> None:
    (tmp_path / "curie.pdf").write_bytes(
        minimal_pdf(["Marie Curie discovered polonium.", "She won two Nobel Prizes."],
                    title="Marie Curie")
    )
    (tmp_path / "plain.pdf").write_bytes(minimal_pdf(["No title here."]))
    by_id = {d.id: d for d in load_paths([tmp_path], root=tmp_path)}
    assert by_id["curie.pdf"].title == "Marie Curie"
    assert "Marie Curie discovered polonium." in by_id["curie.pdf"].text
    assert "two Nobel Prizes" in by_id["curie.pdf"].text
    assert by_id["plain.pdf"].title == "plain"


def test_broken_pdf_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(UserError, match="could not be read as a PDF"):
        load_paths([tmp_path / "broken.pdf"])


def test_html_and_pdf_documents_are_searchable(tmp_path: Path) -> None:

    write(tmp_path / "nile.html", HTML)
    (tmp_path / "curie.pdf").write_bytes(minimal_pdf(["Marie Curie discovered polonium."]))
    kb = KnowledgeBase.in_memory()
    kb.ingest("kb", load_paths([tmp_path], root=tmp_path))
    assert kb.search("kb", ["尼罗河在哪里"])[0].doc_id == "nile.html"
    assert kb.search("kb", ["Who discovered polonium?"])[0].doc_id == "curie.pdf"


# (file name, text, title, body): a plain file's first line is its title when it is
# short, has no sentence-final punctuation and is followed by a blank line or body text.
@pytest.mark.parametrize(("name", "text", "title", "body"), [
    ("bikes.txt", "Bike Parking Rules\n\nBikes are parked in the basement.\n",
     "Bike Parking Rules", "Bikes are parked in the basement."),
    ("kettle.txt", "云帆K3电水壶说明\n\n云帆K3容量为1.5升。\n", "云帆K3电水壶说明",
     "云帆K3容量为1.5升。"),
    ("bikes.txt", "Bike parking\nBikes are parked in the basement next to the lifts.\n",
     "Bike parking", "Bikes are parked in the basement next to the lifts."),
    ("notes.md", "Bike Parking Rules\n\nBikes are parked in the basement.\n",
     "Bike Parking Rules", "Bikes are parked in the basement."),
    # not a title line: a sentence, a lone line, a list, a long line
    ("bikes.txt", "Bikes are parked in the basement.\n\nThe racks are free.\n", "bikes",
     "Bikes are parked in the basement.\n\nThe racks are free.\n"),
    ("bikes.txt", "Bikes go in the basement\n", "bikes", "Bikes go in the basement\n"),
    ("fruit.txt", "Apples\nPears\nPlums\n", "fruit", "Apples\nPears\nPlums\n"),
    ("long.txt", "x" * 81 + "\n\nBody.\n", "long", "x" * 81 + "\n\nBody.\n"),
    # a heading or a front matter title wins, and the text stays as it is
    ("notes.md", "Intro\n\n# Parking\n\nBikes go in the basement.\n", "Parking",
     "Intro\n\n# Parking\n\nBikes go in the basement.\n"),
    ("notes.md", "---\ntitle: Parking\n---\nBike rules\n\nBikes go in the basement.\n",
     "Parking", "Bike rules\n\nBikes go in the basement.\n"),
])
def test_a_plain_file_is_titled_by_its_title_line(
    tmp_path: Path, name: str, text: str, title: str, body: str
) -> None:
    write(tmp_path / name, text)
    (document,) = load_paths([tmp_path / name], root=tmp_path)
    assert (document.title, document.text) == (title, body)
