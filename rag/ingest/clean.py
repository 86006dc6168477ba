"""A read document to a clean Article: Unicode repaired, boilerplate gone, title, outlet, date, language found.

Every reader hands over plain text (HTML is extracted in `rag.ingest.formats`), with what it knew about
the article in `meta`; meta wins over what the text says, which wins over the file name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import ftfy

from rag.ingest.boilerplate import LineStats, strip_boilerplate
from rag.ingest.load import RawDocument
from rag.ingest.metadata import (
    article_language,
    find_author,
    find_date,
    parse_date,
    site_from_url,
    title_from_text,
    word_count,
)
from rag.types import Article

CLEANER_VERSION = "2"  # bump when cleaning changes the text, so articles are re-ingested

# Curly quotes are kept: citations quote the article exactly as published.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, explain=False)
# ftfy reads every line it is given (~1 ms per KB); only lines with a trace of something it fixes are
# worth that: UTF-8 read as Latin-1/Windows-1252 ("CafÃ©", "â€™"), HTML entities, control characters,
# byte-order marks, ligatures, full-width letters, replacement characters. `_SUSPECT` (one character
# class, fast) screens the whole text first.
_SUSPECT = re.compile("[\u00c2-\u00f4&\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufb00-\ufb06\uff01-\uff5e\ufffd]")
_NEEDS_FTFY = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|&#?\\w+;|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufb00-\ufb06\uff01-\uff5e\ufffd]"
)
_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\u200b": None, "\ufeff": None})
# Scrapers break "Dr." / "Mr." from the name that follows onto a line of its own: they are rejoined.
_TITLES = {"Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "Gen.", "Col."}


def repair_text(text: str) -> str:
    """Mojibake and stray entities fixed (ftfy), then `normalise_text`; lines stay as they are."""
    # NFC first: a decomposed "Ã" (A + combining tilde) is mojibake too.
    text = unicodedata.normalize("NFC", text)
    if _SUSPECT.search(text):
        lines = text.split("\n")
        text = "\n".join(ftfy.fix_text(line, _FTFY) if _NEEDS_FTFY.search(line) else line for line in lines)
    return normalise_text(text)


def normalise_text(text: str) -> str:
    """NFC, one kind of line break and space, no trailing blanks, at most one empty line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").translate(_BREAKS)
    out: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())  # every run of spaces, tabs and no-break spaces: one space
        if not line:
            if out and out[-1]:
                out.append("")
            continue
        title = len(out) - 1 - (out[-1] == "") if out else -1  # the last non-empty line (one blank at most)
        if title >= 0 and out[title] in _TITLES and (line[0].isalnum() or line[0] == "_"):
            del out[title + 1 :]
            out[title] += " " + line
        else:
            out.append(line)
    return "\n".join(out).strip("\n")


def _meta(doc: RawDocument, key: str) -> str:
    """One meta field, repaired like the text and on one line."""
    value = doc.meta.get(key)
    return " ".join(repair_text(value).split()) if value else ""


def clean_document(doc: RawDocument, lines: LineStats | None = None, min_repeats: int = 3) -> Article:
    """Turn one read document into an Article; its id is the hash of the cleaned text.

    `lines` holds how many articles of the collection contain each short line; with it, a line found in
    `min_repeats` or more is dropped as site boilerplate (see `rag.ingest.boilerplate`).
    """
    full = repair_text(doc.text)
    # Page furniture goes; if the rules leave nothing, keep it all rather than lose an article.
    text = strip_boilerplate(full, lines, min_repeats) or full
    url = _meta(doc, "url")
    return Article(
        id=hashlib.sha256(text.encode()).hexdigest()[:16],
        path=doc.location,
        title=_meta(doc, "title") or title_from_text(text) or doc.path.stem,
        source=_meta(doc, "source") or site_from_url(url),
        url=url,
        # Datelines and bylines are often page furniture, so they are read before boilerplate goes. An
        # export's file name dates the export, not each record in it.
        published=parse_date(_meta(doc, "published")) or find_date(full, "" if doc.key else doc.path.name),
        language=article_language(text),
        text=text,
        sha256=hashlib.sha256(doc.raw).hexdigest(),
        words=word_count(text),
        author=_meta(doc, "author") or find_author(full),
    )
