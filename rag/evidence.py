"""Evidence sentences: the sentences of the retrieved passages that best answer the question, and
whether the passages answer it at all.

Two numbers per sentence:
- coverage: the share of the question's meaningful words found in the sentence or its neighbours.
  Words that occur in no indexed article are left out ("what is happening in Myrnohrad": 'happening'
  says nothing about the articles), except names, whose absence is the strongest sign the question is
  about something else. Across languages only names and numbers can be compared, so for a passage in
  another language than the question, only the question's names count.
- score: coverage of the sentence itself mixed with its passage's embedding similarity, for ranking.
The system abstains when the best coverage stays below `min_coverage` (calibrated on seeds_qa).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.ingest.chunk import Span, split_sentences
from rag.ingest.clean import detect_language
from rag.keyword import fold
from rag.support import TermSet, content_terms, coverage
from rag.types import Passage, ScoredPassage
from rag.untrusted import is_instruction

# Ranking: weight of the sentence's own coverage against its passage's similarity, rescaled from
# e5's usual cosine range for related text (0.75 to 0.90) to 0..1.
LEXICAL_WEIGHT = 0.6
_SIM_LOW, _SIM_HIGH = 0.75, 0.90


@dataclass(frozen=True)
class Evidence:
    rank: int  # index of the passage in the retrieved list (0 = best)
    text: str
    start: int  # offsets in the article text
    end: int
    score: float
    coverage: float  # of the question's terms, by this sentence and its neighbours


@dataclass(frozen=True)
class QuestionTerms:
    terms: list[str]  # meaningful words to look for
    names: list[str]  # the capitalised ones among them (proper names)
    language: str


def question_terms(question: str, known: Callable[[str], bool]) -> QuestionTerms:
    words = re.findall(r"[^\W_]+", question)
    names = {fold(w) for w in words[1:] if w[:1].isupper()}
    terms = [t for t in content_terms(question) if t in names or known(t)]
    return QuestionTerms(terms, [t for t in terms if t in names], detect_language(question))


def _similarity_score(similarity: float | None) -> float:
    if similarity is None:
        return 0.0
    return min(1.0, max(0.0, (similarity - _SIM_LOW) / (_SIM_HIGH - _SIM_LOW)))


_DOUBLE_QUOTES = re.compile(r'["“”«»]')
# "...,' he said" / "...," she added": a quotation attributed to a pronoun, named in the sentence before.
_PRONOUN_SPEAKER = re.compile(
    r"(?:[,.!?][\"”’']|,)\s*(he|she|they)\s+(said|added|says|adds|told|wrote|stated|continued)\b", re.I
)


def quotation_bounds(texts: list[str], i: int) -> tuple[int, int]:
    """Sentences to quote with sentence i so the quote stands on its own: a quotation split over
    sentences is kept whole, and "..., he said" takes the sentence before it, which names him."""
    first = last = i
    if len(_DOUBLE_QUOTES.findall(texts[i])) % 2:
        opens = texts[i].lstrip()[:1] in '"“«' and not re.search(r'["”»]\s*\S*\s*\w+ (said|added|says)', texts[i])
        if opens and i + 1 < len(texts):
            last = i + 1
        elif i > 0:
            first = i - 1
    if first == i and i > 0 and _PRONOUN_SPEAKER.search(texts[i]):
        first = i - 1
    return first, last


def quotations(text: str, spans: list[Span], offset: int) -> list[Span]:
    """For each sentence span of `text` (which starts at `offset`), the span of its whole quotation."""
    texts = [text[s.start - offset : s.end - offset] for s in spans]
    bounds = (quotation_bounds(texts, i) for i in range(len(spans)))
    return [Span(spans[first].start, spans[last].end) for first, last in bounds]


_Context = tuple[str, int, list[Span], list[Span]]


def _context(p: Passage, article_text: Callable[[str], str | None], cache: dict[str, _Context]) -> _Context:
    """(text, its offset in the article, its sentences, their quotations) to quote from: the whole
    article when at hand, else the passage alone."""
    if p.article_id not in cache:
        full = article_text(p.article_id) or ""
        spans = split_sentences(full)
        cache[p.article_id] = (full, 0, spans, quotations(full, spans, 0))
    context = cache[p.article_id]
    if context[0][p.start : p.end] == p.text:
        return context
    spans = split_sentences(p.text, offset=p.start)
    return p.text, p.start, spans, quotations(p.text, spans, p.start)


def rank_evidence(
    question: str,
    passages: list[ScoredPassage],
    known: Callable[[str], bool],
    article_text: Callable[[str], str | None] = lambda _: None,
) -> list[Evidence]:
    """All sentences of `passages`, best first; sentences repeated by chunk overlap appear once.

    `known(term)` tells whether a word occurs anywhere in the index; `article_text(article_id)` gives
    the whole article, so a quote can reach past its passage's edge (None: stay inside the passage).
    """
    q = question_terms(question, known)
    seen: set[tuple[str, int]] = set()
    scored: list[Evidence] = []
    cache: dict[str, _Context] = {}
    for rank, sp in enumerate(passages):
        p = sp.passage
        base, offset, spans, quotes = _context(p, article_text, cache)
        texts = [base[s.start - offset : s.end - offset] for s in spans]
        # An instruction to the model is never evidence, nor context that lifts a neighbour's coverage.
        injected = [is_instruction(t) for t in texts]
        texts = ["" if bad else t for t, bad in zip(texts, injected, strict=True)]
        other_language = q.language != "und" and p.language not in ("und", q.language)
        terms = q.names if other_language else q.terms
        # Across languages a match on names alone is weaker evidence than a match on all words,
        # but still the best a word match can do there.
        weight = 0.5 + 0.5 * len(q.names) / len(q.terms) if other_language and q.terms else 1.0
        sim = _similarity_score(sp.dense_similarity)
        for i, span in enumerate(spans):
            if span.start < p.start or span.end > p.end or (p.article_id, span.start) in seen:
                continue
            seen.add((p.article_id, span.start))
            start, end = quotes[i].start, quotes[i].end
            if any(injected) and any(b and start <= s.start < end for s, b in zip(spans, injected, strict=True)):
                continue  # the quote would carry the instruction into the answer
            own = coverage(terms, TermSet(texts[i])) if terms else 0.0
            around = coverage(terms, TermSet(" ".join(texts[max(0, i - 1) : i + 2]))) if terms else 0.0
            score = LEXICAL_WEIGHT * own * weight + (1 - LEXICAL_WEIGHT) * sim
            scored.append(Evidence(rank, base[start - offset : end - offset], start, end, score, around))
    scored.sort(key=lambda e: (-e.score, e.rank, e.start))
    return scored
