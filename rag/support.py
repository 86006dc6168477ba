"""Word-level evidence tests shared by evidence ranking and citation checking.

Matching is deliberately simple and language-neutral: folded words, equal or sharing a 5-letter
prefix ('claims' ~ 'claimed', 'Ukrainian' ~ 'ukrainska'), and numbers that must appear verbatim.
"""

from __future__ import annotations

import re

from rag.keyword import fold, tokenize

# Question words and other words that carry no evidence of their own.
_QUESTION_WORDS = set(
    """who whom whose what which when where why how many much did does do is are was were according
    tell me about please name list give there this these those any some can could would should will
    vem vad vilken vilka när var varför hur""".split()
)
_NUMBER = re.compile(r"\d[\d,.\u202f ]*\d|\d")
_PREFIX = 5


def content_terms(text: str) -> list[str]:
    """Folded words that carry meaning (no function or question words), in order, unique."""
    seen: dict[str, None] = {}
    for t in tokenize(text):
        if t not in _QUESTION_WORDS and not t.isdigit():
            seen.setdefault(t, None)
    return list(seen)


def numbers(text: str) -> set[str]:
    """Numbers as written, separators removed: '2,000' and '2 000' both give '2000'."""
    return {re.sub(r"[,.\u202f ]", "", m.group(0)) for m in _NUMBER.finditer(text)}


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


def supports(claim: str, evidence: str | TermSet, min_coverage: float) -> bool:
    """True when `evidence` contains every number of `claim` and at least `min_coverage` of its words."""
    target = evidence if isinstance(evidence, TermSet) else TermSet(evidence)
    if not numbers(claim) <= target.numbers:
        return False
    return coverage(content_terms(claim), target) >= min_coverage
