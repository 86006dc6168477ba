"""Search filters: outlet, language, publication dates, files and folders.

A filter is resolved against the article records into the set of article ids it allows; dense search
(Chroma `where`) and keyword search (a BM25 weight mask) are both restricted to that set, so a filter
narrows what is searched rather than dropping hits after the fact.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import RagError


class BadFilter(RagError):
    """A filter value that cannot mean anything: unknown language code, malformed date."""


class NoMatchingArticles(RagError):
    """The filters are valid but no indexed article passes them (not an abstention on the question)."""


# ISO 639-1: the two-letter codes. A code outside this list is a typo, not a language we lack.
# fmt: off
ISO_639_1 = frozenset([
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm",
    "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee",
    "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu",
    "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is",
    "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw",
    "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms",
    "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os",
    "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl",
    "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi",
    "yo", "za", "zh", "zu",
])
# fmt: on

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_day(value: str | date, *, end: bool, what: str) -> date:
    """'2025-11-04', '2025-11' or '2025' as a day; a month or year means its first day, or its last
    day when `end` (so `--until 2025-11` includes all of November)."""
    if isinstance(value, date):
        return value
    m = _DATE.match(value.strip())
    if not m:
        raise BadFilter(f"malformed date {value!r} for {what}: use YYYY-MM-DD (or YYYY-MM, or YYYY)")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, int(month))[1]
            return date(year, int(month), last if end else 1)
        return date(year, int(month), int(day))
    except ValueError as e:
        raise BadFilter(f"malformed date {value!r} for {what}: {e}") from e


def _strings(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A string is split at commas ("CNN, BBC" typed on a command line is two outlets); a list is taken
    as it is (a UI choice like "Reuters, London" is one name)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(item.strip() for item in value if item and item.strip())


@dataclass(frozen=True)
class Filters:
    """What to search: outlets (whole words of the name or web host, any case), languages (ISO 639-1),
    publication dates (inclusive), files and folders. Empty fields do not filter.

    >>> Filters.parse(sources="CNN", languages="en,sv", since="2025-11", until="2025-11-30")  # doctest: +SKIP
    """

    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    paths: tuple[str, ...] = field(default=())

    @classmethod
    def parse(
        cls,
        sources: str | Iterable[str] | None = None,
        languages: str | Iterable[str] | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        paths: str | Path | Iterable[str | Path] | None = None,
    ) -> Filters:
        """Validated filters from user input; raises BadFilter naming the bad value."""
        langs = tuple(code.lower() for code in _strings(languages))
        for code in langs:
            if code not in ISO_639_1:
                raise BadFilter(
                    f"unknown language code {code!r}: use a two-letter ISO 639-1 code such as en, sv, uk, ru"
                )
        start = parse_day(since, end=False, what="since") if since not in (None, "") else None
        stop = parse_day(until, end=True, what="until") if until not in (None, "") else None
        if start and stop and start > stop:
            raise BadFilter(f"the date range is empty: since {start.isoformat()} is after until {stop.isoformat()}")
        if paths is None or isinstance(paths, (str, Path)):
            path_items = [] if paths in (None, "") else [str(paths)]
        else:
            path_items = [str(p) for p in paths]
        resolved = tuple(str(Path(p).expanduser().resolve()) for p in path_items if p)
        return cls(_strings(sources), langs, start, stop, resolved)

    def __bool__(self) -> bool:
        return bool(self.sources or self.languages or self.since or self.until or self.paths)

    def describe(self) -> str:
        """The filters in words, for messages and for the answer's record."""
        parts = []
        if self.sources:
            parts.append("outlet " + " or ".join(repr(s) for s in self.sources))
        if self.languages:
            parts.append("language " + " or ".join(self.languages))
        if self.since:
            parts.append(f"published on or after {self.since.isoformat()}")
        if self.until:
            parts.append(f"published on or before {self.until.isoformat()}")
        if self.paths:
            parts.append("in " + " or ".join(self.paths))
        return ", ".join(parts) or "no filters"

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "languages": list(self.languages),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "paths": list(self.paths),
        }

    # --- resolving ------------------------------------------------------------------------------
    def allowed(
        self,
        articles: Mapping[str, Mapping[str, Any]],
        copies: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> set[str]:
        """Ids of the articles (id -> metadata: path, source, url, language, published) that pass.
        `copies` (id -> identical copies and near-duplicates, each with path, source, url): an article
        stored once for several files or outlets passes when one of them does.
        Raises NoMatchingArticles, saying which filter emptied the set, when none does."""
        copies = copies or {}
        keep = set(articles)
        if self.sources:
            keep = {a for a in keep if any(self._outlet_matches(m) for m in [articles[a], *copies.get(a, ())])}
            if not keep:
                outlets = sorted({str(m.get("source") or "") for m in articles.values()} - {""})
                raise NoMatchingArticles(
                    f"no articles match these filters: no outlet named {' or '.join(map(repr, self.sources))} "
                    f"(outlets in this index: {_listing(outlets)})"
                )
        if self.languages:
            keep = {a for a in keep if str(articles[a].get("language") or "") in self.languages}
        if self.since or self.until:
            keep = {a for a in keep if self._date_matches(articles[a])}
        if self.paths:
            keep = {
                a
                for a in keep
                if any(self._path_matches(str(m.get("path") or "")) for m in [articles[a], *copies.get(a, ())])
            }
        if not keep:
            undated = sum(not str(m.get("published") or "") for m in articles.values())
            note = (
                f"; {undated:,} of {len(articles):,} articles have no publication date"
                if (self.since or self.until) and undated
                else ""
            )
            raise NoMatchingArticles(f"no articles match these filters ({self.describe()}){note}")
        return keep

    def _outlet_matches(self, meta: Mapping[str, Any]) -> bool:
        """The outlet's name or its web address's host holds the wanted words whole: "kyiv independent"
        matches "The Kyiv Independent", "bbc.co.uk" matches www.bbc.co.uk, "RT" matches neither Reuters
        nor a URL path that contains "article"."""
        names = [str(meta.get("source") or ""), urlsplit(str(meta.get("url") or "")).hostname or ""]
        return any(_whole(want, name) for want in self.sources for name in names if name)

    def _date_matches(self, meta: Mapping[str, Any]) -> bool:
        published = str(meta.get("published") or "")[:10]
        try:
            day = date.fromisoformat(published)
        except ValueError:
            return False  # undated articles cannot be shown to fall inside a date range
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def _path_matches(self, path: str) -> bool:
        return any(path == p or path.startswith((p + "/", p + "#")) for p in self.paths)


def _whole(words: str, text: str) -> bool:
    """`words` occur in `text` as whole words, ignoring case."""
    return _whole_pattern(words).search(text) is not None


@functools.lru_cache(maxsize=256)
def _whole_pattern(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(words.strip())}(?![\w])", re.IGNORECASE)


def _listing(names: list[str], most: int = 12) -> str:
    if not names:
        return "none recorded"
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
