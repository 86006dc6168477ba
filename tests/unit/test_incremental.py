"""Incremental ingest: unchanged files skipped by hash, duplicates, prune, remove, stdin, exports, crash
recovery, the writer lock and the progress line (hashing embedder, real embedded Chroma)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from rag.errors import RagError
from rag.ingest.indexer import ledger_path, writer_lock
from rag.ingest.ledger import Ledger
from rag.store.embed import Vectors
from rag.testing import HashingEmbedder

pytestmark = pytest.mark.usefixtures("rag_env")

MakeIndex = Callable[..., Any]

STORY = (
    "Ukrainian officials said on Tuesday that repairs to the Kharkiv thermal power station would take "
    "months after a Russian missile strike destroyed two of its turbines overnight. The city's mayor, "
    "Ihor Terekhov, said that about 200,000 households were without heating and that mobile boiler "
    "units were being brought in from Poland. Engineers at the plant told reporters that the damage was "
    "the worst since the station was first hit in the spring of 2024, and that spare parts would have to "
    "be made abroad. The regional governor said schools would stay closed until the end of the week.\n"
    "Residents queued for water at pumps in the Saltivka district, where most tower blocks had no power "
    "for a third day. Volunteers handed out blankets and hot meals at a school gym that had been turned "
    "into a shelter, and the city council said it had opened forty such points across the city. A "
    "spokesman for the energy ministry said that the national grid would import more electricity from "
    "the European Union to cover the shortfall during the coming cold spell."
)


class CountingEmbedder(HashingEmbedder):
    """The hashing fake, counting passages; `fail_after` raises mid-run like a killed process would stop."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.passages = 0
        self.fail_after = fail_after

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if self.fail_after is not None and self.passages >= self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        self.passages += len(texts)
        return super().embed_passages(texts)


def open_counting(path: Path, embedder: HashingEmbedder, **settings: Any) -> Any:
    import rag

    return rag.open(path, embedder=embedder, **settings)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def passage_ids_by_article(idx: Any) -> dict[str, int]:
    return dict(idx.store.passage_article_ids())


def assert_consistent(idx: Any) -> None:
    """Chroma, the ledger, the keyword index and the manifest tell the same story: every passage belongs
    to a stored article, every article has passages and exactly one stored location in the ledger (whose
    name its passages carry), no passage twice, keyword ids = Chroma ids, counts agree."""
    by_article = passage_ids_by_article(idx)
    articles = idx.store.articles()
    assert set(by_article) == set(articles)
    ids = [pid for pid, _, _ in idx.store._iter_rows(documents=False)]
    assert len(ids) == len(set(ids))
    ledger = Ledger(ledger_path(idx.settings))
    try:
        assert sorted(aid for aid, _ in ledger.signatures()) == sorted(articles)
        assert not ledger.unfinished() and not ledger.relabels()
        for aid, meta in articles.items():
            stored = [loc for loc in ledger.locations_of(aid) if loc.kind == "stored"]
            assert [loc.location for loc in stored] == [meta["path"]], (aid, ledger.locations_of(aid))
            assert {p.path for p in idx.store.get([f"{aid}:{i}" for i in range(by_article[aid])])} == {meta["path"]}
    finally:
        ledger.close()
    assert sorted(idx.store.keyword_index().ids) == sorted(ids)
    assert idx.store.manifest()["passages"] == len(ids)
    assert idx.store.manifest()["articles"] == len(articles)


def test_unchanged_rerun_reads_no_index_rows_and_loads_no_embedder(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag

    rag.open(tmp_path / "idx", embed={"model": "hashing"}).ingest(seeds)
    idx = rag.open(tmp_path / "idx", embed={"model": "hashing"})  # a fresh process, as it were
    # A re-run decides from the ledger alone: no Chroma rows read, nothing written, no model loaded.
    monkeypatch.setattr(type(idx.store), "_iter_rows", lambda *a, **k: pytest.fail("re-run read the passages"))
    monkeypatch.setattr(type(idx.store), "add", lambda *a, **k: pytest.fail("re-run wrote passages"))
    monkeypatch.setattr(type(idx.store), "commit", lambda *a, **k: pytest.fail("re-run rebuilt the keyword index"))
    again = idx.ingest(seeds)
    assert again.summary().startswith("0 new, 0 updated, 5 unchanged, 0 duplicate, 0 failed;")
    assert idx.embedder._loaded is None


def test_identical_copies_are_stored_once_and_both_files_are_known(tmp_path: Path, make_index: MakeIndex) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.txt", STORY)
    write(docs, "b.txt", STORY)
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(docs)
    assert (len(report.new), len(report.duplicates)) == (1, 1)
    assert str(report.duplicates[0]) == f"{docs / 'b.txt'}: identical to {docs / 'a.txt'}"
    article_id = next(iter(idx.store.articles()))
    assert [(loc.location, loc.kind) for loc in idx.article_locations(article_id)] == [
        (str(docs / "a.txt"), "stored"),
        (str(docs / "b.txt"), "copy"),
    ]
    # The file first stored is removed: the copy takes over and citations name it.
    (docs / "a.txt").unlink()
    pruned = idx.ingest(docs, prune=True)
    assert pruned.removed == [str(docs / "a.txt")]
    assert len(idx.store.articles()) == 1
    assert {p.path for p in idx.store.get([f"{article_id}:0"])} == {str(docs / "b.txt")}
    assert_consistent(idx)


def test_near_duplicate_is_stored_once_and_listed_as_also_published(tmp_path: Path, make_index: MakeIndex) -> None:
    docs = tmp_path / "docs"
    write(docs, "wire.txt", STORY)
    # A syndicated copy: a different headline and a couple of edited words.
    edited = STORY.replace("on Tuesday", "on Tuesday morning").replace("reporters", "journalists")
    write(docs, "outlet.txt", "Kharkiv without heat after strike\n\n" + edited)
    write(docs, "other.txt", "The Odesa port reopened for grain ships on Sunday after a week of repairs.")
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(docs)
    assert sorted(Path(p).name for p in report.new) == ["other.txt", "outlet.txt"]
    (dup,) = report.duplicates
    assert dup.location == str(docs / "wire.txt") and dup.of == str(docs / "outlet.txt")
    assert 0.8 <= dup.similarity < 1.0
    assert "near-duplicate" in str(dup) and "also published" in str(dup)
    assert len(idx.store.articles()) == 2
    kept = next(aid for aid, meta in idx.store.articles().items() if meta["path"].endswith("outlet.txt"))
    assert [loc.kind for loc in idx.article_locations(kept)] == ["stored", "near"]
    # Not one passage of the near-duplicate's own text was stored.
    assert_consistent(idx)


def test_edited_file_replaces_its_own_old_version_instead_of_being_its_duplicate(
    tmp_path: Path, make_index: MakeIndex
) -> None:
    docs = tmp_path / "docs"
    path = write(docs, "a.txt", STORY)
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    path.write_text(STORY.replace("200,000", "210,000"), encoding="utf-8")
    report = idx.ingest(docs)
    assert report.updated == [str(path)] and not report.duplicates
    texts = [idx.store.article_text(aid) for aid in idx.store.articles()]
    assert len(texts) == 1 and "210,000" in (texts[0] or "")
    assert_consistent(idx)


def test_prune_removes_articles_of_deleted_files_only_when_asked(tmp_path: Path, make_index: MakeIndex) -> None:
    docs = tmp_path / "docs"
    write(docs, "keep.txt", "The Odesa port reopened for grain ships on Sunday.")
    gone = write(docs, "gone.txt", STORY)
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    gone.unlink()
    assert idx.ingest(docs).removed == []
    assert len(idx.store.articles()) == 2
    report = idx.ingest(docs, prune=True)
    assert report.removed == [str(gone)]
    assert [m["path"] for m in idx.store.articles().values()] == [str(docs / "keep.txt")]
    assert idx.store.keyword_index().search("Terekhov turbines heating", 5) == []
    assert_consistent(idx)


def test_remove_by_file_folder_location_and_id(tmp_path: Path, make_index: MakeIndex) -> None:
    docs = tmp_path / "docs"
    a = write(docs, "a.txt", STORY)
    write(docs / "sub", "b.txt", "The Odesa port reopened for grain ships on Sunday.")
    write(docs / "sub", "c.txt", "Crews repaired the Kyiv metro bridge on Friday, the mayor said.")
    export = docs / "wire.jsonl"
    export.write_text(
        json.dumps({"id": "r1", "text": "Snow closed the Lviv airport on Monday."})
        + "\n"
        + json.dumps({"id": "r2", "text": "Floods hit Uzhhorod on Tuesday."})
        + "\n"
    )
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    assert len(idx.store.articles()) == 5

    assert idx.remove(a).removed == [str(a)]
    assert idx.remove(docs / "sub").removed == [str(docs / "sub" / "b.txt"), str(docs / "sub" / "c.txt")]
    assert idx.remove(f"{export}#r1").removed == [f"{export}#r1"]
    (remaining,) = idx.store.articles()
    assert idx.remove(remaining).removed == [f"{export}#r2"]
    assert idx.store.count() == 0
    missing = idx.remove(tmp_path / "nowhere.txt")
    assert [p.reason for p in missing.failed] == ["not in the index (no such file, folder, or article id)"]
    # A removed file that still exists comes back with the next ingest.
    assert idx.ingest(a).new == [str(a)]


def test_export_records_change_one_by_one(tmp_path: Path, make_index: MakeIndex) -> None:
    export = tmp_path / "export.jsonl"
    records = [
        {"id": "r1", "source": "CNN", "date": "2020-01-03", "text": "Snow closed the Lviv airport on Monday."},
        {"id": "r2", "source": "USA Today", "date": "2020-01-04", "text": "Floods hit Uzhhorod on Tuesday."},
        {"id": "r3", "source": "CNN", "date": "2020-01-05", "text": "A new bridge opened in Dnipro on Friday."},
    ]
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    idx = make_index(tmp_path / "idx")
    first = idx.ingest(export)
    assert first.new == [f"{export}#r1", f"{export}#r2", f"{export}#r3"]
    meta = {m["path"]: m for m in idx.store.articles().values()}
    assert (meta[f"{export}#r2"]["source"], meta[f"{export}#r2"]["published"]) == ("USA Today", "2020-01-04")

    records[1]["text"] = "Floods hit Uzhhorod and Mukachevo on Tuesday."
    export.write_text("".join(json.dumps(r) + "\n" for r in records[:2]) + "{not json\n")
    report = idx.ingest(export)
    assert report.updated == [f"{export}#r2"]
    assert report.unchanged == [f"{export}#r1"]
    (problem,) = report.failed
    assert str(problem).startswith(f"{export}: line 3: malformed JSON")
    # r3's line is broken now: its old version stays rather than being lost.
    assert f"{export}#r3" in {m["path"] for m in idx.store.articles().values()}

    export.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    assert idx.ingest(export).removed == [f"{export}#r3"]
    assert_consistent(idx)


def test_stdin_text_is_its_own_article(tmp_path: Path, make_index: MakeIndex) -> None:
    idx = make_index(tmp_path / "idx")
    data = STORY.encode()
    report = idx.ingest(stdin=("kharkiv.txt", data))
    assert report.new == ["stdin:kharkiv.txt"]
    assert idx.ingest(stdin=("kharkiv.txt", data)).unchanged == ["stdin:kharkiv.txt"]
    # Pruning never removes piped-in text: there is no file to be gone.
    assert idx.ingest(prune=True).removed == []
    answer = idx.ask("How many households were without heating in Kharkiv?", backend="extractive")
    assert answer.citations[0].passage.path == "stdin:kharkiv.txt"


def test_interrupted_ingest_leaves_a_consistent_index_that_the_next_run_completes(tmp_path: Path, seeds: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(seeds, docs)
    reference = open_counting(tmp_path / "ref", CountingEmbedder())
    reference.ingest(docs)

    crashing = CountingEmbedder(fail_after=12)
    idx = open_counting(tmp_path / "idx", crashing, embed={"model": "hashing", "batch_size": 4})
    with pytest.raises(KeyboardInterrupt):
        idx.ingest(docs)
    # Re-opened as after a kill: whatever was half-written is gone, the rest answers.
    reopened = open_counting(tmp_path / "idx", CountingEmbedder(), embed={"model": "hashing", "batch_size": 4})
    assert_consistent(reopened)
    stored = len(reopened.store.articles())
    assert 0 < stored < 5
    report = reopened.ingest(docs)
    assert len(report.new) == 5 - stored and len(report.unchanged) == stored
    assert_consistent(reopened)
    assert reopened.store.count() == reference.store.count()
    assert sorted(reopened.store.articles()) == sorted(reference.store.articles())


def test_a_second_writer_is_refused(tmp_path: Path, make_index: MakeIndex, seeds: Path) -> None:
    idx = make_index(tmp_path / "idx")
    with writer_lock(idx.settings), pytest.raises(RagError, match="another ingest is writing"):
        idx.ingest(seeds)


def test_changed_cleaner_rereads_files_but_keeps_unchanged_articles(
    tmp_path: Path, make_index: MakeIndex, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index(tmp_path / "idx")
    idx.ingest(seeds)
    monkeypatch.setattr("rag.ingest.indexer.CLEANER_VERSION", "test-next")
    report = idx.ingest(seeds)
    assert len(report.unchanged) == 5 and report.passages_added == 0


def test_progress_shows_files_and_passages_per_second(
    tmp_path: Path, make_index: MakeIndex, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_index(tmp_path / "idx").ingest(seeds, progress=True)
    err = capsys.readouterr().err
    assert "files/s" in err and "passages/s" in err and "5/5 files" in err


def test_citations_list_the_other_outlets_that_published_the_story(tmp_path: Path, make_index: MakeIndex) -> None:
    wire = tmp_path / "wire.jsonl"
    edited = STORY.replace("on Tuesday", "on Tuesday morning")
    wire.write_text(
        json.dumps({"id": "ap-1", "source": "AP", "url": "https://ap.example/1", "date": "2025-11-04", "text": STORY})
        + "\n"
        + json.dumps({"id": "kp-7", "source": "Kyiv Post", "date": "2025-11-05", "text": edited})
        + "\n"
    )
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(wire)
    assert report.new == [f"{wire}#ap-1"] and [d.location for d in report.duplicates] == [f"{wire}#kp-7"]
    answer = idx.ask("How many households were without heating in Kharkiv?", backend="extractive")
    (also,) = answer.citations[0].also_published_by
    assert (also["path"], also["source"], also["published"]) == (f"{wire}#kp-7", "Kyiv Post", "2025-11-05")
    assert 0.8 <= also["similarity"] < 1.0
    assert answer.to_json()["citations"][0]["also_published_by"] == [also]
    assert answer.to_json()["citations"][0]["url"] == "https://ap.example/1"


def test_crash_while_replacing_a_changed_file_loses_neither_version_half_way(
    tmp_path: Path, make_index: MakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    path = write(docs, "a.txt", STORY)
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    path.write_text(STORY.replace("200,000", "210,000"), encoding="utf-8")

    def killed(self: Any, article_id: str) -> None:
        raise KeyboardInterrupt("killed between the ledger and Chroma")

    with monkeypatch.context() as m:
        m.setattr(type(idx.store), "delete_article", killed)
        with pytest.raises(KeyboardInterrupt):
            idx.ingest(docs)
    # The new version is complete; the old one was listed for deletion and goes when the index opens.
    reopened = make_index(tmp_path / "idx")
    assert_consistent(reopened)
    texts = [reopened.store.article_text(aid) or "" for aid in reopened.store.articles()]
    assert len(texts) == 1 and "210,000" in texts[0]
    assert reopened.ingest(docs).summary().startswith("0 new, 0 updated, 1 unchanged")


def test_crash_after_the_ledger_moved_a_location_but_before_chroma_followed(
    tmp_path: Path, make_index: MakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    path = write(docs, "a.txt", STORY)
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    path.write_text(STORY.replace("200,000", "210,000"), encoding="utf-8")

    def killed(self: Any, followups: Any) -> None:
        raise KeyboardInterrupt("killed right after the ledger transaction")

    with monkeypatch.context() as m:
        m.setattr("rag.ingest.indexer._Ingest._follow", killed)
        with pytest.raises(KeyboardInterrupt):
            idx.ingest(docs)
    reopened = make_index(tmp_path / "idx")  # opening finishes the journaled deletion
    assert_consistent(reopened)
    texts = [reopened.store.article_text(aid) or "" for aid in reopened.store.articles()]
    assert len(texts) == 1 and "210,000" in texts[0]
    assert reopened.ask("How many households were without heating?", backend="extractive").citations
    assert "200,000" not in " ".join(p.text for p in reopened.store.get([f"{a}:0" for a in reopened.store.articles()]))


def test_two_files_edited_to_the_same_text_in_one_run_retire_both_old_articles(
    tmp_path: Path, make_index: MakeIndex
) -> None:
    docs = tmp_path / "docs"
    a = write(docs, "a.txt", "The Odesa port reopened for grain ships on Sunday after a week of repairs.")
    b = write(docs, "b.txt", "Snow closed the Lviv airport on Monday, and flights were sent to Rzeszow.")
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    for f in (a, b):
        f.write_text(STORY, encoding="utf-8")
    report = idx.ingest(docs)
    assert report.updated == [str(a)] and [d.location for d in report.duplicates] == [str(b)]
    assert len(idx.store.articles()) == 1
    assert idx.store.keyword_index().search("Odesa port grain", 5) == []
    assert idx.store.keyword_index().search("Lviv airport snow", 5) == []
    assert_consistent(idx)


def test_a_record_id_used_twice_in_an_export_is_reported_and_used_once(tmp_path: Path, make_index: MakeIndex) -> None:
    export = tmp_path / "e.jsonl"
    export.write_text(
        json.dumps({"id": "x", "text": "Snow closed the Lviv airport on Monday."})
        + "\n"
        + json.dumps({"id": "x", "text": "Floods hit Uzhhorod on Tuesday."})
        + "\n"
    )
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(export)
    assert report.new == [f"{export}#x"]
    assert [str(p) for p in report.failed] == [
        f"{export}: record id 'x' appears twice; only the first record with it is used"
    ]
    assert_consistent(idx)


def test_records_without_ids_keep_their_identity_when_a_line_is_inserted(tmp_path: Path, make_index: MakeIndex) -> None:
    export = tmp_path / "e.jsonl"
    lines = [json.dumps({"text": f"Story number {i} about the Dnipro bridges and their repair."}) for i in range(5)]
    export.write_text("\n".join(lines) + "\n")
    idx = make_index(tmp_path / "idx")
    assert len(idx.ingest(export).new) == 5
    export.write_text("\n".join([json.dumps({"text": "A new first story about Kherson."}), *lines]) + "\n")
    report = idx.ingest(export)
    assert (len(report.new), len(report.unchanged), report.updated, report.removed) == (1, 5, [], [])
    assert report.passages_added == 1


def test_near_duplicate_is_indexed_on_its_own_when_its_kept_article_goes(tmp_path: Path, make_index: MakeIndex) -> None:
    docs = tmp_path / "docs"
    kept = write(docs, "a.txt", STORY)
    near = write(docs, "b.txt", "Kharkiv without heat after strike\n\n" + STORY.replace("reporters", "journalists"))
    idx = make_index(tmp_path / "idx")
    first = idx.ingest(docs)
    assert first.new == [str(kept)] and [d.location for d in first.duplicates] == [str(near)]
    kept.write_text("The Odesa port reopened for grain ships on Sunday after a week of repairs.", encoding="utf-8")
    report = idx.ingest(docs)
    # a.txt's new text replaced the article b.txt was listed under: b.txt is now an article itself.
    assert sorted(report.updated + report.new) == sorted([str(kept), str(near)])
    paths = sorted(m["path"] for m in idx.store.articles().values())
    assert paths == [str(kept), str(near)]
    assert idx.ingest(docs).summary().startswith("0 new, 0 updated, 2 unchanged")
    assert_consistent(idx)
    # Removing the kept file likewise gives its near-duplicate an article of its own.
    c = write(docs, "c.txt", STORY.replace("Saltivka", "Saltivskyi"))
    assert [d.location for d in idx.ingest(docs).duplicates] == [str(c)]
    idx.remove(near)
    assert sorted(m["path"] for m in idx.store.articles().values()) == [str(kept), str(c)]
    assert_consistent(idx)


def test_removing_the_stored_file_and_a_copy_together_leaves_the_last_copy_stored(
    tmp_path: Path, make_index: MakeIndex
) -> None:
    docs = tmp_path / "docs"
    write(docs / "sub", "x.txt", STORY)
    write(docs / "sub", "y.txt", STORY)
    z = write(docs, "z.txt", STORY)
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    assert len(idx.remove(docs / "sub").removed) == 2
    (aid,) = idx.store.articles()
    assert [(loc.location, loc.kind) for loc in idx.article_locations(aid)] == [(str(z), "stored")]
    assert_consistent(idx)


def test_changed_cleaner_keeps_a_near_duplicate_a_near_duplicate(
    tmp_path: Path, make_index: MakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.txt", STORY)
    write(docs, "b.txt", "Kharkiv without heat after strike\n\n" + STORY.replace("reporters", "journalists"))
    idx = make_index(tmp_path / "idx")
    idx.ingest(docs)
    monkeypatch.setattr("rag.ingest.indexer.CLEANER_VERSION", "test-next")
    report = idx.ingest(docs)
    assert len(idx.store.articles()) == 1
    assert not report.new and not report.updated
    assert_consistent(idx)
