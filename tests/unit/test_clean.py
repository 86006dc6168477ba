"""Cleaning: HTML and text to Articles, Unicode, titles, language."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from rag.ingest.chunk import split_sentences
from rag.ingest.clean import clean_document, detect_language, normalise_text
from rag.ingest.load import RawDocument, read_document
from rag.types import Article

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def sentences(text: str, offset: int = 0) -> list[str]:
    return [text[s.start - offset : s.end - offset] for s in split_sentences(text, offset=offset)]


def article(text: str, path: str = "/news/a.txt") -> Article:
    return Article(
        id="art1",
        path=path,
        title="T",
        source="S",
        url="",
        published="2025-11-05",
        language="en",
        text=text,
        sha256="x",
    )


def raw(path: Path, text: str, kind: str = "text") -> RawDocument:
    return RawDocument(path=path, kind=kind, text=text, raw=text.encode())


# --- clean_document: HTML ------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head>
<title>Page title | Example News</title>
<meta property="og:title" content="Russian forces press on Pokrovsk">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2025-11-05T10:00:00Z">
<meta property="og:url" content="https://www.example.com/news/pokrovsk">
<script>var tracking = "SCRIPT_SECRET";</script>
<style>p { color: red } /* STYLE_SECRET */</style>
</head>
<body>
<nav>Home | World | NAV_SECRET</nav>
<article>
<h1>Russian forces press on Pokrovsk</h1>
<p>Fighting continued in Pokrovsk on Tuesday, officials said.</p>
<p>The city had 60,000 residents &amp; more before the war.</p>
</article>
<aside>Most read: ASIDE_SECRET</aside>
<footer>Copyright 2025 FOOTER_SECRET</footer>
</body></html>
"""


def test_html_drops_scripts_navigation_and_footer(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "story.html", HTML, kind="html"))
    for hidden in ("SCRIPT_SECRET", "STYLE_SECRET", "NAV_SECRET", "ASIDE_SECRET", "FOOTER_SECRET", "<p>", "Page title"):
        assert hidden not in art.text
    assert art.text == (
        "Russian forces press on Pokrovsk\n\n"
        "Fighting continued in Pokrovsk on Tuesday, officials said.\n\n"
        "The city had 60,000 residents & more before the war."
    )


def test_html_meta_fields_are_read(tmp_path: Path) -> None:
    art = clean_document(raw(tmp_path / "story.html", HTML, kind="html"))
    assert art.title == "Russian forces press on Pokrovsk"
    assert art.source == "Example News"
    assert art.published == "2025-11-05"
    assert art.url == "https://www.example.com/news/pokrovsk"
    assert art.language == "en"
    assert art.path == str(tmp_path / "story.html")


def test_html_without_og_uses_title_tag_canonical_host_and_date_in_file_name(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Kyiv  restores power</title>"
        '<link rel="canonical" href="https://www.kyivnews.example/power"></head>'
        "<body><p>Power was restored to most of Kyiv on Monday, the city said.</p></body></html>"
    )
    art = clean_document(raw(tmp_path / "2025-01-31-power.html", html, kind="html"))
    assert art.title == "Kyiv restores power"
    assert art.url == "https://www.kyivnews.example/power"
    assert art.source == "kyivnews.example"
    assert art.published == "2025-01-31"


def test_article_id_hashes_cleaned_text_and_sha256_the_raw_bytes(tmp_path: Path) -> None:
    a = clean_document(raw(tmp_path / "a.txt", "Same story text here.\n"))
    b = clean_document(raw(tmp_path / "b.txt", "Same   story text here.  \r\n\r\n"))
    c = clean_document(raw(tmp_path / "c.txt", "Another story text here.\n"))
    assert a.id == b.id != c.id
    assert a.sha256 != b.sha256
    assert len(a.id) == 16


# --- clean_document: text ------------------------------------------------------------------------


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


# --- detect_language -----------------------------------------------------------------------------


def test_detect_language_english_and_swedish() -> None:
    en = "The governor said that the army has taken full control of the village and that it was a success."
    sv = "Guvernören säger att den ukrainska armén har tagit full kontroll över byn och att det är en framgång."
    assert detect_language(en) == "en"
    assert detect_language(sv) == "sv"


def test_detect_language_undetermined_without_words() -> None:
    assert detect_language("") == "und"
    assert detect_language("12345 67 -- !!") == "und"


def test_swedish_seed_is_detected_as_swedish() -> None:
    doc = read_document(SEEDS / "002_3c9bcfb2537f8c2b.txt")
    assert isinstance(doc, RawDocument)
    assert clean_document(doc).language == "sv"
    doc = read_document(SEEDS / "000_b89d6b79fc443941.txt")
    assert isinstance(doc, RawDocument)
    assert clean_document(doc).language == "en"


