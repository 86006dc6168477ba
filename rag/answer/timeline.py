"""A who-claims answer's claims on a timeline: one point per claim, dated by the claim's own words
("on November 4", "on Monday", "yesterday", read against its article's date) or else by the article's
publication date, on the side the answer put it ("claims" or "the other side"), pointing at its source
card `[n]`. A claim with neither date is kept as an undated point, never dropped.

Only the claims of a who-claims answer have a side (`Claim.stance`, set by rag.answer.who); an ordinary
answer has no timeline.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from rag.types import Answer, Claim, TimelinePoint

__all__ = ["CLAIMS", "OTHER_SIDE", "TimelinePoint", "claim_date", "split_undated", "timeline_points"]

CLAIMS = "claims"
OTHER_SIDE = "other side"
# Claim.stance (rag.answer.who) -> the side shown.
_SIDES = {"supports": CLAIMS, "counter": OTHER_SIDE}
MAX_CLAIM_CHARS = 140

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for m in names
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_DAY = re.compile(r"\b([a-z]+)\.?\s+(\d{1,2})(?:,?\s+(\d{4}))?\b")  # November 4, 2025
_DAY_MONTH = re.compile(r"\b(\d{1,2})\s+([a-z]+)\.?(?:\s+(\d{4}))?\b")  # 4 November 2025


def _iso(text: str | None) -> date | None:
    m = _ISO.search(text or "")
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _calendar(month: str, day: str, year: str | None, published: date | None) -> date | None:
    """'November 4' read in its article's year; a date after the article belongs to the year before."""
    if month not in _MONTHS or (year is None and published is None):
        return None
    try:
        if year is not None:
            return date(int(year), _MONTHS[month], int(day))
        assert published is not None
        found = date(published.year, _MONTHS[month], int(day))
        return found if found <= published + timedelta(days=1) else found.replace(year=published.year - 1)
    except ValueError:  # "February 30", "February 29" in a year without it
        return None


def claim_date(words: str | None, published: date | None) -> date | None:
    """The day a claim's date words name, read against its article's publication date: "November 4"
    (in the article's year), "4 November 2025", "2025-11-04", "Monday" (the last Monday up to the
    article's day), "last Monday", "yesterday". None for a vague span ("last week") or without a date."""
    text = " ".join((words or "").lower().split())
    if not text:
        return None
    if found := _iso(text):
        return found
    for m in _MONTH_DAY.finditer(text):
        if found := _calendar(m.group(1), m.group(2), m.group(3), published):
            return found
    for m in _DAY_MONTH.finditer(text):
        if found := _calendar(m.group(2), m.group(1), m.group(3), published):
            return found
    if published is None:
        return None
    if "yesterday" in text:
        return published - timedelta(days=1)
    for i, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}\b", text):
            back = (published.weekday() - i) % 7
            if back == 0 and re.search(r"\blast\b", text):  # "last Monday" in a Monday's paper
                back = 7
            return published - timedelta(days=back)
    return None


def _short(text: str, limit: int = MAX_CLAIM_CHARS) -> str:
    text = " ".join(text.split()).rstrip(" ,;:")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " …"


def _point(claim: Claim, side: str) -> TimelinePoint:
    p = claim.citation.passage
    published = _iso(p.published)
    own = claim_date(claim.date, published)
    when, source = (own, "claim") if own else (published, "article") if published else (None, "")
    return TimelinePoint(
        n=claim.citation.n,
        stance=side,
        speaker=claim.speaker,
        claim=_short(claim.content),
        outlet=p.source or p.title or p.path,
        date=when,
        date_from=source,
        date_text=claim.date or "",
        speaker_role=claim.speaker_role,
    )


def timeline_points(answer: Answer) -> list[TimelinePoint]:
    """One point per claim of a who-claims answer, oldest first (then by source card); the undated
    ones last, in the answer's order. Empty for an answer whose claims take no side."""
    points = [_point(c, _SIDES[c.stance]) for c in answer.claims if c.stance in _SIDES]
    # sorted() is stable: undated points keep the answer's order.
    return sorted(points, key=lambda p: (p.date is None, p.date or date.min, p.n))


def split_undated(points: list[TimelinePoint]) -> tuple[list[TimelinePoint], list[TimelinePoint]]:
    """(dated points, undated points)."""
    return [p for p in points if p.date is not None], [p for p in points if p.date is None]
