"""Loading, cleaning and chunking: sentence boundaries, offsets, metadata, and every bad file named."""

from __future__ import annotations

import os
import unicodedata
from itertools import pairwise
from pathlib import Path

import pytest

from rag.ingest.chunk import chunk_article, split_sentences
from rag.ingest.clean import clean_document, detect_language, normalise_text
from rag.ingest.load import RawDocument, find_files, read_document
from rag.types import Article, FileProblem

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


# --- split_sentences ----------------------------------------------------------------------------


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Dr. Smith met the No. 1 fan in Kyiv. The U.S. Army said so. Mr. J. Doe left."
    assert sentences(text) == ["Dr. Smith met the No. 1 fan in Kyiv.", "The U.S. Army said so.", "Mr. J. Doe left."]


def test_swedish_abbreviations_do_not_end_sentences() -> None:
    text = "Han nämnde bl.a. Lysychansk och Bilohorivka. Striderna fortsatte."
    assert sentences(text) == ["Han nämnde bl.a. Lysychansk och Bilohorivka.", "Striderna fortsatte."]


@pytest.mark.parametrize("quote", ['"', "'", "”", "»"])
def test_closing_quote_after_full_stop_belongs_to_its_sentence(quote: str) -> None:
    opening = {"”": "“", "»": "«"}.get(quote, quote)
    text = f"He said {opening}we will hold the city.{quote} Then he left."
    assert sentences(text) == [f"He said {opening}we will hold the city.{quote}", "Then he left."]


def test_question_and_exclamation_marks_end_sentences() -> None:
    assert sentences("Has Pokrovsk fallen? Nobody knows! Officials said nothing.") == [
        "Has Pokrovsk fallen?",
        "Nobody knows!",
        "Officials said nothing.",
    ]


def test_line_breaks_end_sentences_even_without_punctuation() -> None:
    text = "Headline without a stop\nFirst sentence. Second sentence.\n\nLast paragraph"
    assert sentences(text) == ["Headline without a stop", "First sentence.", "Second sentence.", "Last paragraph"]


def test_decimal_numbers_do_not_end_sentences() -> None:
    assert sentences("Prices rose 2.5 percent in May. Then they fell.") == [
        "Prices rose 2.5 percent in May.",
        "Then they fell.",
    ]


def test_sentence_offsets_point_into_the_text_and_are_trimmed() -> None:
    text = "  First one.   Second one?\n\n  Third, with “quotes.” \n"
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == ["First one.", "Second one?", "Third, with “quotes.”"]
    assert all(text[s.start : s.end] == text[s.start : s.end].strip() for s in spans)
    assert [s.start for s in spans] == sorted(s.start for s in spans)


def test_offset_argument_shifts_spans() -> None:
    text = "One here. Two there."
    plain, shifted = split_sentences(text), split_sentences(text, offset=100)
    assert [(s.start + 100, s.end + 100) for s in plain] == [(s.start, s.end) for s in shifted]
    assert sentences(text, offset=100) == ["One here.", "Two there."]


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ") == []


def test_seed_sentences_reassemble_their_article() -> None:
    text = (SEEDS / "000_b89d6b79fc443941.txt").read_text(encoding="utf-8")
    spans = split_sentences(text)
    assert len(spans) > 10
    # Every non-blank character is in exactly one sentence, in order.
    joined = "".join(text[s.start : s.end] for s in spans)
    assert "".join(joined.split()) == "".join(text.split())
    assert all(a.end <= b.start for a, b in pairwise(spans))
    # 'operational encirclement.' closes a quote that ends its sentence.
    assert any(text[s.start : s.end].endswith("'operational encirclement.'") for s in spans)


# --- chunk_article ------------------------------------------------------------------------------


def _long_text() -> str:
    return " ".join(
        f"Sentence number {i} reports that the front near Pokrovsk moved by {i * 7} metres overnight."
        for i in range(1, 40)
    )


@pytest.mark.parametrize(("max_chars", "overlap"), [(200, 0), (200, 1), (450, 2), (900, 1)])
def test_passages_respect_max_chars_and_offsets(max_chars: int, overlap: int) -> None:
    art = article(_long_text())
    passages = chunk_article(art, max_chars=max_chars, overlap_sentences=overlap)
    assert len(passages) > 1
    for i, p in enumerate(passages):
        assert len(p.text) <= max_chars
        assert art.text[p.start : p.end] == p.text
        assert p.id == f"art1:{i}"
        assert (p.article_id, p.path, p.title, p.source, p.published, p.language) == (
            "art1",
            "/news/a.txt",
            "T",
            "S",
            "2025-11-05",
            "en",
        )
    # The passages together cover the whole article.
    assert passages[0].start == 0 and passages[-1].end == len(art.text)


def test_passages_hold_whole_sentences() -> None:
    art = article(_long_text())
    starts = {s.start for s in split_sentences(art.text)}
    ends = {s.end for s in split_sentences(art.text)}
    for p in chunk_article(art, max_chars=250, overlap_sentences=1):
        assert p.start in starts and p.end in ends


def test_overlap_repeats_last_sentences_of_previous_passage() -> None:
    art = article(_long_text())
    spans = split_sentences(art.text)
    for overlap in (1, 2):
        passages = chunk_article(art, max_chars=300, overlap_sentences=overlap)
        for prev, nxt in pairwise(passages):
            prev_sents = [s for s in spans if prev.start <= s.start and s.end <= prev.end]
            next_sents = [s for s in spans if nxt.start <= s.start and s.end <= nxt.end]
            assert next_sents[:overlap] == prev_sents[-overlap:]


def test_no_overlap_gives_adjacent_passages() -> None:
    art = article(_long_text())
    spans = split_sentences(art.text)
    passages = chunk_article(art, max_chars=300, overlap_sentences=0)
    for prev, nxt in pairwise(passages):
        following = next(s for s in spans if s.start >= prev.end)
        assert nxt.start == following.start


def test_sentence_longer_than_max_chars_stands_alone() -> None:
    long_sentence = "The report lists " + ", ".join(f"village {i}" for i in range(60)) + "."
    text = f"Short opening. {long_sentence} Short ending."
    art = article(text)
    passages = chunk_article(art, max_chars=120, overlap_sentences=0)
    assert [p.text for p in passages] == ["Short opening.", long_sentence, "Short ending."]
    assert len(passages[1].text) > 120
    assert all(art.text[p.start : p.end] == p.text for p in passages)


def test_short_article_is_one_passage() -> None:
    art = article("Only one sentence here. And a second.")
    passages = chunk_article(art, max_chars=900, overlap_sentences=1)
    assert [(p.text, p.start, p.end) for p in passages] == [("Only one sentence here. And a second.", 0, 37)]


def test_seed_passages_point_into_cleaned_article() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        doc = read_document(path)
        assert isinstance(doc, RawDocument)
        art = clean_document(doc)
        passages = chunk_article(art, max_chars=900, overlap_sentences=1)
        assert passages
        for p in passages:
            assert art.text[p.start : p.end] == p.text
            assert len(p.text) <= 900 or len(split_sentences(p.text)) == 1


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


# --- find_files / read_document: bad input ------------------------------------------------------


def _only_problem(items: list[Path | FileProblem]) -> FileProblem:
    assert len(items) == 1, items
    assert isinstance(items[0], FileProblem), items
    return items[0]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    p = _only_problem(list(find_files([missing])))
    assert p.path == str(missing)
    assert str(p) == f"{missing}: no such file or folder"


def test_folder_without_supported_files_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / ".hidden.txt").write_text("hidden text")
    p = _only_problem(list(find_files([folder])))
    assert str(p).startswith(f"{folder}: ")
    assert "no supported files" in p.reason and ".txt" in p.reason


def test_unsupported_suffix_is_a_problem(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    p = _only_problem(list(find_files([pdf])))
    assert str(p) == f"{pdf}: unsupported file type '.pdf'"


def test_folder_is_searched_recursively_sorted_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/z.txt", "a.HTML", "b/c.md", "skip.pdf", ".git/x.txt", "d.htm"):
        (tmp_path / name).write_text("text")
    found = list(find_files([tmp_path]))
    assert found == [tmp_path / "a.HTML", tmp_path / "b/c.md", tmp_path / "b/z.txt", tmp_path / "d.htm"]


def test_binary_file_renamed_txt_is_a_problem(tmp_path: Path) -> None:
    fake = tmp_path / "photo.txt"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    p = read_document(fake)
    assert isinstance(p, FileProblem)
    assert str(p).startswith(f"{fake}: ")
    assert "binary" in p.reason


def test_invalid_utf8_is_a_problem(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Café in Malmö".encode("latin-1"))
    p = read_document(latin)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{latin}: invalid UTF-8 (byte 0xe9 at offset 3)"


@pytest.mark.parametrize("content", [b"", b"   \n\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_file_is_a_problem(tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(content)
    p = read_document(empty)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{empty}: empty file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret article text.")
    locked.chmod(0)
    try:
        p = read_document(locked)
    finally:
        locked.chmod(0o644)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{locked}: permission denied"


def test_unreadable_file_is_a_problem_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret article text.")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    p = read_document(locked)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{locked}: permission denied"


def test_too_large_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.ingest.load as load

    monkeypatch.setattr(load, "MAX_FILE_BYTES", 10)
    big = tmp_path / "big.txt"
    big.write_text("x" * 11)
    p = read_document(big)
    assert isinstance(p, FileProblem)
    assert str(p).startswith(f"{big}: file too large (11 bytes")


def test_good_file_is_read_with_kind_and_bom_removed(tmp_path: Path) -> None:
    good = tmp_path / "story.htm"
    good.write_bytes("\ufeff<p>Kyiv</p>".encode())
    doc = read_document(good)
    assert isinstance(doc, RawDocument)
    assert (doc.kind, doc.text, doc.raw) == ("html", "<p>Kyiv</p>", "\ufeff<p>Kyiv</p>".encode())
