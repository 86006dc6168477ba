"""Sentences with their character offsets: the one splitter ingest, claims, evidence, judgement and
checking all share, so a sentence is the same span wherever it is cut."""

from __future__ import annotations

import re
from dataclasses import dataclass

# End of sentence: terminal punctuation, optional closing quotes/brackets, whitespace, then something that
# starts a sentence. Line breaks always end a sentence (scraped news keeps one paragraph a line).
_BOUNDARY = re.compile(r"""(?<=[.!?…])(["'”’»)\]]*)\s+(?=["'“‘«(\[–—-]?\s?[\w])|\n+""")
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "gov",
    "sen",
    "rep",
    "st",
    "no",
    "vs",
    "jr",
    "sr",
    "inc",
    "corp",
    "co",
    "ltd",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "approx",
    "fig",
    "ca",
    "bl.a",
    "t.ex",
}


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans (offsets into `text` plus `offset`), whitespace trimmed, abbreviations respected."""
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(1) or "")  # closing quotes belong to the sentence they close
        if "\n" not in m.group(0) and _ends_with_abbreviation(text[start:end]):
            continue
        _add(spans, text, start, end, offset)
        start = m.end()
    _add(spans, text, start, len(text), offset)
    return spans


def _ends_with_abbreviation(sentence: str) -> bool:
    last = sentence.rstrip("\"'”’»)]").rsplit(None, 1)[-1] if sentence.strip() else ""
    if not last.endswith("."):
        return False
    word = last[:-1].lower().lstrip("(\"'“‘")
    # "J." (an initial) and "No." before a number are not sentence ends.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _add(spans: list[Span], text: str, start: int, end: int, offset: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        lead = len(chunk) - len(chunk.lstrip())
        spans.append(Span(offset + start + lead, offset + start + lead + len(stripped)))
