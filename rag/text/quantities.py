"""Numbers as values, however a news text writes them: '2,000', '2 000', '1.5 million', '$181m',
'six', 'twenty-five', 'fourth', '4th', '80%', '80 per cent', '10-15', and whether the text says a
number is approximate ('over', 'about', 'nearly', 'more than').

The citation checks compare values: '2,000' = 'two thousand' ≠ '20,000'; '1.5' ≠ '15'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# fmt: off
_UNITS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "dozen": 12,
    # Swedish
    "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "åtta": 8, "nio": 9, "tio": 10,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_ORDINALS = {
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
    "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "twentieth": 20,
}
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
           "m": 1e6, "mn": 1e6, "bn": 1e9, "b": 1e9, "k": 1e3, "tn": 1e12, "miljoner": 1e6, "miljarder": 1e9,
           "tusen": 1e3, "miljon": 1e6, "miljard": 1e9}
# Words that say the number next to them is not exact.
_APPROXIMATE = ("over", "about", "around", "nearly", "almost", "roughly", "approximately", "some", "more than",
                "less than", "fewer than", "at least", "up to", "close to", "upwards of", "just over",
                "just under", "under", "above", "below", "estimated", "an estimated", "circa", "cirka", "omkring",
                "drygt", "nästan", "ungefär", "över", "mer än", "knappt", "minst", "etwa", "fast", "über", "rund",
                "in excess of", "well over", "several")
# fmt: on
COUNT_WORDS = frozenset(k for k, v in _UNITS.items() if v <= 10)
# "One" and "first"/"second" are left out on purpose: "one of the largest", "at first", "a second term"
# are not counts, and a summary often words them differently from its source.
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_ORDINALS], key=len, reverse=True))
_SCALE = "|".join(sorted(_SCALES, key=len, reverse=True))
_DIGITS = r"\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+(?![\d.,]\d)|\d+(?:[.,]\d+)?"
_NUMBER = re.compile(
    rf"(?P<digits>{_DIGITS})(?:\s?(?P<ord>st|nd|rd|th)\b)?(?:\s?(?P<dscale>{_SCALE})\b)?"
    rf"|\b(?P<word>(?:{'|'.join(_TENS)})[- ](?:{'|'.join(k for k in _UNITS if _UNITS[k] < 10)})|{_WORD})\b"
    rf"(?:\s(?P<wscale>hundred|thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_APPROX_BEFORE = re.compile(
    r"(?:\b(?:" + "|".join(re.escape(a) for a in sorted(_APPROXIMATE, key=len, reverse=True)) + r")\W{0,3}|~\s?)$",
    re.IGNORECASE,
)
_MONTHS = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|januari|februari|mars|juni|juli|augusti|oktober)"
)
_MONTH_BEFORE = re.compile(_MONTHS + r"\.?\s+$", re.IGNORECASE)
_MONTH_AFTER = re.compile(r"(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r"\b", re.IGNORECASE)
# Relative error allowed for a number the text calls approximate ('over $181 million' for $181,674,817).
APPROXIMATE_TOLERANCE = 0.12


@dataclass(frozen=True)
class Quantity:
    value: float
    text: str  # as written
    start: int
    end: int
    approximate: bool  # the text says it is not exact
    month: str = ""  # the month named beside it ('November 4', '4 November'): a day of that month


def _digits_value(text: str) -> float:
    grouped = re.fullmatch(r"\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+", text)
    if grouped:
        return float(re.sub(r"[,\u202f\u00a0 ]", "", text))
    return float(text.replace(",", "."))


def _word_value(word: str) -> float:
    w = word.lower().replace("-", " ")
    if " " in w:
        tens, unit = w.split()
        return _TENS[tens] + _UNITS[unit]
    return float(_UNITS.get(w) or _TENS.get(w) or _ORDINALS[w])


def quantities(text: str) -> list[Quantity]:
    """Every number in `text` with its value; a range '10-15' gives two."""
    out = []
    for m in _NUMBER.finditer(text):
        if m.group("digits"):
            value = _digits_value(m.group("digits"))
            scale = m.group("dscale")
            # '5m' is five million only beside money or a scale word, '5 m' may be metres: keep it plain.
            if scale and scale.lower() in ("m", "b", "k") and not re.search(r"[$€£]\s?$", text[: m.start()]):
                scale = None
        else:
            value = _word_value(m.group("word"))
            scale = m.group("wscale")
        if scale:
            value *= _SCALES[scale.lower()]
        approximate = bool(_APPROX_BEFORE.search(text[max(0, m.start() - 20) : m.start()].rstrip("$€£ ")))
        month = _MONTH_BEFORE.search(text[max(0, m.start() - 12) : m.start()]) or _MONTH_AFTER.match(text[m.end() :])
        out.append(
            Quantity(value, m.group(0), m.start(), m.end(), approximate, month.group(1)[:3].lower() if month else "")
        )
    return out


def same_quantity(claimed: Quantity, stated: Quantity) -> bool:
    """True when `stated` backs `claimed`: equal values, or close ones where the claim says it is
    approximate ('over $181 million' for '$181,674,817'). A day of a month is backed only by that day
    of that month: 'November 4' not by 'four months'."""
    if claimed.month and stated.month != claimed.month:
        return False
    if claimed.value == stated.value:
        return True
    if claimed.approximate:
        big = max(abs(claimed.value), abs(stated.value))
        return big > 0 and abs(claimed.value - stated.value) / big <= APPROXIMATE_TOLERANCE
    return False
