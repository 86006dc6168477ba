"""Filters: parsing user input, resolving against article records, and asking through them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rag.app.cli import main
from rag.search.filters import BadFilter, Filters, NoMatchingArticles, parse_day

# Three outlets, two languages, three dates and one undated record, as a JSON Lines export.
RECORDS = [
    {"id": "kyiv-1", "source": "The Kyiv Independent", "date": "2025-11-04", "url": "https://kyivindependent.com/a",
     "title": "Pokrovsk under assault", "text": "Russian troops entered Pokrovsk on Tuesday, officials said. "
     "The garrison is holding the northern districts of Pokrovsk according to the brigade."},
    {"id": "kyiv-2", "source": "The Kyiv Independent", "date": "2025-10-01", "url": "https://kyivindependent.com/b",
     "title": "Pokrovsk in October", "text": "In October the front near Pokrovsk was quiet, the brigade said. "
     "Shelling of Pokrovsk continued at night according to local officials."},
    {"id": "afton-1", "source": "Aftonbladet", "date": "2025-11-05", "url": "https://www.aftonbladet.se/c",
     "title": "Striderna om Pokrovsk", "text": "Ryska trupper har gått in i Pokrovsk enligt ukrainska källor. "
     "Försvararna håller fortfarande de norra delarna av staden Pokrovsk, säger brigaden."},
    {"id": "wire-1", "source": "Wire", "url": "https://wire.example/d",
     "title": "Undated Pokrovsk note", "text": "A wire note about Pokrovsk without any date at all in it. "
     "It says the roads to Pokrovsk are under drone fire and that supplies are short."},
]  # fmt: skip


def write_records(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return path


@pytest.fixture
def news_index(tmp_path: Path, make_index: Any) -> Any:
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(write_records(tmp_path / "lib"))
    assert len(report.new) == 4, report.summary()
    return idx


def outlets_of(passages: list[Any]) -> set[str]:
    return {sp.passage.source for sp in passages}


# --- parsing -------------------------------------------------------------------------------------


def test_dates_month_and_year_cover_their_whole_period() -> None:
    assert parse_day("2025-11-04", end=False, what="since") == date(2025, 11, 4)
    assert parse_day("2025-11", end=False, what="since") == date(2025, 11, 1)
    assert parse_day("2025-11", end=True, what="until") == date(2025, 11, 30)
    assert parse_day("2024-02", end=True, what="until") == date(2024, 2, 29)
    assert parse_day("2025", end=True, what="until") == date(2025, 12, 31)


@pytest.mark.parametrize("bad", ["2025-13-01", "2025-02-30", "yesterday", "04/11/2025", "2025-1-1-1", ""])
def test_malformed_dates_are_clear_errors(bad: str) -> None:
    if bad == "":
        assert Filters.parse(since=bad) == Filters()  # an empty field means no filter
        return
    with pytest.raises(BadFilter, match=r"malformed date .* for since"):
        Filters.parse(since=bad)


def test_unknown_language_code_and_empty_range_are_errors() -> None:
    with pytest.raises(BadFilter, match="unknown language code 'xx'"):
        Filters.parse(languages="en,xx")
    with pytest.raises(BadFilter, match="unknown language code 'english'"):
        Filters.parse(languages=["english"])
    with pytest.raises(BadFilter, match="the date range is empty: since 2025-11-05 is after until 2025-11-04"):
        Filters.parse(since="2025-11-05", until="2025-11-04")


def test_parse_splits_commas_lowercases_codes_and_resolves_paths(tmp_path: Path) -> None:
    f = Filters.parse(sources="CNN, BBC", languages="EN,Sv", paths=tmp_path / "lib" / ".." / "lib")
    assert f.sources == ("CNN", "BBC") and f.languages == ("en", "sv")
    assert f.paths == (str((tmp_path / "lib").resolve()),)
    assert bool(f) and not bool(Filters())
    assert "outlet 'CNN' or 'BBC'" in f.describe() and "language en or sv" in f.describe()


# --- resolving -----------------------------------------------------------------------------------

META = {
    "a": {"source": "The Kyiv Independent", "url": "https://kyivindependent.com/x", "language": "en",
          "published": "2025-11-04", "path": "/lib/kyiv/a.html"},
    "b": {"source": "Aftonbladet", "url": "", "language": "sv", "published": "2025-11-05T08:00:00",
          "path": "/lib/export.jsonl#b"},
    "c": {"source": "", "url": "https://www.bbc.co.uk/news/1", "language": "en", "published": "",
          "path": "/lib/kyivpost.txt"},
}  # fmt: skip


def test_outlet_matches_part_of_the_name_or_the_url_ignoring_case() -> None:
    assert Filters.parse(sources="kyiv independent").allowed(META) == {"a"}
    assert Filters.parse(sources="bbc.co.uk").allowed(META) == {"c"}
    assert Filters.parse(sources="aftonbladet,bbc").allowed(META) == {"b", "c"}


def test_dates_are_inclusive_and_undated_articles_fall_outside_a_range() -> None:
    assert Filters.parse(since="2025-11-04", until="2025-11-04").allowed(META) == {"a"}
    assert Filters.parse(since="2025-11-05").allowed(META) == {"b"}  # a timestamp counts by its day
    assert Filters.parse(until="2025-12").allowed(META) == {"a", "b"}


def test_paths_match_a_file_a_folder_or_an_export_but_not_a_name_prefix() -> None:
    assert Filters(paths=("/lib/kyiv",)).allowed(META) == {"a"}  # not /lib/kyivpost.txt
    assert Filters(paths=("/lib/export.jsonl",)).allowed(META) == {"b"}
    assert Filters(paths=("/lib",)).allowed(META) == {"a", "b", "c"}


def test_no_match_names_the_filters_and_unknown_outlets_list_the_known_ones() -> None:
    with pytest.raises(NoMatchingArticles, match=r"no articles match these filters \(language uk\)"):
        Filters.parse(languages="uk").allowed(META)
    with pytest.raises(NoMatchingArticles, match=r"no outlet named 'Reuters' .*Aftonbladet, The Kyiv Independent"):
        Filters.parse(sources="Reuters").allowed(META)


# --- through the index ---------------------------------------------------------------------------


def test_search_and_ask_only_see_the_filtered_articles(news_index: Any) -> None:
    q = "Who is holding Pokrovsk?"
    assert len(outlets_of(news_index.search(q))) >= 2  # unfiltered, several outlets compete
    only_sv = news_index.search(q, filters=Filters.parse(languages="sv"))
    assert outlets_of(only_sv) == {"Aftonbladet"}
    november = news_index.search(q, filters=Filters.parse(since="2025-11", until="2025-11-30"))
    assert {sp.passage.published for sp in november} == {"2025-11-04", "2025-11-05"}
    answer = news_index.ask(
        "What did the brigade say about Pokrovsk?",
        backend="extractive",
        filters=Filters.parse(sources="kyiv", until="2025-10-31"),
    )
    assert {c.passage.title for c in answer.citations} == {"Pokrovsk in October"}
    assert answer.source_note.startswith("Sources: [1] The Kyiv Independent, 1 October 2025")


def test_filters_matching_nothing_say_so_instead_of_abstaining(news_index: Any) -> None:
    with pytest.raises(NoMatchingArticles, match="no articles match these filters"):
        news_index.ask("Who is holding Pokrovsk?", backend="extractive", filters=Filters.parse(since="2030"))
    with pytest.raises(NoMatchingArticles, match="no outlet named 'BBC'"):
        news_index.search("Pokrovsk", filters=Filters.parse(sources="BBC"))


def test_outlets_and_languages_list_what_the_index_holds(news_index: Any) -> None:
    assert news_index.outlets() == ["Aftonbladet", "The Kyiv Independent", "Wire"]
    assert "sv" in news_index.languages() and "en" in news_index.languages()


def test_cli_filters_and_their_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rag_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")
    index = str(tmp_path / "idx")
    assert main(["ingest", str(write_records(tmp_path / "lib")), "--index", index, "--quiet"]) == 0
    base = ["ask", "Who holds the northern parts of Pokrovsk?", "--index", index, "--backend", "extractive"]
    capsys.readouterr()
    assert main([*base, "--json", "--lang", "sv", "--source", "aftonbladet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["source"] for c in data["citations"]} == {"Aftonbladet"}
    assert data["source_note"] == "Sources: [1][2] Aftonbladet, 5 November 2025, in Swedish, quoted in the original."
    assert main([*base, "--lang", "xx"]) == 2
    assert "rag ask: error: unknown language code 'xx'" in capsys.readouterr().err
    assert main([*base, "--since", "2025-13-01"]) == 2
    assert "malformed date '2025-13-01' for since" in capsys.readouterr().err
    assert main([*base, "--source", "Reuters"]) == 2
    assert "no articles match these filters: no outlet named 'Reuters'" in capsys.readouterr().err
    assert main([*base, "--path", str(tmp_path / "elsewhere")]) == 2
    assert "no articles match these filters (in " in capsys.readouterr().err


def test_outlet_words_must_be_whole_and_ui_choices_are_not_split() -> None:
    meta = {
        "r": {"source": "Reuters", "url": "https://www.reuters.com/article/invasion-1"},
        "t": {"source": "RT", "url": "https://rt.com/news/1"},
        "l": {"source": "Reuters, London", "url": ""},
    }
    assert Filters.parse(sources="RT").allowed(meta) == {"t"}  # not Reuters, not ".../article/..."
    with pytest.raises(NoMatchingArticles):
        Filters.parse(sources="invasion").allowed(meta)  # a URL's path is not the outlet
    assert Filters.parse(sources=["Reuters, London"]).allowed(meta) == {"l"}  # a list item is one name


def test_a_filter_sees_articles_another_writer_added_since(tmp_path: Path, make_index: Any) -> None:
    reader = make_index(tmp_path / "idx")
    (tmp_path / "en.txt").write_text("Russian troops entered Pokrovsk on Tuesday, officials in Kyiv said today.")
    reader.ingest(tmp_path / "en.txt")
    assert reader.outlets() == [] and reader.search("Pokrovsk", filters=Filters.parse(languages="en"))
    writer = make_index(tmp_path / "idx")
    write_records(tmp_path / "lib")
    writer.ingest(tmp_path / "lib")
    assert "Aftonbladet" in reader.outlets()
    hits = reader.search("Pokrovsk", filters=Filters.parse(languages="sv"))
    assert {sp.passage.source for sp in hits} == {"Aftonbladet"}
    hits = reader.search("Pokrovsk", filters=Filters.parse(languages="en"))
    assert "sv" not in {sp.passage.language for sp in hits}


def test_path_filter_counts_identical_copies_in_the_folder(tmp_path: Path, make_index: Any) -> None:
    text = "Russian troops entered Pokrovsk on Tuesday, officials in Kyiv said on Wednesday morning."
    for folder in ("A", "B"):
        (tmp_path / "lib" / folder).mkdir(parents=True)
        (tmp_path / "lib" / folder / "x.txt").write_text(text)
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(tmp_path / "lib")
    assert len(report.new) == 1 and len(report.duplicates) == 1
    hits = idx.search("Pokrovsk", filters=Filters.parse(paths=tmp_path / "lib" / "B"))
    assert hits and hits[0].passage.text.startswith("Russian troops")


def test_filtered_dense_search_is_exact_and_agrees_with_unfiltered_search(news_index: Any) -> None:
    store = news_index.store
    q = news_index.embedder.embed_query("Who holds the northern parts of Pokrovsk?")
    everything = set(store.article_records())
    unfiltered = [(p.id, round(sim, 5)) for p, sim in store.dense_search(q, 3)]
    through_table = [(p.id, round(sim, 5)) for p, sim in store.dense_search(q, 3, everything)]
    assert through_table == unfiltered
    one = next(iter(everything))
    hits = store.dense_search(q, 10, {one})
    assert hits and {p.article_id for p, _ in hits} == {one}
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert store.dense_search(q, 10, {"no-such-article"}) == []


def test_undated_articles_are_mentioned_when_a_date_range_matches_nothing(news_index: Any) -> None:
    with pytest.raises(NoMatchingArticles, match="1 of 4 articles have no publication date"):
        news_index.search("Pokrovsk", filters=Filters.parse(since="2031"))
