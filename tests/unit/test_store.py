"""KnowledgeBase against Qdrant local mode: in memory, on disk, and locked by another process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from convrag.errors import UserError
from convrag.knowledge.ingest import SourceDocument
from convrag.knowledge.store import KnowledgeBase, QueryLeg
from convrag.settings import Settings
from tests.conftest import spy_queries

ROOT = Path(__file__).resolve().parents[2]
NAME = "kb"
CORPUS = [
    SourceDocument(
        id="nile",
        title="尼罗河",
        text="尼罗河是非洲东北部的一条大河，自南向北注入地中海。尼罗河全长约6650公里，"
        "是世界上最长的河流之一。古埃及文明就诞生在尼罗河两岸。",
    ),
    SourceDocument(
        id="amazon",
        title="亚马逊河",
        text="亚马逊河位于南美洲北部，是世界上流量最大的河流。亚马逊雨林是地球上最大的热带雨林。",
    ),
    SourceDocument(
        id="yangtze",
        title="长江",
        text="长江是中国最长的河流，发源于青藏高原的唐古拉山脉，流经上海注入东海。三峡大坝建在长江上。",
    ),
    SourceDocument(
        id="curie",
        title="Marie Curie",
        text="Marie Curie was a Polish and French physicist and chemist. She discovered the "
        "elements polonium and radium, and she was the first woman to win a Nobel Prize.",
        metadata={"lang": "en"},
    ),
]


@pytest.fixture
def kb() -> Iterator[KnowledgeBase]:
    base = KnowledgeBase.in_memory()
    base.ingest(NAME, CORPUS)
    yield base
    base.close()


def ids(hits: list[Any]) -> list[str]:
    return [hit.doc_id for hit in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("尼罗河有多长？", "nile"),
        ("古埃及文明诞生在哪里", "nile"),
        ("南美洲的雨林", "amazon"),
        ("三峡大坝建在哪条河上？", "yangtze"),
        ("长江发源于哪里", "yangtze"),
        ("Who discovered polonium?", "curie"),
        ("first woman Nobel Prize", "curie"),
    ],
)
def test_bm25_ranks_the_relevant_document_first(
    kb: KnowledgeBase, query: str, expected: str
) -> None:
    hits = kb.search(NAME, [query], k=3)
    assert hits[0].doc_id == expected
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_hit_carries_payload(kb: KnowledgeBase) -> None:
    (hit,) = kb.search(NAME, ["polonium radium"], k=1)
    assert hit.title == "Marie Curie"
    assert hit.metadata == {"lang": "en"}
    assert "polonium" in hit.text
    assert hit.score > 0 and hit.chunk_id


def test_reingesting_identical_documents_adds_nothing(kb: KnowledgeBase) -> None:
    total = kb.count(NAME)
    report = kb.ingest(NAME, CORPUS)
    assert (report.chunks_added, report.chunks_removed) == (0, 0)
    assert report.chunks_unchanged == report.total_chunks == total
    assert report.documents == len(CORPUS)


def test_changed_document_replaces_its_chunks(kb: KnowledgeBase) -> None:
    before = kb.count(NAME)
    changed = SourceDocument(id="curie", title="Marie Curie", text="She lived in Warsaw.")
    report = kb.ingest(NAME, [changed])
    assert (report.chunks_added, report.chunks_removed, report.chunks_unchanged) == (1, 1, 0)
    assert report.total_chunks == before
    assert "curie" not in ids(kb.search(NAME, ["polonium"]))
    assert ids(kb.search(NAME, ["Warsaw"])) == ["curie"]


def test_long_document_diffs_chunk_by_chunk() -> None:
    kb = KnowledgeBase.in_memory()
    sentences = [f"Sentence {i} talks about river number {i}." for i in range(30)]
    document = SourceDocument(id="long", text=" ".join(sentences))
    first = kb.ingest(NAME, [document], max_tokens=40, overlap_tokens=0, batch_size=2)
    assert first.chunks_added == first.total_chunks > 3
    # Editing the last sentence changes only the last chunk.
    edited = SourceDocument(id="long", text=" ".join([*sentences[:-1], "The end."]))
    second = kb.ingest(NAME, [edited], max_tokens=40, overlap_tokens=0)
    assert (second.chunks_added, second.chunks_removed) == (1, 1)
    assert second.chunks_unchanged == first.total_chunks - 1


def test_search_keeps_the_best_chunk_per_document() -> None:
    kb = KnowledgeBase.in_memory()
    long = SourceDocument(id="long", text=" ".join(f"The Nile fact {i}." for i in range(40)))
    short = SourceDocument(id="short", text="The Nile flows north.")
    kb.ingest(NAME, [long, short], max_tokens=20, overlap_tokens=0)
    assert kb.count(NAME) > 5
    hits = kb.search(NAME, ["Nile"], k=5)
    assert sorted(ids(hits)) == ["long", "short"]
    assert len(kb.search(NAME, ["Nile"], k=1)) == 1


def test_several_queries_are_fused_in_one_qdrant_call(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_queries(kb, monkeypatch)
    hits = kb.search(NAME, ["尼罗河有多长？", "Who discovered polonium?", "的 the"], k=4)
    assert set(ids(hits)[:2]) == {"nile", "curie"}
    (call,) = calls
    assert len(call["legs"]) == 2  # the stopword-only query was dropped


def test_a_tie_in_fused_rank_goes_to_the_earlier_leg() -> None:
    kb = KnowledgeBase.in_memory()
    kb.ingest(NAME, [SourceDocument(id="a", text="Alpha Alpha beta."),
                     SourceDocument(id="b", text="Beta beta alpha.")])
    # Each document is first for one leg and second for the other: an exact RRF tie.
    assert ids(kb.search(NAME, ["alpha", "beta"], k=1)) == ["a"]
    assert ids(kb.search(NAME, ["beta", "alpha"], k=1)) == ["b"]


@pytest.mark.parametrize("make", [KnowledgeBase.in_memory, KnowledgeBase.local_mode])
def test_of_two_tied_chunks_the_one_stored_first_ranks_first(
    make: Callable[[], KnowledgeBase]
) -> None:
    kb = make()
    for doc_id in ("zz-first", "aa-second"):  # ids in the opposite order
        kb.ingest(NAME, [SourceDocument(id=doc_id, text="The same words in both.")])
    assert ids(kb.search(NAME, ["same words"], k=2)) == ["zz-first", "aa-second"]
    kb.close()


def test_strings_and_text_legs_search_alike(kb: KnowledgeBase) -> None:
    queries = ["尼罗河有多长？", "Who discovered polonium?"]
    assert kb.search(NAME, queries, k=4) == kb.search(
        NAME, [QueryLeg(text=q) for q in queries], k=4
    )


def test_leg_weights_decide_the_fused_order(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_queries(kb, monkeypatch)
    nile, curie = "尼罗河有多长？", "Who discovered polonium?"
    heavy_nile = [QueryLeg(text=nile, weight=3.0), QueryLeg(text=curie)]
    heavy_curie = [QueryLeg(text=nile), QueryLeg(text=curie, weight=3.0)]
    assert ids(kb.search(NAME, heavy_nile, k=2)) == ["nile", "curie"]
    assert ids(kb.search(NAME, heavy_curie, k=2)) == ["curie", "nile"]
    assert [leg.weight for leg in calls[-1]["legs"]] == pytest.approx([1.0, 3.0], rel=1e-3)


def test_leg_terms_extend_the_sparse_query(kb: KnowledgeBase) -> None:
    # "polonium" alone finds Curie; a terms-only leg reaches the same document.
    assert ids(kb.search(NAME, [QueryLeg(terms={"polonium": 2.0})], k=1)) == ["curie"]
    # Extra terms pull a text leg towards the document they name.
    assert ids(kb.search(NAME, [QueryLeg(text="河流", terms={"三峡": 5.0})], k=1)) == ["yangtze"]
    assert kb.search(NAME, [QueryLeg(terms={"polonium": 0.0})]) == []


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan")])
def test_a_leg_weight_must_be_positive(weight: float) -> None:
    with pytest.raises(ValueError, match="weight must be positive"):
        QueryLeg(text="x", weight=weight)


@pytest.mark.parametrize("queries", [[], [""], ["the of", "？！"]])
def test_queries_without_terms_find_nothing(kb: KnowledgeBase, queries: list[str]) -> None:
    assert kb.search(NAME, queries) == []


def test_missing_collection_is_a_user_error() -> None:
    kb = KnowledgeBase.in_memory()
    with pytest.raises(UserError, match=r"'nope' does not exist yet: run `convrag ingest PATH`"):
        kb.search("nope", ["Nile"])
    assert not kb.collection_exists("nope")


def test_tenants_are_isolated() -> None:
    kb = KnowledgeBase.in_memory()
    kb.ingest(NAME, [SourceDocument(id="doc", text="Alpha owns the Nile notes.")], tenant="a")
    kb.ingest(NAME, [SourceDocument(id="doc", text="Beta owns the Nile notes.")], tenant="b")
    assert kb.count(NAME) == 2
    for tenant in ("a", "b"):
        for queries in (["Nile"], ["Nile", "notes"]):
            (hit,) = kb.search(NAME, queries, tenant=tenant)
            assert hit.text.lower().startswith("alpha" if tenant == "a" else "beta")
    # Re-ingesting one tenant's document leaves the other tenant's copy alone.
    report = kb.ingest(NAME, [SourceDocument(id="doc", text="Alpha, edited.")], tenant="a")
    assert (report.chunks_added, report.chunks_removed, report.total_chunks) == (1, 1, 2)
    assert [h.text for h in kb.search(NAME, ["Nile"])] == ["Beta owns the Nile notes."]


def test_progress_is_reported_per_document() -> None:
    calls: list[tuple[int, int]] = []
    KnowledgeBase.in_memory().ingest(NAME, CORPUS, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_local_store_persists_across_opens(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "new" / "home")
    kb = KnowledgeBase.open(settings)
    kb.ingest(NAME, CORPUS)
    total = kb.count(NAME)
    kb.close()
    assert (settings.edge_path / NAME).is_dir()
    kb = KnowledgeBase.open(settings)
    try:
        assert kb.count(NAME) == total
        assert kb.search(NAME, ["Who discovered polonium?"])[0].doc_id == "curie"
    finally:
        kb.close()


OPEN_IN_CHILD = """
import sys
from pathlib import Path
from convrag.errors import UserError
from convrag.knowledge.store import KnowledgeBase, QueryLeg
from convrag.settings import Settings
try:
    kb = KnowledgeBase.open(Settings(home=Path(sys.argv[1])))
    print(kb.count("kb"))
    kb.close()
except UserError as error:
    print(error)
    sys.exit(3)
"""


def open_in_another_process(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_CHILD, str(home)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_second_process_gets_a_clear_message_while_the_store_is_held(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    kb = KnowledgeBase.open(settings)
    kb.ingest(NAME, CORPUS)
    try:
        child = open_in_another_process(tmp_path)
    finally:
        kb.close()
    assert child.returncode == 3, child.stderr
    assert child.stdout.strip() == (
        f"The knowledge base at {settings.edge_path} is in use by another convrag process: "
        "stop that process, or set QDRANT_URL to share a Qdrant server."
    )
    assert "Traceback" not in child.stderr
    # Once the first process lets go, the store opens again.
    released = open_in_another_process(tmp_path)
    assert (released.returncode, released.stdout.strip()) == (0, str(len(CORPUS))), (
        released.stderr
    )


def test_a_second_handle_in_the_same_process_gets_the_same_message(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = KnowledgeBase.open(settings)
    first.ingest(NAME, CORPUS)
    second = KnowledgeBase.open(settings)
    try:
        with pytest.raises(UserError, match="is in use by another convrag process"):
            second.search(NAME, ["Nile"])
    finally:
        first.close()
    assert second.search(NAME, ["Who discovered polonium?"])[0].doc_id == "curie"
    second.close()


def test_unreachable_server_is_a_user_error() -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(UserError) as error:
        KnowledgeBase.open(Settings(home=Path("unused"), qdrant_url=url))
    assert str(error.value) == (
        f"Cannot reach the Qdrant server at {url}: start it, fix QDRANT_URL, or unset "
        "QDRANT_URL to use the embedded store."
    )


def test_prune_removes_documents_that_are_gone(kb: KnowledgeBase) -> None:
    kept = [d for d in CORPUS if d.id != "amazon"]
    before = kb.count(NAME)
    report = kb.ingest(NAME, kept, prune=True)
    assert report.chunks_added == 0
    assert report.chunks_removed == before - report.total_chunks > 0
    assert "amazon" not in ids(kb.search(NAME, ["南美洲的雨林"]))
    # Without --prune, a document missing from the run stays.
    again = kb.ingest(NAME, kept[:1])
    assert again.chunks_removed == 0 and again.total_chunks == report.total_chunks


def test_prune_is_scoped_to_the_tenant() -> None:
    kb = KnowledgeBase.in_memory()
    kb.ingest(NAME, [SourceDocument(id="shared", text="Nile notes for everyone.")])
    kb.ingest(NAME, [SourceDocument(id="a1", text="Nile notes of a.")], tenant="a")
    kb.ingest(NAME, [SourceDocument(id="b1", text="Nile notes of b.")], tenant="b")
    report = kb.ingest(NAME, [SourceDocument(id="a2", text="Other notes of a.")], tenant="a",
                       prune=True)
    assert (report.chunks_added, report.chunks_removed, report.total_chunks) == (1, 1, 3)
    assert sorted(ids(kb.search(NAME, ["notes"]))) == ["a2", "b1", "shared"]


def test_delete_removes_a_documents_chunks(kb: KnowledgeBase) -> None:
    before = kb.count(NAME)
    report = kb.delete(NAME, ["curie", "no-such-id"])
    assert report.as_dict() == {
        "collection": NAME, "documents": 1, "chunks_added": 0, "chunks_unchanged": 0,
        "chunks_removed": before - report.total_chunks, "total_chunks": report.total_chunks,
    }
    assert report.chunks_removed > 0
    assert kb.search(NAME, ["polonium"]) == []
    assert kb.delete(NAME, ["curie"]).chunks_removed == 0


def test_delete_only_touches_the_given_tenant() -> None:
    kb = KnowledgeBase.in_memory()
    for tenant in ("a", "b"):
        kb.ingest(NAME, [SourceDocument(id="doc", text=f"Nile notes of {tenant}.")], tenant=tenant)
    assert kb.delete(NAME, ["doc"], tenant="a").chunks_removed == 1
    assert [h.text for h in kb.search(NAME, ["Nile"])] == ["Nile notes of b."]


def test_delete_from_a_missing_collection_is_a_user_error() -> None:
    with pytest.raises(UserError, match="does not exist yet"):
        KnowledgeBase.in_memory().delete("nope", ["x"])


def test_repeated_document_id_is_a_user_error(kb: KnowledgeBase) -> None:
    with pytest.raises(UserError, match="'nile' is given twice"):
        kb.ingest(NAME, [CORPUS[0], CORPUS[0]])


@pytest.mark.parametrize("queries", [["Nile river Egypt"], ["Nile river Egypt", "尼罗河"]])
def test_score_threshold_drops_weak_matches(kb: KnowledgeBase, queries: list[str]) -> None:
    strong = SourceDocument(id="nile", text="The Nile river flows north through Egypt.")
    weak = SourceDocument(id="weak", text="A long text " + "about many other things. " * 30
                          + "It mentions the Nile once.")
    kb.ingest(NAME, [strong, weak])
    scores = {h.doc_id: h.score for h in kb.search(NAME, ["Nile"], k=10)}
    assert {"nile", "weak"} <= set(scores) and scores["weak"] < scores["nile"]
    cut = (scores["weak"] + scores["nile"]) / 2
    assert "weak" in ids(kb.search(NAME, queries, k=10))
    assert "weak" not in ids(kb.search(NAME, queries, k=10, score_threshold=cut))
    assert "nile" in ids(kb.search(NAME, queries, k=10, score_threshold=cut))
    assert ids(kb.search(NAME, queries, k=10, score_threshold=0)) == ids(
        kb.search(NAME, queries, k=10)
    )


@pytest.mark.parametrize("make", [KnowledgeBase.in_memory, KnowledgeBase.local_mode])
def test_indexed_lookups_are_batched_by_document_id(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], KnowledgeBase]
) -> None:
    kb = make()
    # Local mode scans instead; made to behave as a server: look up this run's documents.
    kb.backend.scans = False
    documents = [SourceDocument(id=f"d{i}", text=f"Document number {i}.") for i in range(600)]
    first = kb.ingest(NAME, documents)
    calls: list[Any] = []
    scroll = kb.backend._scroll  # type: ignore[attr-defined]

    def spy(name: str, condition: Any, fields: Any) -> Any:
        calls.append({"scroll_filter": condition})
        return scroll(name, condition, fields)

    monkeypatch.setattr(kb.backend, "_scroll", spy)
    second = kb.ingest(NAME, documents)
    assert (second.chunks_added, second.chunks_unchanged) == (0, first.total_chunks)
    assert len(calls) == 3  # 600 ids in lookups of 256
    assert all(c["scroll_filter"] is not None for c in calls)
