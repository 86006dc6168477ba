"""Retrieval: fusion, spreading results over articles, recency, and names matched across spellings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.search.retrieve import asks_for_recent, by_recency, reciprocal_rank_fusion, spread_over_articles
from rag.store.keyword import KeywordIndex, entity_term, passage_terms, query_terms
from rag.types import Passage


def test_weighted_fusion_and_a_switched_off_ranking() -> None:
    plain = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=10)
    assert plain["b"] == pytest.approx(1 / 12 + 1 / 11)
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=10, weights=[2.0, 1.0])
    assert weighted["a"] == pytest.approx(2 / 11) and weighted["c"] == pytest.approx(1 / 12)
    assert set(reciprocal_rank_fusion([["a"], ["c"]], k=10, weights=[1.0, 0.0])) == {"a"}


def test_spread_puts_each_articles_best_passage_first_and_keeps_order_otherwise() -> None:
    ranked = ["A:0", "A:1", "B:0", "A:2", "C:3", "B:1"]
    art = lambda pid: pid.split(":")[0]  # noqa: E731
    assert spread_over_articles(ranked, art, 1) == ["A:0", "B:0", "C:3", "A:1", "A:2", "B:1"]
    assert spread_over_articles(ranked, art, 2) == ["A:0", "A:1", "B:0", "C:3", "B:1", "A:2"]
    assert spread_over_articles(ranked, art, 0) == ranked


def test_recency_ranking_and_the_questions_that_ask_for_it() -> None:
    ps = [
        Passage("a:0", "a", "x", 0, 1, published="2025-10-01"),
        Passage("b:0", "b", "x", 0, 1, published=None),
        Passage("c:0", "c", "x", 0, 1, published="2025-11-04T10:00:00"),
    ]
    assert by_recency(ps) == ["c:0", "a:0"]  # undated passages give no evidence of being recent
    for q in ["What is the latest on Pokrovsk?", "Who controls Pokrovsk now?", "what is currently happening",
              "Vad är det senaste om Pokrovsk?", "Хто зараз контролює Покровськ?"]:  # fmt: skip
        assert asks_for_recent(q), q
    for q in ["Who claims Pokrovsk has fallen?", "How many residents remain in Toretsk?", "known facts",
              "Which city did this week's storm hit?", "Who recently resigned?", "заразився"]:  # fmt: skip
        assert not asks_for_recent(q), q


# --- names across spellings ----------------------------------------------------------------------


def test_a_name_is_one_term_in_every_spelling() -> None:
    term = entity_term("Myrnohrad")
    for spelling in ["Myrnohrad", "Mirnograd", "Dimitrov", "Мирноград", "Dymytrov"]:
        assert passage_terms(f"Troops left {spelling} on Monday.") == ["troops", "left", "monday", term], spelling
    # In a question the name may be typed in lower case; the surface word does not count twice.
    assert query_terms("what is happening in mirnograd?") == ["happening", term]
    assert query_terms("What about Kiev and Zelensky?") == ["about", entity_term("Kyiv"), entity_term("Zelensky")]


def test_keyword_search_finds_every_spelling_and_ranks_them_alike() -> None:
    texts = {
        "a:0": "Russian forces shelled Mirnograd overnight.",
        "b:0": "Dimitrov was shelled again, the city council said.",
        "c:0": "Myrnohrad residents left as shelling continued.",
        "d:0": "Toretsk was quiet overnight.",
    }
    index = KeywordIndex.build(list(texts), list(texts.values()))
    hits = dict(index.search("What is happening in Myrnohrad?", 10))
    assert set(hits) == {"a:0", "b:0", "c:0"}
    assert hits["c:0"] <= max(hits["a:0"], hits["b:0"]) * 1.5  # the question's spelling earns no bonus
    assert [pid for pid, _ in index.search("Krasnoarmeysk shelling", 10)] == [
        pid for pid, _ in index.search("shelling", 10)
    ]  # an unknown-to-passages name adds nothing, takes nothing away


def test_a_name_is_known_in_any_spelling_though_indexed_as_an_entity() -> None:
    index = KeywordIndex.build(["a:0"], ["Russian forces shelled Mirnograd overnight."])
    assert index.knows("mirnograd") and index.knows("myrnohrad") and index.knows("dimitrov")
    assert index.knows("shelled") and not index.knows("pokrovsk") and not index.knows("toretsk")


def test_keyword_mask_limits_search_to_allowed_articles() -> None:
    index = KeywordIndex.build(["a:0", "a:1", "b:0"], ["Pokrovsk north", "Pokrovsk south", "Pokrovsk east"])
    assert {pid for pid, _ in index.search("Pokrovsk", 10, allowed_articles={"a"})} == {"a:0", "a:1"}
    assert index.search("Pokrovsk", 10, allowed_articles={"zzz"}) == []


# --- through the index ---------------------------------------------------------------------------

SAME_STORY = "Russian troops pushed into the northern districts of Pokrovsk, the brigade said on {day}."


def test_latest_questions_prefer_newer_articles_and_answers_show_dates(tmp_path: Path, make_index: Any) -> None:
    lines = []
    for i, day in enumerate(["2025-09-01", "2025-10-01", "2025-11-01"]):
        text = SAME_STORY.format(day=day) + f" Report number {i} from the Pokrovsk front with local details."
        lines.append(json.dumps({"id": f"r{i}", "date": day, "source": f"Outlet {i}", "text": text}))
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "reports.jsonl").write_text("\n".join(lines) + "\n")
    # Weight 3 (the dense ranking's) so that recency decides between reports of one story; the default,
    # 1, only reorders closer matches (see the setting's description).
    idx = make_index(tmp_path / "idx", retrieve={"top_k": 3, "recency_weight": 3.0})
    idx.ingest(tmp_path / "lib")
    plain = idx.search("Russian troops in the northern districts of Pokrovsk")
    recent = idx.search("What is the latest on Russian troops in the northern districts of Pokrovsk?")
    assert recent[0].passage.published == "2025-11-01"
    assert [sp.passage.published for sp in recent] == sorted((sp.passage.published for sp in plain), reverse=True)
    answer = idx.ask("Where are Russian troops pushing in Pokrovsk now?", backend="extractive")
    assert answer.citations and answer.citations[0].passage.published == "2025-11-01"
    assert answer.source_note.startswith("Sources: [1] Outlet 2, 1 November 2025")


def test_a_saved_keyword_index_of_another_version_is_rebuilt(
    tmp_path: Path, make_index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index(tmp_path / "idx")
    (tmp_path / "a.txt").write_text("Mirnograd was shelled overnight, officials in the city said on Monday.")
    idx.ingest(tmp_path / "a.txt")
    assert idx.store.keyword_index().search("Myrnohrad", 5)
    import rag.store.chroma
    import rag.store.keyword

    monkeypatch.setattr(rag.store.chroma, "keyword_version", lambda: "another")
    built: list[int] = []
    real_build = rag.store.keyword.KeywordIndex.build
    monkeypatch.setattr(
        rag.store.chroma.KeywordIndex,
        "build",
        classmethod(lambda cls, ids, texts: built.append(1) or real_build(ids, texts)),
    )
    reopened = make_index(tmp_path / "idx")
    assert reopened.store.keyword_index().search("Myrnohrad", 5) and built == [1]


def test_words_of_multi_word_names_are_known() -> None:
    index = KeywordIndex.build(["a:0"], ["Fighting near Chasiv Yar in the Donetsk region went on."])
    assert index.knows("chasiv") and index.knows("yar") and index.knows("donetsk")


def test_name_words_survive_saving_and_loading(tmp_path: Path) -> None:
    index = KeywordIndex.build(["a:0"], ["Fighting near Chasiv Yar went on."])
    index.save(tmp_path / "kw", "s1")
    loaded = KeywordIndex.load(tmp_path / "kw", "s1")
    assert loaded is not None and loaded.knows("chasiv") and KeywordIndex.load(tmp_path / "kw", "s2") is None


def test_passages_deleted_by_a_writer_mid_run_are_skipped_not_a_crash(tmp_path: Path, make_index: Any) -> None:
    idx = make_index(tmp_path / "idx")
    for name, text in [("a", "Zebras crossed the Dnipro near Kherson at dawn."), ("b", "Zebras grazed near Odesa.")]:
        (tmp_path / f"{name}.txt").write_text(text)
    idx.ingest(tmp_path)
    reader = make_index(tmp_path / "idx")
    idx.store.begin_writes()  # a writer starts...
    assert reader.search("zebras Dnipro")  # ...a reader builds its keyword index mid-write (not saved)
    gone = next(a for a, m in idx.store.article_records().items() if str(m["path"]).endswith("a.txt"))
    idx.store.delete_article(gone)
    hits = reader.search("zebras Dnipro")  # the keyword index still lists the deleted passage
    assert all(sp.passage.article_id != gone for sp in hits)
    idx.store.commit()
    assert all(sp.passage.article_id != gone for sp in make_index(tmp_path / "idx").search("zebras Dnipro"))


def test_a_manifest_file_behind_chroma_is_repaired_on_open(tmp_path: Path, make_index: Any) -> None:
    idx = make_index(tmp_path / "idx")
    (tmp_path / "a.txt").write_text("Zebras crossed the Dnipro near Kherson at dawn, officials said.")
    idx.ingest(tmp_path / "a.txt")
    before = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    # As if killed between the Chroma write and the file write of a commit: Chroma moves on alone.
    idx.store._collection.modify(metadata={"rag_manifest": json.dumps({**before, "token": "newer"})})
    assert make_index(tmp_path / "idx").store.manifest()["token"] == "newer"
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["token"] == "newer"


def test_a_question_quoting_a_passage_gives_keyword_search_the_dense_weight() -> None:
    from rag.search.retrieve import quotes_passage

    text = "Hillary Clinton's team avoided taking her to the emergency room after her medical scare on Sunday."
    assert quotes_passage("Who said that Clinton's team avoided taking her to the emergency room?", text, 6, 0.8)
    assert not quotes_passage("Which candidate was treated in hospital after falling ill?", text, 6, 0.8)
    assert not quotes_passage("Clinton emergency room?", text, 6, 0.8)  # too short to be a quotation


def test_quoted_question_finds_its_article_through_keyword_search(tmp_path: Path, make_index: Any) -> None:
    quote = "the committee will publish every invoice from the reconstruction fund before the winter session"
    texts = [f"Officials said {quote}, according to the ministry.", "Other news about funds and sessions today."]
    for i, text in enumerate(texts):
        (tmp_path / f"{i}.txt").write_text(text)
    idx = make_index(tmp_path / "idx")
    idx.ingest(tmp_path)
    retriever = idx.retriever
    keyword = idx.store.keyword_index().search(f"Who said that {quote}?", 5)
    assert retriever._keyword_weight(f"Who said that {quote}?", keyword, []) == retriever.settings.dense_weight
    assert retriever._keyword_weight("Who spoke about funds?", keyword, []) == retriever.settings.keyword_weight
