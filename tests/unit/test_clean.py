"""Cleaning: read documents to Articles (Unicode repair, meta precedence, title, date, language, words)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from rag.ingest.boilerplate import LineStats
from rag.ingest.clean import CLEANER_VERSION, clean_document, normalise_text, repair_text
from rag.ingest.load import RawDocument, read_document
from rag.ingest.metadata import (
    article_language,
    find_author,
    find_date,
    parse_date,
    site_from_url,
    word_count,
)
from rag.text.languages import detect_language
from rag.text.sentences import split_sentences
from rag.types import Article

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def shared_eval() -> Path | None:
    """The shared evaluation folder (../shared beside the repo, or /work/shared), when it is there."""
    for base in (ROOT.parent / "shared", Path("/work/shared")):
        if (base / "eval").is_dir():
            return base / "eval"
    return None


def sentences(text: str, offset: int = 0) -> list[str]:
    return [text[s.start - offset : s.end - offset] for s in split_sentences(text, offset=offset)]


def raw(path: Path, text: str, kind: str = "text", key: str = "", **meta: str) -> RawDocument:
    return RawDocument(path=path, kind=kind, text=text, raw=text.encode(), key=key, meta=meta)


def seed(name: str) -> Article:
    doc = read_document(SEEDS / name)
    assert isinstance(doc, RawDocument)
    return clean_document(doc)


# --- reader meta to Article fields -----------------------------------------------------------------
# Readers extract HTML (trafilatura), PDF, docx and JSON to plain text plus meta before cleaning, so these
# documents arrive as the HTML reader hands them over: one paragraph a line, meta filled.

EXTRACTED = (
    "Russian forces press on Pokrovsk\n"
    "Fighting continued in Pokrovsk on Tuesday, officials said.\n"
    "The city had 60,000 residents & more before the war."
)


def test_reader_meta_fills_the_article_fields(tmp_path: Path) -> None:
    doc = raw(
        tmp_path / "story.html",
        EXTRACTED,
        kind="html",
        title="Russian forces press on Pokrovsk",
        source="Example News",
        url="https://www.example.com/news/pokrovsk",
        published="2025-11-05T10:00:00Z",
        author="Jane Doe",
    )
    art = clean_document(doc)
    assert art.title == "Russian forces press on Pokrovsk"
    assert art.source == "Example News"
    assert art.published == "2025-11-05"
    assert art.url == "https://www.example.com/news/pokrovsk"
    assert art.author == "Jane Doe"
    assert art.language == "en"
    assert art.path == str(tmp_path / "story.html")
    assert art.text == EXTRACTED


def test_meta_beats_text_which_beats_the_file_name(tmp_path: Path) -> None:
    text = "By John Roe\nPublished 3 November 2025\n" + EXTRACTED
    name = tmp_path / "2025-01-31-power.html"
    with_meta = clean_document(raw(name, text, kind="html", published="2025-11-05", author="Jane Doe"))
    assert (with_meta.published, with_meta.author) == ("2025-11-05", "Jane Doe")
    from_text = clean_document(raw(name, text, kind="html"))
    assert (from_text.published, from_text.author) == ("2025-11-03", "John Roe")
    from_name = clean_document(raw(name, EXTRACTED, kind="html"))
    assert (from_name.published, from_name.author) == ("2025-01-31", "")


def test_without_title_or_source_meta_uses_headline_and_url_host(tmp_path: Path) -> None:
    text = "Kyiv restores power to most districts after strikes\nPower was restored on Monday, the city said."
    art = clean_document(raw(tmp_path / "power.html", text, kind="html", url="https://www.kyivnews.example/power"))
    assert art.title == "Kyiv restores power to most districts after strikes"
    assert art.url == "https://www.kyivnews.example/power"
    assert art.source == "kyivnews.example"


def test_meta_values_are_repaired_and_kept_on_one_line(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "a.json", EXTRACTED, kind="record", key="7", title=" CafÃ© owners\n reopen "))
    assert art.title == "Café owners reopen"


def test_record_path_is_its_location_and_its_file_name_no_date(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "export-2025-11-04.jsonl", EXTRACTED, kind="record", key="rec7"))
    assert art.path == f"{tmp_path / 'export-2025-11-04.jsonl'}#rec7"
    assert art.published is None  # the export's date, not the article's


def test_html_file_read_by_the_reader_is_cleaned_as_text(tmp_path: Path) -> None:
    """The whole path for one HTML file, once `read_document` extracts HTML (rag.ingest.formats)."""
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Russian forces press on Pokrovsk</title>"
        '<meta property="og:site_name" content="Example News"></head><body><article>'
        "<h1>Russian forces press on Pokrovsk</h1>"
        "<p>Fighting continued in Pokrovsk on Tuesday, officials said, as Russian units pushed into the city.</p>"
        "<p>The city had 60,000 residents before the war, and most of them have since fled west.</p>"
        "</article></body></html>"
    )
    doc = read_document(page)
    assert isinstance(doc, RawDocument)
    if "<p>" in doc.text:
        pytest.skip("read_document still returns HTML source; the HTML reader is not in this tree yet")
    art = clean_document(doc)
    assert "<" not in art.text
    assert "Fighting continued in Pokrovsk on Tuesday" in art.text
    assert art.title == "Russian forces press on Pokrovsk"


# --- identity -------------------------------------------------------------------------------------


def test_article_id_hashes_cleaned_text_and_sha256_the_raw_bytes(tmp_path: Path) -> None:
    a = clean_document(raw(tmp_path / "a.txt", "Same story text here.\n"))
    b = clean_document(raw(tmp_path / "b.txt", "Same   story text here.  \r\n\r\n"))
    c = clean_document(raw(tmp_path / "c.txt", "Another story text here.\n"))
    assert a.id == b.id != c.id
    assert a.sha256 != b.sha256
    assert len(a.id) == 16


def test_cleaner_version_is_bumped_for_the_new_cleaning() -> None:
    assert CLEANER_VERSION == "2"


# --- text -----------------------------------------------------------------------------------------


def test_text_title_is_first_headline_like_line(tmp_path: Path) -> None:
    text = (
        "Accessibility links\n"
        "Subscribe\n"
        "Battle For Ukraine's Pokrovsk Escalates As Russian Forces Press On\n"
        "Ukrainian police officers tried to persuade residents to evacuate the town.\n"
    )
    art = clean_document(raw(tmp_path / "a.txt", text))
    assert art.title == "Battle For Ukraine's Pokrovsk Escalates As Russian Forces Press On"
    assert art.source == "" and art.url == "" and art.published is None


def test_text_title_falls_back_to_first_line_cut(tmp_path: Path) -> None:
    first = "This opening sentence is a full sentence and it ends with a full stop. " * 3
    art = clean_document(raw(tmp_path / "a.txt", first.strip() + "\nSecond line here."))
    assert art.title.endswith("...")
    assert len(art.title) <= 120
    assert first.startswith(art.title[:-3])


def test_text_is_nfc_normalised(tmp_path: Path) -> None:
    decomposed = "Cafe\u0301 owners in Malmo\u0308 reopen after the blackout.\nThey said so."
    art = clean_document(raw(tmp_path / "a.txt", decomposed))
    assert unicodedata.is_normalized("NFC", art.text)
    assert "Café" in art.text and "Malmö" in art.text
    assert "\u0301" not in art.text


def test_mojibake_is_repaired_and_curly_quotes_stay(tmp_path: Path) -> None:
    broken = (
        "CafÃ© owners in MalmÃ¶ reopen after the blackout.\n"
        "â€œWe are back,â€\x9d the owner said. Itâ€™s the first time since May.\n"
        "A “quoted” and ‘single-quoted’ phrase stays curly; R&amp;D becomes R&D."
    )
    art = clean_document(raw(tmp_path / "a.txt", broken))
    assert art.text == (
        "Café owners in Malmö reopen after the blackout.\n"
        "“We are back,” the owner said. It’s the first time since May.\n"
        "A “quoted” and ‘single-quoted’ phrase stays curly; R&D becomes R&D."
    )


def test_repair_keeps_line_structure_and_decomposed_mojibake() -> None:
    assert repair_text("one\r\ntwo\u2028three\n\n\n\nfour") == "one\ntwo\nthree\n\nfour"
    assert repair_text("a gun advocate clichA\u0303\u00a9 that") == "a gun advocate cliché that"


def test_title_abbreviation_split_over_lines_is_rejoined(tmp_path: Path) -> None:
    text = (
        "Hospital in Kharkiv treats the wounded\n\n"
        "Dr.\nElena Petrova said the ward was full.\r\nShe asked for blood donors."
    )
    art = clean_document(raw(tmp_path / "a.txt", text))
    assert "Dr. Elena Petrova said the ward was full." in art.text
    assert "Dr.\n" not in art.text
    assert "\r" not in art.text
    assert sentences(art.text)[1] == "Dr. Elena Petrova said the ward was full."


def test_normalise_text_collapses_spaces_and_blank_lines() -> None:
    assert normalise_text("a\u00a0 b\t c  \n\n\n\n d\u200be \n") == "a b c\n\nde"


def test_boilerplate_goes_and_repeated_lines_need_the_collection(tmp_path: Path) -> None:
    story = "The council approved the new budget on Monday after a long debate, officials said.\n"
    docs = [f"Kyiv Daily Menu\n{story}Story {i} has its own second sentence here.\n" for i in range(3)]
    alone = clean_document(raw(tmp_path / "a.txt", docs[0]))
    assert "Kyiv Daily Menu" in alone.text  # one article alone cannot tell a site's menu from a headline
    lines = LineStats()
    for text in docs:
        lines.observe(text)
    art = clean_document(raw(tmp_path / "a.txt", docs[0]), lines, min_repeats=3)
    assert "Kyiv Daily Menu" not in art.text
    assert story.strip() in art.text  # the shared sentence is story: a long body sentence always stays
    assert clean_document(raw(tmp_path / "a.txt", docs[0]), lines, min_repeats=4).text == alone.text


def test_a_document_of_nothing_but_boilerplate_keeps_its_text(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "a.txt", "Share\nSubscribe\nRecommended"))
    assert art.text == "Share\nSubscribe\nRecommended"


def test_words_are_counted(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "a.txt", "Russia's house-to-house fighting left 2,000 dead — officials."))
    assert art.words == 7


# --- the seeds ------------------------------------------------------------------------------------


def test_seed_languages() -> None:
    languages = {p.name: seed(p.name).language for p in sorted(SEEDS.glob("*.txt"))}
    assert languages.pop("002_3c9bcfb2537f8c2b.txt") == "sv"
    assert set(languages.values()) == {"en"}


def test_seeds_qa_evidence_survives_cleaning() -> None:
    """Every evidence string of the seed questions is still in its seed's cleaned text."""
    folder = shared_eval()
    if folder is None or not (folder / "seeds_qa.jsonl").exists():
        pytest.skip("shared/eval/seeds_qa.jsonl is not here")
    texts = {p.name: " ".join(seed(p.name).text.split()) for p in SEEDS.glob("*.txt")}
    missing = []
    for line in (folder / "seeds_qa.jsonl").read_text().splitlines():
        question = json.loads(line)
        for evidence in question.get("evidence", []):
            wanted = " ".join(evidence.split())
            if not any(wanted in texts[source] for source in question["sources"]):
                missing.append((question["id"], evidence))
    assert missing == []


# --- detect_language (questions) ------------------------------------------------------------------


def test_detect_language_english_and_swedish() -> None:
    en = "The governor said that the army has taken full control of the village and that it was a success."
    sv = "Guvernören säger att den ukrainska armén har tagit full kontroll över byn och att det är en framgång."
    assert detect_language(en) == "en"
    assert detect_language(sv) == "sv"


def test_detect_language_undetermined_without_words() -> None:
    assert detect_language("") == "und"
    assert detect_language("12345 67 -- !!") == "und"


# --- metadata -------------------------------------------------------------------------------------


def test_article_language_and_too_little_text() -> None:
    assert article_language("Ryssland har ockuperat Luhansk sedan juli, efter flera månader av strider.") == "sv"
    assert article_language("Russia has occupied Luhansk since July, after months of fighting.") == "en"
    assert article_language("Die Stadt wurde am Montag erneut von russischen Drohnen angegriffen.") == "de"
    assert article_language("") == "und"
    assert article_language("12:30 — OK") == "und"


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("November 4, 2025", "2025-11-04"),
        ("Nov. 4, 2025", "2025-11-04"),
        ("Sept. 14, 2016", "2016-09-14"),
        ("4 November 2025", "2025-11-04"),
        ("2025-11-04", "2025-11-04"),
        ("2025-11-04T10:32:00Z", "2025-11-04"),
        ("04.11.2025", "2025-11-04"),
        ("4 november 2025", "2025-11-04"),  # Swedish
        ("14 maj 2024", "2024-05-14"),
        ("4. November 2025", "2025-11-04"),  # German
        ("4. März 2025", "2025-03-04"),
        ("1er novembre 2025", "2025-11-01"),  # French
        ("4 décembre 2025", "2025-12-04"),
        ("Tue November 4, 2025 10:32 ET", "2025-11-04"),
    ],
)
def test_find_date_formats(written: str, iso: str) -> None:
    assert find_date(f"Headline of the story\n{written}\nThe story starts here and goes on.") == iso


def test_find_date_prefers_published_over_updated() -> None:
    assert find_date("Updated 5 November 2025 | Published 4 November 2025\nText.") == "2025-11-04"
    assert find_date("Title\nPublished: Nov. 3, 2025\nUpdated: Nov. 5, 2025") == "2025-11-03"
    assert find_date("Title\nUpdated: Nov. 5, 2025\nBody text here.") == "2025-11-05"


def test_find_date_skips_impossible_dates_and_event_dates_in_sentences() -> None:
    assert find_date("31.02.2025\n2025-13-01\n30 February 2024") is None
    event = "On 4 November 2025 Russian forces entered the eastern part of the town, the Ukrainian command said."
    assert find_date(event) is None
    late = "\n".join(["A line of story text."] * 20) + "\n4 November 2025"
    assert find_date(late) is None  # below the top of the article: not its dateline


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("By Jane Doe | Nov. 4, 2025", "2025-11-04"),
        ("KYIV, Nov 4, 2025 (Reuters) - Russian forces entered the eastern part of the town.", "2025-11-04"),
        ("Kyiv — Tuesday 4 November 2025, 10:32", "2025-11-04"),
        ("On July 6, 2015, Sanders made the following comment:", None),
        ("Oct. 31, 2012 The Obama “hug.”", None),
        ('<tweet author="@someone" datetime="2015-12-02">#UPDATE FAROOK</tweet>.', None),
        ("Another day in the campaign. — CSPAN (@cspan) September 1, 2016", None),
    ],
)
def test_find_date_takes_datelines_not_dates_in_sentences(line: str, iso: str | None) -> None:
    assert find_date(f"Headline of the story\n{line}\nThe story goes on here.") == iso


def test_find_date_from_the_file_name() -> None:
    assert find_date("No date here.", "breitbart_2015-11-11_the-ninth-circle.txt") == "2015-11-11"
    assert find_date("", "20251104_kyiv.txt") == "2025-11-04"
    assert find_date("", "2025-01-31-power.html") == "2025-01-31"
    assert find_date("", "news-20251304.txt") is None  # month 13
    assert find_date("", "001_c07de3d4340d629a.txt") is None
    assert find_date("Title\n4 November 2025", "2024-01-01-x.txt") == "2025-11-04"  # the text wins


def test_parse_date_reads_meta_values() -> None:
    assert parse_date("2025-11-05T10:00:00+02:00") == "2025-11-05"
    assert parse_date("Wed, 5 Nov 2025 10:00:00 GMT") == "2025-11-05"
    assert parse_date("yesterday") is None


def test_find_author_reads_a_byline() -> None:
    assert find_author("Headline\nBy Jane Doe and John Roe, Reuters\nText.") == "Jane Doe and John Roe"
    assert find_author("Headline\nBy the way, this is not a byline.") == ""


def test_word_count_and_site() -> None:
    assert word_count("Russia's house-to-house fighting: 2,000 dead.") == 5
    assert word_count("") == 0
    assert site_from_url("https://www.rferl.org/a/pokrovsk/1.html") == "rferl.org"
    assert site_from_url("not a url") == ""
