"""Sources that disagree: two evidence sentences from different articles that contradict each other on
the fact the question asks about.

Two kinds, both recognised conservatively (no disagreement is better than an invented one):
- status: one sentence says a place the question names was captured / has fallen / is lost, the other
  that it holds / is still under control / the attack was repelled / the capture is denied; the
  cue must sit next to the place, with no other name between them ("captured Vuhledar and advanced on
  Pokrovsk" says nothing of Pokrovsk);
- number: the same unit word after different numbers ("1,600 residents" / "2,000 residents"), in
  sentences that both name the places the question names, neither holding the other's number and
  neither contrasting then and now ("once had 30,000 residents").
Only evidence covering the question (coverage >= MIN_COVERAGE) counts, and only articles published
within MAX_DAYS_APART of each other: a later report may simply be newer, not contrary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import combinations

from rag.answer.evidence import Evidence
from rag.answer.support import number_matches
from rag.store.keyword import fold, tokenize
from rag.types import ScoredPassage

MIN_COVERAGE = 0.5
MAX_DAYS_APART = 7
# Only the best-ranked evidence is compared: a contrary sentence far down the list is about something else.
CANDIDATES = 20
# A status cue is about a place at most this many words away.
WINDOW = 6

_LOST = re.compile(
    r"\b(?:captur(?:e|es|ed|ing)|taken|took|seiz(?:e|es|ed|ing)|fell|fallen|falls|"
    r"los(?:t|es|e|ing) control|occupied|overr(?:un|an)|(?:under|in) (?:russian|enemy) (?:control|hands))\b",
    re.IGNORECASE,
)
_HELD = re.compile(
    r"\b(?:hold(?:s|ing)?|held|(?:still|remains?|firmly) (?:in|under) (?:ukrainian |its |their )?control|"
    r"repel(?:s|led|ling)?|repuls(?:e|es|ed|ing))\b",
    re.IGNORECASE,
)
# "denied that Pokrovsk had fallen" holds; a denial of holding is too tangled to take a side on.
_DENIED = re.compile(
    r"\b(?:den(?:y|ies|ied|ying)|reject(?:s|ed|ing)?|refut(?:e|es|ed|ing)|dismiss(?:es|ed|ing)?)\b", re.IGNORECASE
)
# "has not fallen", "was not captured": a lost cue negated is a held one.
_NEGATED_LOST = re.compile(
    r"\b(?:not|never|n't)\s+(?:yet\s+)?(?:been\s+)?(?:captured|taken|fallen|fell|fall|seized|lost)\b", re.IGNORECASE
)
# Then and now: different numbers for different times are no disagreement.
_THEN = re.compile(
    r"\b(?:once|before|previously|formerly|pre-?war|ago|used to|originally|initially|last (?:year|month|week))\b",
    re.IGNORECASE,
)
_TIME_UNITS = frozenset({"year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours"})
_WORD = re.compile(r"[^\W_]+")
# Demonyms and titles are capitalised but name no place: "Ukrainian troops had lost control of Pokrovsk".
_NOT_PLACE = re.compile(r"(?:ian|ish|ese|ean|ians|ans)$|^(?:president|governor|mayor|general|minister)$")


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def question_names(question: str) -> list[str]:
    """Folded capitalised words of the question that may name a place (no question words, no demonyms)."""
    words = [fold(w) for w in _WORD.findall(question) if w[:1].isupper() and tokenize(w) and len(w) > 2]
    return [w for w in words if not _NOT_PLACE.search(w)][:8]


def _names_at(tokens: list[re.Match[str]]) -> list[tuple[int, str]]:
    return [(i, fold(t.group(0))) for i, t in enumerate(tokens) if t.group(0)[:1].isupper()]


def status(sentence: str, place: str) -> str | None:
    """'lost' or 'held' when the sentence says so of `place` (a folded name), else None."""
    tokens = list(_WORD.finditer(sentence))
    names = _names_at(tokens)
    at_place = [i for i, n in names if _same_word(n, place)]
    if not at_place:
        return None

    def about_place(m: re.Match[str]) -> bool:
        cue = next((i for i, t in enumerate(tokens) if t.end() > m.start()), len(tokens) - 1)
        for p in at_place:
            lo, hi = min(p, cue), max(p, cue)
            others = [n for i, n in names if lo < i < hi and not _same_word(n, place) and not _NOT_PLACE.search(n)]
            if hi - lo <= WINDOW and not others:
                return True
        return False

    negated = [m for m in _NEGATED_LOST.finditer(sentence) if about_place(m)]
    plain = _NEGATED_LOST.sub(lambda m: " " * len(m.group(0)), sentence)  # same offsets
    lost = [m for m in _LOST.finditer(plain) if about_place(m)]
    held = negated + [m for m in _HELD.finditer(sentence) if about_place(m)]
    if any(about_place(m) for m in _DENIED.finditer(sentence)):
        return None if held else "held"
    if lost and held:
        return None  # both in one sentence: reported and disputed, no side to take
    return "lost" if lost else "held" if held else None


def _counted(sentence: str) -> dict[str, str]:
    """Unit word -> number for each number directly followed by a word: '1,600 residents'."""
    out: dict[str, str] = {}
    for n, m in number_matches(sentence):
        after = _WORD.match(sentence, m.end() + 1) if sentence[m.end() : m.end() + 1] == " " else None
        unit = fold(after.group(0)) if after else ""
        if unit.isalpha() and len(unit) > 2 and tokenize(unit) and unit not in _TIME_UNITS:
            out.setdefault(unit, n)
    return out


@dataclass(frozen=True)
class _Side:
    """What one evidence sentence says about the question's places, computed once per sentence."""

    article_id: str
    published: date | None
    places: frozenset[str]  # the question's places it names
    status: dict[str, str]  # place -> 'lost' / 'held'
    counted: dict[str, str]  # unit word -> number
    numbers: frozenset[str]
    then: bool


def _day(published: str | None) -> date | None:
    try:
        return date.fromisoformat((published or "")[:10])
    except ValueError:
        return None


def _side(ev: Evidence, passages: list[ScoredPassage], places: list[str]) -> _Side:
    words = {fold(w) for w in _WORD.findall(ev.text)}
    named = frozenset(p for p in places if any(_same_word(p, w) for w in words))
    said = {p: s for p in named if (s := status(ev.text, p))}
    p = passages[ev.rank].passage
    counted = _counted(ev.text)
    found = frozenset(n for n, _ in number_matches(ev.text))
    return _Side(p.article_id, _day(p.published), named, said, counted, found, bool(_THEN.search(ev.text)))


def _contradict(a: _Side, b: _Side, places: list[str]) -> bool:
    if a.article_id == b.article_id or not (a.places & b.places):
        return False
    if a.published and b.published and abs((a.published - b.published).days) > MAX_DAYS_APART:
        return False
    if any({a.status.get(p), b.status.get(p)} == {"lost", "held"} for p in a.places & b.places):
        return True
    # Numbers: both sentences name every place the question names, and speak of the same time.
    if a.places != b.places or len(a.places) != len(places) or a.then or b.then:
        return False
    return any(
        _same_word(ua, ub) and xa != xb and xa not in b.numbers and xb not in a.numbers
        for ua, xa in a.counted.items()
        for ub, xb in b.counted.items()
    )


def find_conflict(
    question: str, evidence: list[Evidence], passages: list[ScoredPassage]
) -> tuple[Evidence, Evidence] | None:
    """The best-ranked pair of evidence sentences from different articles that contradict each other
    on a place the question names, or None."""
    places = question_names(question)
    if not places:
        return None
    candidates = [e for e in evidence if e.coverage >= MIN_COVERAGE][:CANDIDATES]
    sides = {e: _side(e, passages, places) for e in candidates}
    for a, b in combinations(candidates, 2):
        if _contradict(sides[a], sides[b], places):
            return a, b
    return None
