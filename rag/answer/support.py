"""Word-level helpers shared by evidence ranking, who-claims answers and the support checks: content
terms, folded word sets with 5-letter prefixes ('claims' ~ 'claimed'), numbers as written, and the
capitalised names of a sentence. Whether a sentence is supported is rag.answer.judgement's job.
"""

from __future__ import annotations

import re

from rag.store.keyword import fold, tokenize

# Question words and other words that carry no evidence of their own.
# fmt: off
_QUESTION_WORDS = frozenset({
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "many", "much", "did", "does",
    "do", "is", "are", "was", "were", "according", "tell", "me", "about", "please", "name", "list", "give",
    "there", "this", "these", "those", "any", "some", "can", "could", "would", "should", "will", "vem",
    "vad", "vilken", "vilka", "när", "var", "varför", "hur",
})
# fmt: on
# A number: digits grouped in thousands ("2,000", "2 000"), or plain digits with an optional decimal part.
# ", " is a list separator, not a thousands separator: "November 4, 80 soldiers" holds 4 and 80.
_NUMBER = re.compile(r"\d{1,3}(?:[,\u202f ]\d{3})+(?![\d.,]\d)|\d+(?:[.,]\d+)?")
_PREFIX = 5


def content_terms(text: str) -> list[str]:
    """Folded words that carry meaning (no function or question words), in order, unique."""
    seen: dict[str, None] = {}
    for t in tokenize(text):
        if t not in _QUESTION_WORDS and not t.isdigit():
            seen.setdefault(t, None)
    return list(seen)


def number_matches(text: str) -> list[tuple[str, re.Match[str]]]:
    """Each number in `text` with its match: written form normalised ('2,000' and '2 000' give '2000';
    '1.5' and '1,5' give '1.5', never '15')."""
    out = []
    for m in _NUMBER.finditer(text):
        n = m.group(0)
        grouped = re.fullmatch(r"\d{1,3}(?:[,\u202f ]\d{3})+", n)
        out.append((re.sub(r"[,\u202f ]", "", n) if grouped else n.replace(",", "."), m))
    return out


def numbers(text: str) -> set[str]:
    """Numbers as written, thousands separators removed ('2,000' and '2 000' give '2000'); decimals
    keep their point ('1.5' and '1,5' give '1.5', never '15')."""
    return {n for n, _ in number_matches(text)}


def _key(term: str) -> str:
    return term[:_PREFIX] if len(term) >= _PREFIX else term


class TermSet:
    """The words of a text, ready for 'does it contain this term?' checks."""

    def __init__(self, text: str) -> None:
        words = {fold(w) for w in re.findall(r"[^\W_]+", text)}
        self.exact = words
        self.prefixes = {_key(w) for w in words if len(w) >= _PREFIX}
        self.numbers = numbers(text)

    def has(self, term: str) -> bool:
        return term in self.exact or (len(term) >= _PREFIX and _key(term) in self.prefixes)


def coverage(terms: list[str], target: TermSet) -> float:
    """Share of `terms` found in `target` (1.0 when there are no terms)."""
    if not terms:
        return 1.0
    return sum(target.has(t) for t in terms) / len(terms)


# A capitalised first word is a name when a name or a verb of saying follows it ("Hetman claimed …",
# "Oleksiy Hetman said …"): the speaker must match. Otherwise it may just start the sentence.
# fmt: off
_SPEECH = frozenset({
    "said", "says", "claimed", "claims", "told", "tells", "stated", "states", "wrote", "writes", "added", "adds",
    "argued", "argues", "reported", "reports", "confirmed", "confirms", "denied", "denies", "accused", "accuses",
    "called", "calls", "insisted", "insists", "warned", "warns", "noted", "notes", "announced", "announces",
    "alleged", "alleges", "asserted", "asserts", "believes", "believed", "thinks", "thought",
})
_NOT_NAMES = frozenset({
    "he", "she", "they", "it", "we", "i", "you", "his", "her", "their", "its", "our", "this", "that", "these",
    "those", "there", "here", "a", "an", "the", "but", "and", "yet", "also", "however", "meanwhile", "then", "so",
    "both", "all", "some", "many", "most", "several", "no", "yes",
})
# fmt: on


def names(text: str) -> list[str]:
    """Folded capitalised words: the names a sentence is about ('Kyiv', 'Monday'); the first word only
    when it starts a name or names the speaker."""
    words = re.findall(r"[^\W\d_]+", text)
    found = [fold(w) for w in words[1:] if w[:1].isupper()]
    first_is_name = len(words) > 1 and words[0][:1].isupper() and fold(words[0]) not in _NOT_NAMES
    if first_is_name and tokenize(words[0]) and (words[1][:1].isupper() or words[1].lower() in _SPEECH):
        found.insert(0, fold(words[0]))
    return found
