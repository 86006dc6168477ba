"""What a citation shows besides the quote: title, outlet, publication date, author, language, length.

Each finder reads plain text (and the file name); `clean_document` asks the reader's meta first and
falls back to these.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any
from urllib.parse import urlparse

# --- language -----------------------------------------------------------------------------------

_MIN_LETTERS = 20  # below this no detector is better than a guess
_LANG_SAMPLE = 600  # characters classified: plenty for a language; py3langid walks them one by one (~1.5 µs each)
_MIN_CONFIDENCE = 0.5


@functools.cache
def _identifier() -> Any:
    """py3langid's model ships inside the package; it takes about a second to load, so load it once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # Only ISO 639-1 languages: the model also knows dialects and 3-letter codes ("pcm", "zxx") that
    # mislabel short English news items and would not match a --lang filter.
    identifier.set_languages([c for c in identifier.nb_classes if len(c) == 2])
    return identifier


def article_language(text: str) -> str:
    """ISO 639-1 code of an article's language (py3langid), or 'und' for too little text or no clear winner.

    For whole articles; short questions use `rag.ingest.clean.detect_language` (function words), which
    needs no model and copes with a dozen words better than a character n-gram model does.
    """
    sample = text[:_LANG_SAMPLE]
    if sum(map(str.isalpha, sample)) < _MIN_LETTERS:
        return "und"
    lang, confidence = _identifier().classify(sample)
    return str(lang) if confidence >= _MIN_CONFIDENCE else "und"


# --- words and title ----------------------------------------------------------------------------

_NOT_WORDS = frozenset(["—", "–", "-", "•", "·", "|", "/", "&", "*", "+", "=", "…", "#", "~", "»", "«", ">", "<"])


def word_count(text: str) -> int:
    """Words as a reader counts them: "Russia's", "house-to-house", "2,000" and "U.S." are one each;
    dashes and bullets standing alone are none. (Splitting on spaces is ten times faster than a regex.)"""
    tokens = text.split()
    return len(tokens) - sum(map(_NOT_WORDS.__contains__, tokens))


def title_from_text(text: str) -> str:
    """A headline-like line near the top (5+ words, short, no full stop), else the first line, cut."""
    lines = [line for line in text.split("\n")[:40] if line.strip()]
    for line in lines:
        if len(line.split()) >= 5 and len(line) <= 150 and not line.rstrip().endswith((".", ":", "?", "!")):
            return line
    first = lines[0] if lines else ""
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "..."


def site_from_url(url: str) -> str:
    """The outlet a URL belongs to, as its host without 'www.' ('' when there is none)."""
    try:
        host = urlparse(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


# --- author -------------------------------------------------------------------------------------

_NAME = r"[A-ZÅÄÖÉ][\w.'’-]+(?: (?:[A-ZÅÄÖÉ][\w.'’-]+|de|van|von|der|da|di|del|la|le|bin|al))*"
_BYLINE = re.compile(
    rf"^(?:By|Av|Von|Par|Written by)\s+({_NAME}(?:(?: and| och| und| et| &) {_NAME})*)\s*(?:[,|•·—–-].*)?$"
)


def find_author(text: str, top_lines: int = 15) -> str:
    """The names of a byline ("By Jane Doe and John Roe, Reuters") in the first lines, else ''."""
    for line in text.split("\n")[:top_lines]:
        m = _BYLINE.match(line.strip())
        if m and len(m.group(1).split()) <= 8:
            return m.group(1)
    return ""


# --- publication date ---------------------------------------------------------------------------

_MONTH_NAMES = {
    # English, with the usual abbreviations
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    # Swedish
    "januari": 1, "februari": 2, "mars": 3, "maj": 5, "juni": 6, "juli": 7, "augusti": 8, "oktober": 10,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "dezember": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "avril": 4, "juin": 6, "juillet": 7, "août": 8, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
}  # fmt: skip
_MONTH = "(?P<month>" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)"
_DATE_FORMS = [
    re.compile(rf"(?<!\d){_YEAR}-(?P<mnum>[01]?\d)-{_DAY}(?!\d)"),  # 2025-11-04, 2025-11-04T10:00Z
    re.compile(rf"(?<!\d){_YEAR}/(?P<mnum>[01]?\d)/{_DAY}(?!\d)"),  # 2025/11/04
    re.compile(rf"(?<![\d.]){_DAY}\.(?P<mnum>[01]?\d)\.{_YEAR}(?!\d)"),  # 04.11.2025 (day first, as in Europe)
    re.compile(rf"(?i)(?<!\w){_DAY}(?:\.|er|st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}(?!\d)"),  # 4 November 2025
    re.compile(rf"(?i)(?<!\w){_MONTH}\s+{_DAY}(?:st|nd|rd|th)?,?\s+{_YEAR}(?!\d)"),  # Nov. 4, 2025
]
# Slashed day/month orders (11/04/2025) are left out: US and European readings disagree.
_FILE_DATE_FORMS = [
    re.compile(rf"(?<!\d){_YEAR}[-_.](?P<mnum>[01]\d)[-_.]{_DAY}(?!\d)"),  # breitbart_2015-11-11_...
    re.compile(rf"(?<!\d){_YEAR}(?P<mnum>[01]\d)(?P<day>[0-3]\d)(?!\d)"),  # 20251104
]
_PUBLISHED = re.compile(
    r"(?i)\b(?:published|first published|posted|publicerad|publicerat|veröffentlicht|publié|publiée)\b"
)
_UPDATED = re.compile(
    r"(?i)\b(?:updated|last updated|modified|uppdaterad|uppdaterat|aktualisiert|mis à jour|mise à jour)\b"
)
_ANY_YEAR = re.compile(r"(?:19|20)\d\d")
_TOP_LINES = 15
_TOP_CHARS = 1500
# A dateline's date stands in a segment of its own ("By Jane Doe | Nov. 4, 2025", "KYIV, Nov 4, 2025
# (Reuters) - ..."), with at most a place, a weekday or a time beside it.
_SEGMENT_SEPARATORS = re.compile(r"\s[|•·—–-]\s|\s{2,}")
_DATELINE_WORDS = 3
_QUOTES = re.compile(r"[\"“”«»„]")


def _valid(year: int, month: int, day: int) -> str | None:
    if not 1900 <= year <= dt.date.today().year + 1:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:  # 31 February, month 13, day 0
        return None


def _dates_in(text: str, forms: list[re.Pattern[str]]) -> list[tuple[int, int, str]]:
    """(start, end, ISO date) of every valid date written in one of `forms`, in reading order."""
    found = []
    for form in forms:
        for m in form.finditer(text):
            g = m.groupdict()
            month = int(g["mnum"]) if g.get("mnum") else _MONTH_NAMES[g["month"].lower()]
            iso = _valid(int(g["year"]), month, int(g["day"]))
            if iso:
                found.append((m.start(), m.end(), iso))
    return sorted(found)


def parse_date(value: str) -> str | None:
    """The first date written in `value` as YYYY-MM-DD (for meta fields such as '2025-11-05T10:00:00Z')."""
    found = _dates_in(value, _DATE_FORMS)
    return found[0][2] if found else None


def _dateline(line: str, start: int, end: int) -> bool:
    """The date at line[start:end] is a dateline's: its segment has few other words, no quotation and no
    @handle (an embedded post ends "— Jane Doe (@jane) September 1, 2016")."""
    before = _SEGMENT_SEPARATORS.split(line[:start])[-1]
    after = _SEGMENT_SEPARATORS.split(line[end:])[0]
    others = [w for w in f"{before} {after}".split() if any(c.isalpha() for c in w)]
    return len(others) <= _DATELINE_WORDS and not _QUOTES.search(before + after) and "@" not in before + after


def find_date(text: str, filename: str = "") -> str | None:
    """Publication date (YYYY-MM-DD) from the top of the text, else from the file name, else None.

    Only the first 15 lines (1,500 characters) are read, where datelines and "Published ..." lines live.
    There a date counts if the words just before it say published or updated, or it stands as a dateline:
    in a segment of its line (split at | • — -) with at most three other words and no quotation. A date in
    a sentence ("On July 6, 2015, Sanders said:", "Oct. 31, 2012 The Obama “hug.”") is about an event,
    not the article, and is skipped. Published beats a dateline, which beats updated.
    """
    kinds: dict[str, str] = {}
    for line in text[:_TOP_CHARS].split("\n")[:_TOP_LINES]:
        line = line.strip()
        if not _ANY_YEAR.search(line):
            continue  # most lines: no year, no date (and the month-name patterns are slow)
        previous_end = 0
        for start, end, iso in _dates_in(line, _DATE_FORMS):
            label = line[previous_end:start]  # "Published:", "| Updated" ... between this date and the last
            previous_end = end
            if _PUBLISHED.search(label):
                kinds.setdefault("published", iso)
            elif _UPDATED.search(label):
                kinds.setdefault("updated", iso)
            elif _dateline(line, start, end):
                kinds.setdefault("plain", iso)
    for kind in ("published", "plain", "updated"):
        if kind in kinds:
            return kinds[kind]
    in_name = _dates_in(filename, _FILE_DATE_FORMS)
    return in_name[0][2] if in_name else None
