"""Sentence splitting and passage chunking."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from rag.ingest.chunk import chunk_article, split_sentences
from rag.ingest.clean import clean_document
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
